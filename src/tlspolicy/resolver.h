/* resolver: decide.h's DNS interface on glibc's libresolv, asking the
 * host's resolver from /etc/resolv.conf as Postfix's smtp client does.
 *
 * Why libresolv: Postfix's DANE trusts the AD bit of that same resolver
 * (smtp_dns_support_level = dnssec, glibc's "options trust-ad"); deciding
 * with the very same view of DNSSEC means our "dane" is exactly the set of
 * domains for which Postfix will find validated TLSA records. libunbound
 * would validate on its own, with its own trust anchors, and could
 * disagree with Postfix. Without trust-ad glibc clears the AD bit: nothing
 * is ever "secure", so nothing gets "dane" (fails towards MTA-STS, which
 * is what the relay did before). Answers are parsed with libresolv's
 * ns_initparse/ns_parserr/dn_expand, not by hand.
 *
 * One resolver per thread (res_nquery's state is not shared). */
#ifndef TLSPOLICY_RESOLVER_H
#define TLSPOLICY_RESOLVER_H

#include "decide.h"

struct dns_resolver;

/* NULL when res_ninit fails (no usable resolv.conf). */
struct dns_resolver *dns_resolver_new(void);
void dns_resolver_free(struct dns_resolver *r);
/* The decide.h interface over it. */
struct resolver dns_resolver_iface(struct dns_resolver *r);

/* Fills out from a raw DNS response (decide.h's meaning); exposed for the
 * unit tests and the fuzz target. 0, or -1 when it cannot be parsed. */
int dns_parse_response(const unsigned char *msg, int len, enum dns_type type, struct dns_result *out);

#endif
