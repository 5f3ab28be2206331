/* secret_users: which daemons hold a secret that `emailng deploy` pushes
 * from the control host (STATE/secrets/NAME, cmd_deploy.c's table), and
 * how each takes a new one when the secret was rotated. A daemon that
 * reads the file on every use (the directory's `user add`, junklist's
 * remote lookups) is not listed: the new file is all it needs.
 * secret_take() answers for one service on one host, given the
 * comma-separated names `up --secrets-changed` received. */
#ifndef EMAILNG_SECRET_USERS_H
#define EMAILNG_SECRET_USERS_H

#include "services.h"
#include "site.h"

enum secret_take {
    SECRET_NOT_HELD,    /* the service holds none of the changed secrets */
    SECRET_RELOAD,      /* svc->reload: it reads the file again, sessions go on */
    SECRET_RESTART,     /* it read the file at start: stop and start it */
};

enum secret_take secret_take(const char *changed, const struct service *svc, const struct site_host *host);

#endif
