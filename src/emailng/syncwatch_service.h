/* syncwatch_service: emailng-syncwatch on a store of a replicated pair
 * (src/syncwatch/main.c, docs/architecture.md "Replication"): prepare,
 * start, check and stop it (the services.c entry). It ends dsync runs
 * that Dovecot 2.3.19 leaves waiting for a handshake, and asks the
 * partner to sync that user again. Started after the store's Dovecot,
 * stopped before it; runs as root (the processes it ends keep root as
 * their real user) and logs to LOG/syncwatch.log. */
#ifndef EMAILNG_SYNCWATCH_SERVICE_H
#define EMAILNG_SYNCWATCH_SERVICE_H

#include "services.h"

/* A dsync-server still waiting for its handshake after this long is
 * ended: a healthy one leaves that state within milliseconds, or after at
 * most 30 s when it waits there for the user's dsync lock (-l 30). */
#define SYNCWATCH_STALL_SECONDS 60
#define SYNCWATCH_INTERVAL_SECONDS 5

int syncwatch_prepare(const struct service_env *env, buf *err);
int syncwatch_start(const struct service_env *env, buf *err);
int syncwatch_ready(const struct service_env *env, buf *detail);
pid_t syncwatch_pid(const struct service_env *env);
int syncwatch_stop(const struct service_env *env, buf *err);
/* Its counters for emailng-metricsd (src/syncwatch/counters.h), under
 * RUN (run_dir). */
#define SYNCWATCH_METRICS_FILE "syncwatch/metrics.prom"
/* On a store that has a partner. */
int syncwatch_wanted(const struct service_env *env);

#endif
