/* tablesync_service: emailng-tablesync (src/tablesync/main.c), the relays'
 * tables between deploys (docs/architecture.md section 5):
 *   tablemaker  on every proxy of a site of several hosts: the tables from
 *               the directory into DATA/tablesync/relay-tables, which the
 *               proxy's nginx serves to the relays' client certificate;
 *   tablepull   on every relay of several hosts whose state directory does
 *               not also hold the directory's database (a host of its own,
 *               as deployed by `emailng deploy`; on the one-machine fabric
 *               the directory host writes the relays' tables directly):
 *               the tables from the proxies into the relay's own.
 * Both take their arguments from the site; `up` restarts one whose
 * arguments changed (after_start). */
#ifndef EMAILNG_TABLESYNC_SERVICE_H
#define EMAILNG_TABLESYNC_SERVICE_H

#include "services.h"

int tablemaker_wanted(const struct service_env *env);
int tablemaker_prepare(const struct service_env *env, buf *err);
int tablemaker_start(const struct service_env *env, buf *err);
int tablemaker_ready(const struct service_env *env, buf *detail);
int tablemaker_after_start(const struct service_env *env, buf *err);

int tablepull_wanted(const struct service_env *env);
int tablepull_prepare(const struct service_env *env, buf *err);
int tablepull_start(const struct service_env *env, buf *err);
int tablepull_ready(const struct service_env *env, buf *detail);
int tablepull_after_start(const struct service_env *env, buf *err);

/* Both: the pid file RUN/tablesync/tablesync.pid. */
pid_t tablesync_pid(const struct service_env *env);
int tablesync_stop(const struct service_env *env, buf *err);

/* Where a relay's puller keeps the time of its last confirmation
 * (`status` warns when it is old); caller frees. */
char *tablesync_confirmed_file(const char *state_dir, const char *host);

#endif
