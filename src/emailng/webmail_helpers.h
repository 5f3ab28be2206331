/* webmail_helpers: what the webmail's small root daemons beside php-fpm
 * (emailng-passwd, emailng-junklist; src/lib/line_service.h) have in
 * common as services: for NAME ("passwd", "junklist")
 *   socket  RUN/roundcube/NAME.sock (root and www-data only)
 *   pid     RUN/roundcube/NAME.pid
 *   log     LOG/NAME.log (root:adm 0640: it names users)
 * and the arguments every one takes (socket, group, directory, log, pid
 * file); each service adds its own. Started once with -t (its arguments
 * and files checked), then for real. */
#ifndef EMAILNG_WEBMAIL_HELPERS_H
#define EMAILNG_WEBMAIL_HELPERS_H

#include "services.h"

int webmail_helper_prepare(const struct service_env *env, const char *name, buf *err);
/* own: the daemon's own arguments, NULL-terminated (at most 16). */
int webmail_helper_start(const struct service_env *env, const char *name, const char *const *own, buf *err);
int webmail_helper_ready(const struct service_env *env, const char *name, buf *detail);
pid_t webmail_helper_pid(const struct service_env *env, const char *name);
int webmail_helper_stop(const struct service_env *env, const char *name, buf *err);

#endif
