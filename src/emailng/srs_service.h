/* srs_service: Debian's postsrsd (1.10) on every host with the relay role
 * when srs.enabled (issue 11): the forward and reverse SRS lookup tables of
 * Postfix (tcp: on 127.0.0.1, ports PORT_SRS_FORWARD/PORT_SRS_REVERSE of
 * render_outbound.h; postsrsd 1.10 has no unix socket), as user postsrsd,
 * chrooted in an empty folder. Its secret is the site's one SRS secret,
 * STATE/secrets/srs-secret (made here when missing; the same file on every
 * relay, see docs/admin-manual.md "Forwarded mail (SRS)"). */
#ifndef EMAILNG_SRS_SERVICE_H
#define EMAILNG_SRS_SERVICE_H

#include "services.h"

/* STATE/secrets/srs-secret, made when missing (here by `up`, or by
 * `deploy` on the control host, which gives it to every relay). */
int srs_secret_ensure(const char *state_dir, buf *err);

int srs_wanted(const struct service_env *env);
int srs_prepare(const struct service_env *env, buf *err);
int srs_start(const struct service_env *env, buf *err);
int srs_ready(const struct service_env *env, buf *detail);
pid_t srs_pid(const struct service_env *env);
int srs_stop(const struct service_env *env, buf *err);

#endif
