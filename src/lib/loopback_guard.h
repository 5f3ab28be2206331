/* loopback_guard: who may connect to the TCP services a host runs on
 * loopback. Some clients cannot use a unix socket (Postfix's SMTP client,
 * postsrsd 1.10's lookup tables, Dovecot's submission_host, Dovecot's
 * quota-status as policyd asks it), and on loopback any local user could
 * reach them: relay through the SRS reinjection listener, forge SRS
 * addresses, ask who is over quota. The guard is nftables rules on the
 * host's output path (the socket owner, meta skuid): everyone but the
 * daemon users listed gets a TCP reset. Rendered into the placeholder
 * loopback_guard_rules (templates/nftables-local/loopback.nft). */
#ifndef EMAILNG_LOOPBACK_GUARD_H
#define EMAILNG_LOOPBACK_GUARD_H

#include "buf.h"
#include "site.h"

struct loopback_service {
    const char *what;       /* for the comment and status: "postsrsd lookup tables" */
    int port;
    const char *users;      /* nft set elements: quoted user names, e.g. "\"root\", \"postfix\"" */
};

/* The guarded services of host (at most max); returns how many. */
size_t loopback_guard_services(const struct site *site, const struct site_host *host,
                               struct loopback_service *out, size_t max);

/* The nft rules (one per service; a comment when there is none). */
void loopback_guard_rules(const struct site *site, const struct site_host *host, buf *out);

#endif
