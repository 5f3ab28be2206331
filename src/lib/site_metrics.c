/* site_metrics: see site_metrics.h. */
#include "site_metrics.h"

#include <stddef.h>

void site_metrics_default(struct site_metrics *m)
{
    /* Dovecot's documentation uses 9900 for its stats listener; 9154 is
     * the postfix exporter's own default; 9901 is next to Dovecot's. */
    *m = (struct site_metrics){.enabled = 1, .dovecot_port = 9900, .postfix_port = 9154, .emailng_port = 9901};
}

void site_metrics_take(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"enabled", "dovecot", "postfix", "emailng", NULL};
    enum { N_METRICS_PORTS = 3 };
    struct site_metrics *mt = &site->metrics;
    int *slots[N_METRICS_PORTS] = {&mt->dovecot_port, &mt->postfix_port, &mt->emailng_port};
    const yaml_node_t *given[N_METRICS_PORTS] = {0};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "metrics", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (m.index == 0) {
                (void)ycfg_bool(y, m.value, m.path, &mt->enabled);
                continue;
            }
            if (ycfg_port(y, m.value, m.path, slots[m.index - 1]) == 0)
                given[m.index - 1] = m.value;
        }
    ycfg_map_end(&m);

    /* A metrics port must not be one of the mail services' ports (every
     * host of the small site has them all) nor another metrics port. */
    const struct site_ports *p = &site->ports;
    static const char *const mail_names[] = {"smtp", "submission", "submissions", "imap", "imaps", "pop3",
                                             "pop3s", "managesieve", "lmtp", "quota_status"};
    const int mail_ports[] = {p->smtp, p->submission, p->submissions, p->imap, p->imaps, p->pop3,
                              p->pop3s, p->managesieve, p->lmtp, p->quota_status};
    for (size_t i = 0; i < N_METRICS_PORTS; i++) {
        if (given[i] == NULL)
            continue;
        for (size_t j = 0; j < sizeof mail_ports / sizeof mail_ports[0]; j++)
            if (*slots[i] == mail_ports[j])
                ycfg_report(y, given[i], "metrics.%s: port %d is the port of ports.%s; expected a port no "
                            "mail service uses", keys[i + 1], *slots[i], mail_names[j]);
        for (size_t j = 0; j < N_METRICS_PORTS; j++)
            if (j != i && *slots[i] == *slots[j] && (given[j] == NULL || j < i))
                ycfg_report(y, given[i], "metrics: %s and %s both use port %d", keys[j + 1], keys[i + 1],
                            *slots[i]);
    }
}
