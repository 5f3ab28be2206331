/* filter_services: the content filter daemons of the relay role (F1, F2):
 * clamd, amavisd-new (with SpamAssassin inside) and clamav-milter, with
 * their configuration from templates/clamav and templates/amavis and their
 * state under the state directory. Entries of the services[] table
 * (services.c); they run only when the site's filter.enabled is true.
 * See docs/architecture-filtering.md and docs/internals.md. */
#ifndef EMAILNG_FILTER_SERVICES_H
#define EMAILNG_FILTER_SERVICES_H

#include <sys/types.h>

#include "buf.h"
#include "services.h"

/* 1 when the site runs the content filter (filter.enabled). */
int filter_wanted(const struct service_env *env);
/* 1 when the MX also runs the before-queue virus check (clamav-milter). */
int filter_milter_wanted(const struct service_env *env);

int clamd_prepare(const struct service_env *env, buf *err);
int clamd_start(const struct service_env *env, buf *err);
int clamd_ready(const struct service_env *env, buf *detail);     /* zPING -> PONG */
pid_t clamd_pid(const struct service_env *env);
int clamd_stop(const struct service_env *env, buf *err);

int amavisd_prepare(const struct service_env *env, buf *err);
/* Starts amavisd, waits until it answers SMTP (SpamAssassin takes a while
 * to load its rules), then asks Postfix to retry the mail it deferred
 * while the filter was down. */
int amavisd_start(const struct service_env *env, buf *err);
int amavisd_ready(const struct service_env *env, buf *detail);   /* LMTP 220 on both unix sockets */
pid_t amavisd_pid(const struct service_env *env);
int amavisd_stop(const struct service_env *env, buf *err);

int clamav_milter_prepare(const struct service_env *env, buf *err);
int clamav_milter_start(const struct service_env *env, buf *err);
int clamav_milter_ready(const struct service_env *env, buf *detail);
pid_t clamav_milter_pid(const struct service_env *env);
int clamav_milter_stop(const struct service_env *env, buf *err);

/* The quarantine folder of a host: DATA/amavis/quarantine. Caller frees. */
char *filter_quarantine_dir(const struct service_env *env);

#endif
