/* mtasts_service: Debian's mta-sts-daemon (postfix-mta-sts-resolver) on
 * every host with the relay role when outbound.mta_sts (issue 11, S2): it
 * answers Postfix's smtp_tls_policy_maps (a socketmap on the unix socket
 * RUN/mta-sts/socket) with the MTA-STS policy of a destination domain.
 * Runs as user _mta-sts with group postfix (start-stop-daemon makes its
 * pid file and drops privileges); configuration
 * templates/mta-sts/mta-sts-daemon.yml, policy cache DATA/mta-sts/cache.db. */
#ifndef EMAILNG_MTASTS_SERVICE_H
#define EMAILNG_MTASTS_SERVICE_H

#include "services.h"

int mtasts_wanted(const struct service_env *env);
int mtasts_prepare(const struct service_env *env, buf *err);
int mtasts_start(const struct service_env *env, buf *err);
int mtasts_ready(const struct service_env *env, buf *detail);
pid_t mtasts_pid(const struct service_env *env);
int mtasts_stop(const struct service_env *env, buf *err);

#endif
