/* render_outbound: the placeholders of mail that leaves for other sites
 * (issue 11): SRS for what the site forwards (postsrsd's two lookup
 * tables, the Postfix blocks that route forwarded mail through them) and
 * the Postfix client's TLS policy (may or DANE). Set by
 * render_context_for_host(); see docs/admin-manual.md "Forwarded mail (SRS)"
 * and "Outbound TLS". */
#ifndef EMAILNG_RENDER_OUTBOUND_H
#define EMAILNG_RENDER_OUTBOUND_H

#include "render.h"
#include "site.h"

/* postsrsd's TCP lookup tables and the SRS reinjection listener (loopback;
 * the loopback guard lets only Postfix's users in: loopback_guard.h). */
enum { PORT_SRS_FORWARD = 10001, PORT_SRS_REVERSE = 10002, PORT_SRS_REINJECT = 10029,
       PORT_LOCAL_REINJECT = 10028 };
/* Mailing lists (U4): where emailng-list-deliver (user emailng-list; Postfix's
 * pipe cannot give it the postdrop group a public socket needs) hands a
 * list's message back, on every host that expands lists (the stores). */
enum { PORT_LIST_REINJECT = 10037 };

void render_outbound_context(const struct site *site, const struct site_host *host, struct render_context *ctx);

/* The effective TLS level of a host's Postfix client: DANE where asked and,
 * by default, where the host validates DNSSEC itself (its own unbound). */
enum site_outbound_tls render_outbound_tls(const struct site *site, const struct site_host *host);

/* 1 if the host's Postfix asks emailng-tlspolicy (DANE before MTA-STS)
 * rather than mta-sts-daemon directly: a relay with outbound.mta_sts whose
 * client does DANE. With "may" Postfix does no DANE, so there is nothing
 * to give precedence to, and it asks mta-sts-daemon itself. */
int render_outbound_tlspolicy(const struct site *site, const struct site_host *host);

#endif
