/* webserver_service: Debian's nginx (nginx-light) on every host with the
 * proxy role (the one-host site's host, the proxies of several hosts,
 * where tls.names[0] points): HTTPS on 443 with the public certificate,
 * serving the clients' auto-configuration and the MTA-STS policy as
 * static files rendered from the site (client_config.h,
 * templates/nginx/www); port 80 only redirects to HTTPS, and is left to
 * the ACME forwarder under tls.source acme on several hosts (on one
 * host nginx serves lego's tokens: webserver_acme_webroot). Configuration
 * STATE/etc/HOST/nginx/nginx.conf, pid RUN/nginx/nginx.pid, logs
 * LOG/nginx-{access,error}.log, temporary files DATA/nginx (workers run
 * as www-data). A new public certificate: `nginx -s reload`. */
#ifndef EMAILNG_WEBSERVER_SERVICE_H
#define EMAILNG_WEBSERVER_SERVICE_H

#include "services.h"

int webserver_prepare(const struct service_env *env, buf *err);
int webserver_start(const struct service_env *env, buf *err);
int webserver_ready(const struct service_env *env, buf *detail);
pid_t webserver_pid(const struct service_env *env);
int webserver_stop(const struct service_env *env, buf *err);
int webserver_reload(const struct service_env *env, buf *err);

/* The folder lego writes its HTTP-01 tokens to (--http.webroot) when
 * this host's nginx runs and holds port 80, else NULL (lego answers on
 * port 80 itself). Caller frees. */
char *webserver_acme_webroot(const struct service_env *env);

/* Stops this host's nginx if it runs and holds port 80: its
 * configuration predates tls.source acme on several hosts, where the
 * ACME forwarder takes port 80 (acme_forward_service.h); `up` starts
 * nginx again later with the new configuration. 0, or -1 with err. */
int webserver_yield_http(const struct service_env *env, buf *err);

/* 0 for port_http when the site leaves port 80 to ACME, else 1. */
int webserver_port_open(const struct service_env *env, const char *name);

#endif
