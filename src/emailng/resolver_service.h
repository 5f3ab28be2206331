/* resolver_service: unbound, the caching DNS resolver of a relay of a site
 * of several hosts (S8), as one of emailng's services (the services[] table
 * in services.c). It answers on 127.0.0.1 only, with its configuration from
 * templates/unbound and its state under the state directory; the relay's
 * resolv.conf names it. Started before every other daemon of the relay. */
#ifndef EMAILNG_RESOLVER_SERVICE_H
#define EMAILNG_RESOLVER_SERVICE_H

#include <sys/types.h>

#include "services.h"

/* 1 on a relay of several hosts (where templates/unbound is rendered). */
int resolver_wanted(const struct service_env *env);

int resolver_prepare(const struct service_env *env, buf *err);
/* Checks the configuration (unbound-checkconf), then `unbound -c CONF -d`
 * detached, stderr appended to LOG/unbound.log. */
int resolver_start(const struct service_env *env, buf *err);
/* 0 once `unbound-control -c CONF status` answers. */
int resolver_ready(const struct service_env *env, buf *detail);
pid_t resolver_pid(const struct service_env *env);
int resolver_stop(const struct service_env *env, buf *err);

#endif
