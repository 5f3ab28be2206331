/* junklist_service: emailng-junklist (src/junklist/main.c), the root
 * daemon that lets the webmail's Junk / Not junk buttons add the sender to
 * the user's deny / allow list (issue 13, C3), wherever the webmail runs
 * (site_webmail_junk.h).
 *   socket  RUN/roundcube/junklist.sock (root and www-data only)
 *   pid     RUN/roundcube/junklist.pid
 *   log     LOG/junklist.log (one line per report) */
#ifndef EMAILNG_JUNKLIST_SERVICE_H
#define EMAILNG_JUNKLIST_SERVICE_H

#include "services.h"

int junklist_wanted(const struct service_env *env);
int junklist_prepare(const struct service_env *env, buf *err);
int junklist_start(const struct service_env *env, buf *err);
int junklist_ready(const struct service_env *env, buf *detail);
pid_t junklist_pid(const struct service_env *env);
int junklist_stop(const struct service_env *env, buf *err);

#endif
