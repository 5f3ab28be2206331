/* webmail_service: Debian's php-fpm (php8.2-fpm) running Debian's
 * Roundcube (roundcube-core) for the webmail of issue 13 (C3), on every
 * host with nginx when the site wants it (site_webmail.h). nginx hands
 * https://PUBLIC-NAME/webmail/ to its socket (templates/nginx/webmail.conf).
 *   configuration  STATE/etc/HOST/roundcube/{php-fpm.conf,php.ini,
 *                  config.inc.php} (templates/roundcube; Roundcube is
 *                  pointed at it by ROUNDCUBE_CONFIG_DIR: /etc/roundcube
 *                  is never read, except Debian's copy of upstream's
 *                  defaults.inc.php)
 *   run            RUN/roundcube/{php-fpm.pid,php-fpm.sock,des_key}
 *   data           DATA/roundcube/{roundcube.db,temp} (SQLite: sessions,
 *                  preferences, contacts; created and brought to the
 *                  package's schema at every start), workers as www-data
 *   logs           LOG/php-fpm.log, LOG/roundcube/ (Roundcube's errors
 *                  and logins)
 * des_key: 32 random characters generated once per site into
 * STATE/secrets/webmail-des-key (never in a template), copied at start
 * where only root and www-data read it. */
#ifndef EMAILNG_WEBMAIL_SERVICE_H
#define EMAILNG_WEBMAIL_SERVICE_H

#include "services.h"

/* STATE/secrets/webmail-des-key, made when missing (here at start, or by
 * `deploy` on the control host, which gives it to every proxy). */
int webmail_des_key_ensure(const char *state_dir, buf *err);

int webmail_prepare(const struct service_env *env, buf *err);
int webmail_start(const struct service_env *env, buf *err);
int webmail_ready(const struct service_env *env, buf *detail);
pid_t webmail_pid(const struct service_env *env);
int webmail_stop(const struct service_env *env, buf *err);
int webmail_wanted(const struct service_env *env);

/* emailng-passwd (src/passwd/main.c): the password plugin's only way to
 * the directory, on a host that has the directory over ldapi (the
 * one-host site): socket RUN/roundcube/passwd.sock (root and www-data),
 * pid RUN/roundcube/passwd.pid, log LOG/passwd.log. */
int webmail_passwd_prepare(const struct service_env *env, buf *err);
int webmail_passwd_start(const struct service_env *env, buf *err);
int webmail_passwd_ready(const struct service_env *env, buf *detail);
pid_t webmail_passwd_pid(const struct service_env *env);
int webmail_passwd_stop(const struct service_env *env, buf *err);
int webmail_passwd_wanted(const struct service_env *env);

#endif
