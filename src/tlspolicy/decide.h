/* decide: the answer to one smtp_tls_policy_maps lookup (issue 11, S2:
 * DANE takes precedence over MTA-STS where a domain has both).
 *
 *   1. The key is a domain name (not ".parent" or "[host]:port") whose MX
 *      RRset is DNSSEC-validated (or, without MX records, whose validated
 *      answer says so: the domain is its own host), and every MX host
 *      publishes validated TLSA records for port 25 -> "OK dane". Postfix
 *      then does DANE as its default level would (RFC 7672).
 *   2. Otherwise the key goes to mta-sts-daemon and its answer is returned
 *      unchanged (NOTFOUND, OK secure ..., TEMP, PERM); if it cannot be
 *      asked, "TEMP" (fail closed: the mail waits).
 *   A DNS failure (SERVFAIL, timeout) of a lookup that decides whether DANE
 *   applies is "TEMP" too: Postfix's DANE would defer the same way, and an
 *   attacker who makes DNSSEC fail must not get the weaker policy.
 *
 * Only when *every* MX host has validated TLSA records is the answer
 * dane: a policy answer covers the whole domain, and "dane" would let the
 * hosts without TLSA go with opportunistic TLS where the MTA-STS policy
 * demands a verified certificate.
 *
 * The DNS and mta-sts-daemon are interfaces (struct resolver, struct
 * mtasts_source): the unit tests inject fakes; resolver.c and
 * mtasts_client.c are the real ones. */
#ifndef TLSPOLICY_DECIDE_H
#define TLSPOLICY_DECIDE_H

#include <stddef.h>

#include "buf.h"

#define DECIDE_MAX_MX 16        /* MX hosts looked at (the rest: not DANE) */

/* One DNS answer: the status, whether it validated, and the records asked
 * for (MX: the exchange names, in preference order; TLSA: only counted). */
enum dns_status { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL };
enum dns_type { DNS_MX, DNS_TLSA };

struct dns_result {
    enum dns_status status;
    int secure;             /* the resolver's AD bit */
    size_t n;               /* records of the type asked for */
    char **names;           /* DNS_MX: n exchange names (no trailing dot), sorted by preference */
};

struct resolver {
    /* 0 when *out is filled (any status); the callee allocates names. */
    int (*query)(void *ctx, const char *name, enum dns_type type, struct dns_result *out);
    void *ctx;
};

struct mtasts_source {
    /* 0 and answer set (the payload of mta-sts-daemon's netstring), or -1
     * when it could not be asked (err says why). */
    int (*ask)(void *ctx, const char *key, buf *answer, buf *err);
    void *ctx;
};

void dns_result_free(struct dns_result *r);

/* What the answer was, for the log line. */
enum decision_kind { DECISION_DANE, DECISION_MTASTS, DECISION_NONE, DECISION_TEMP };
const char *decision_kind_name(enum decision_kind k);    /* dane, mta-sts, none, temp */

/* The answer for key (without netstring framing) in answer, why in note
 * (for the log: which lookup failed, what mta-sts-daemon said). */
enum decision_kind decide(const char *key, const struct resolver *dns, const struct mtasts_source *sts,
                          buf *answer, buf *note);

/* 1 if key is a DNS domain name: LDH labels of 1..63, 253 bytes at most,
 * at least one dot (Postfix also asks ".parent" and "[host]:port"). */
int decide_is_domain(const char *key);

#endif
