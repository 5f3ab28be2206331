/* spfhelper: runs libspf2 away from the daemon.
 *
 * spf_helper_start() is called as root before the daemon drops its
 * privileges. It forks the helper master, which (optionally) gives itself
 * a private mount namespace with `spf.resolv_conf` bind-mounted over
 * /etc/resolv.conf, drops to `spf.user`, and then serves check requests
 * (spf.h wire format) on a socketpair. Checks run in a pool of
 * spf.helpers long-lived helper children of the master, each with
 * resource limits (address space, CPU, no new processes), no descriptor
 * but its socketpair to the master, and one libspf2 server (and DNS
 * cache) kept from check to check. A helper whose check misses the
 * deadline of spf.timeout_ms is killed (SIGKILL) and the answer is
 * temperror; one that misbehaves (anything but one well-formed answer to
 * its check) is killed too, and every helper is replaced after
 * spf.checks_per_helper checks or 5 minutes. When all are busy, requests
 * wait in a bounded queue.
 *
 * The daemon side (spf_client) sends requests, matches answers by id and
 * has its own deadline (timeout + 1 s), so even a stuck master only
 * makes checks come back as temperror. */
#ifndef POLICYD_SPFHELPER_H
#define POLICYD_SPFHELPER_H

#include <event2/event.h>
#include <sys/types.h>

#include "config.h"
#include "spf.h"

/* Returns the daemon's end of the socketpair, or -1 (err set). */
int spf_helper_start(const config *cfg, pid_t *pid, buf *err);

/* One check in a fresh child with a deadline, blocking (used by the
 * fuzz harness and the unit tests). When zone_domain is given, DNS comes from a
 * static zone with that domain's TXT record instead of the resolver. */
void spf_check_isolated(const char *ip, const char *helo, const char *sender,
                        const char *zone_domain, const char *zone_txt,
                        long timeout_ms, spf_answer *out);

typedef struct spf_client spf_client;
typedef struct spf_job spf_job;
typedef void (*spf_result_fn)(void *arg, const spf_answer *a);

/* NULL when libevent cannot take fd (then closed: the helper exits). */
spf_client *spf_client_new(struct event_base *base, int fd, long timeout_ms,
                           void (*log_fn)(const char *msg));
void spf_client_free(spf_client *c);
/* NULL if the callback already ran (helper gone, or no timer or buffer
 * for the check: temperror). */
spf_job *spf_client_check(spf_client *c, const char *ip, const char *helo, const char *sender,
                          spf_result_fn cb, void *arg);
void spf_job_cancel(spf_job *j);

#endif
