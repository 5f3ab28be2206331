/* policyd_service: emailng-policyd as one of emailng's services (the
 * services[] table in services.c). Relay hosts only. */
#ifndef EMAILNG_POLICYD_SERVICE_H
#define EMAILNG_POLICYD_SERVICE_H

#include "services.h"

int policyd_prepare(const struct service_env *env, buf *err);
int policyd_start(const struct service_env *env, buf *err);
/* 0 once a real policy request on the unix socket policyd_socket is answered. */
int policyd_ready(const struct service_env *env, buf *detail);
pid_t policyd_pid(const struct service_env *env);
int policyd_stop(const struct service_env *env, buf *err);

/* The emailng-policyd program: next to the running emailng binary
 * (build/ in a source tree, /usr/local/sbin when installed), else the
 * first one on PATH. Caller frees. */
char *policyd_program(void);

#endif
