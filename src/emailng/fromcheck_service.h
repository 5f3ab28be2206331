/* fromcheck_service: emailng-fromcheck, the milter of the submission
 * services (587, 465) that holds the header From:/Sender: to the login
 * (src/fromcheck/main.c, issue 11), on every host with the relay role.
 * Started before Postfix; its socket is the placeholder fromcheck_socket. */
#ifndef EMAILNG_FROMCHECK_SERVICE_H
#define EMAILNG_FROMCHECK_SERVICE_H

#include "services.h"

int fromcheck_prepare(const struct service_env *env, buf *err);
int fromcheck_start(const struct service_env *env, buf *err);
int fromcheck_ready(const struct service_env *env, buf *detail);
pid_t fromcheck_pid(const struct service_env *env);
int fromcheck_stop(const struct service_env *env, buf *err);

#endif
