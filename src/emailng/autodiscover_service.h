/* autodiscover_service: emailng-autodiscover (src/autodiscover/main.c),
 * the FastCGI responder nginx hands Outlook's autodiscover POST to, on
 * every host that runs nginx (the proxy role). Its socket is
 * RUN/autodiscover/fcgi.sock (root:www-data 0660, in a folder of its
 * user); it answers with nginx's rendered www/autodiscover/autodiscover.xml
 * for the site's domains, so it is part of the nginx component: a new
 * configuration of nginx restarts it too. Started before nginx. */
#ifndef EMAILNG_AUTODISCOVER_SERVICE_H
#define EMAILNG_AUTODISCOVER_SERVICE_H

#include "services.h"

#define AUTODISCOVER_USER "emailng-autodiscover"

int autodiscover_prepare(const struct service_env *env, buf *err);
int autodiscover_start(const struct service_env *env, buf *err);
int autodiscover_ready(const struct service_env *env, buf *detail);
pid_t autodiscover_pid(const struct service_env *env);
int autodiscover_stop(const struct service_env *env, buf *err);

#endif
