/* loopback_guard: see loopback_guard.h. */
#include "loopback_guard.h"

#include "render_outbound.h"

size_t loopback_guard_services(const struct site *site, const struct site_host *host,
                               struct loopback_service *out, size_t max)
{
    size_t n = 0;
#define ADD(w, p, u)                                                   \
    do {                                                               \
        if (n < max)                                                   \
            out[n++] = (struct loopback_service){(w), (p), (u)};       \
    } while (0)
    /* root stays allowed: emailng's own readiness checks. */
    if ((host->roles & ROLE_RELAY) && site->outbound.srs_enabled) {
        ADD("postsrsd forward table (Postfix's cleanup)", PORT_SRS_FORWARD, "\"root\", \"postfix\"");
        ADD("postsrsd reverse table (Postfix's smtpd, cleanup)", PORT_SRS_REVERSE, "\"root\", \"postfix\"");
        ADD("SRS reinjection listener (Postfix's srs transport)", PORT_SRS_REINJECT, "\"root\", \"postfix\"");
    }
    /* The one-host site: Dovecot's redirects and vacation replies (its
     * lmtp runs as the mail user), and quota-status as policyd asks it. */
    if ((host->roles & ROLE_RELAY) && (host->roles & ROLE_STORE)) {
        ADD("local reinjection listener (Dovecot's Sieve redirects, vacation)", PORT_LOCAL_REINJECT,
            "\"root\", \"vmail\", \"dovecot\"");
        ADD("Dovecot quota-status (emailng-policyd)", site->ports.quota_status, "\"root\", \"emailng-policyd\"");
    }
    /* Mailing lists (U4): only emailng-list-deliver may reinject for a
     * list's members. */
    if (host->roles & ROLE_STORE)
        ADD("mailing lists' reinjection listener (emailng-list-deliver)", PORT_LIST_REINJECT,
            "\"root\", \"emailng-list\"");
#undef ADD
    return n;
}

void loopback_guard_rules(const struct site *site, const struct site_host *host, buf *out)
{
    struct loopback_service svc[8];
    size_t n = loopback_guard_services(site, host, svc, sizeof svc / sizeof svc[0]);
    if (n == 0) {
        buf_append_str(out, "# (no TCP service on loopback here)");
        return;
    }
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s# %s: users %s only\noif \"lo\" tcp dport %d meta skuid != { %s } counter reject with tcp reset",
                   i ? "\n" : "", svc[i].what, svc[i].users, svc[i].port, svc[i].users);
}
