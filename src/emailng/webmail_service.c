/* webmail_service: prepare, start, check and stop php-fpm with Roundcube;
 * see webmail_service.h. */
#include "webmail_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth_cache.h"
#include "fsutil.h"
#include "password.h"
#include "process.h"
#include "site_webmail.h"
#include "webmail_helpers.h"

#define PHP_FPM "/usr/sbin/php-fpm8.2"
#define PHP_CLI "/usr/bin/php8.2"
/* php-fpm's workers, nginx's workers and Roundcube's files (Debian's web user). */
#define WEBMAIL_USER "www-data"
#define DES_KEY_SECRET "webmail-des-key"
/* The shortest new password the webmail takes (the plugin says so first). */
#define WEBMAIL_PASSWORD_MIN "10"

int webmail_wanted(const struct service_env *env)
{
    return site_webmail_enabled(env->site);
}

/* STATE/secrets/webmail-des-key: made once per site (two generated
 * passwords, 32 characters of about 6 bits each), then copied to
 * RUN/roundcube/des_key, root's and readable by the workers' group. */
int webmail_des_key_ensure(const char *state_dir, buf *err)
{
    char *secret = xasprintf("%s/secrets/%s", state_dir, DES_KEY_SECRET);
    int rc = password_file_ensure(secret, 2, 0, err);
    free(secret);
    return rc;
}

static int des_key_install(const struct service_env *env, buf *err)
{
    char *secret = xasprintf("%s/secrets/%s", env->state_dir, DES_KEY_SECRET);
    char *copy = service_path(env, "run_dir", "roundcube/des_key");
    buf key = BUF_INIT;
    int rc = webmail_des_key_ensure(env->state_dir, err);
    if (rc == 0)
        rc = fs_read_secret(secret, 4096, &key, err);
    if (rc == 0 && key.len != 2 * PASSWORD_GENERATED_LEN) {
        buf_printf(err, "%s: expected %d characters (remove it to make a new one; sessions end)", secret,
                   2 * PASSWORD_GENERATED_LEN);
        rc = -1;
    }
    if (rc == 0)
        rc = fs_write_file_group(copy, key.data, key.len, 0440, WEBMAIL_USER, err);
    password_wipe(&key);
    free(secret);
    free(copy);
    return rc;
}

int webmail_prepare(const struct service_env *env, buf *err)
{
    char *run = service_path(env, "run_dir", "roundcube");
    char *data = service_path(env, "data_dir", "roundcube");
    char *temp = service_path(env, "data_dir", "roundcube/temp");
    char *logs = service_path(env, "log_dir", "roundcube");
    char *fpm_log = service_path(env, "log_dir", "php-fpm.log");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    /* The socket (php-fpm, root, makes it www-data's) and the key copy. */
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, WEBMAIL_USER, 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "data_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(data, WEBMAIL_USER, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(temp, WEBMAIL_USER, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    /* Logins and errors name users and addresses: root, adm and the workers. */
    if (rc == 0)
        rc = fs_ensure_dir(logs, WEBMAIL_USER, "adm", 0750, err);
    if (rc == 0)
        rc = fs_ensure_file(fpm_log, NULL, "adm", 0640, err);
    if (rc == 0)
        rc = des_key_install(env, err);
    free(run);
    free(data);
    free(temp);
    free(logs);
    free(fpm_log);
    return rc;
}

/* The SQLite database: created on the first start, brought to the
 * installed package's schema on every start (after a Debian upgrade of
 * roundcube-core), as the workers' user (templates/roundcube/dbsetup.php). */
static int webmail_db_setup(const struct service_env *env, buf *err)
{
    char *config = service_path(env, "etc_dir", "roundcube");
    char *config_env = xasprintf("ROUNDCUBE_CONFIG_DIR=%s", config);
    char *ini = service_path(env, "etc_dir", "roundcube/php.ini");
    char *script = service_path(env, "etc_dir", "roundcube/dbsetup.php");
    const char *argv[] = {"/usr/bin/setpriv", "--reuid=" WEBMAIL_USER, "--regid=" WEBMAIL_USER, "--init-groups",
                          "/usr/bin/env", "-i", config_env, PHP_CLI, "-c", ini, script, NULL};
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, "\n(the webmail's database could not be set up: %s)", script);
    free(config);
    free(config_env);
    free(ini);
    free(script);
    return rc;
}

int webmail_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "roundcube/php-fpm.conf");
    char *ini = service_path(env, "etc_dir", "roundcube/php.ini");
    const char *argv[] = {PHP_FPM, "--fpm-config", conf, "-c", ini, NULL};
    int rc = 0;
    if (access(PHP_FPM, X_OK) != 0 || access(PHP_CLI, X_OK) != 0) {
        buf_printf(err, "%s or %s is missing (Debian packages php-fpm, roundcube; scripts/install-deps.sh)",
                   PHP_FPM, PHP_CLI);
        rc = -1;
    }
    if (rc == 0)
        rc = webmail_db_setup(env, err);
    /* A pid file left by a killed master names a stale pid. */
    if (rc == 0 && webmail_pid(env) == 0) {
        char *pid_file = service_path(env, "run_dir", "roundcube/php-fpm.pid");
        unlink(pid_file);
        free(pid_file);
    }
    if (rc == 0) {
        /* Roundcube creates its logs (userlogins.log names every login and
         * address) with PHP's default mode: the workers inherit the
         * master's umask, so nothing they create is world-readable. */
        mode_t old = umask(027);
        rc = service_run(argv, err);     /* the master daemonizes and writes its pid file */
        umask(old);
    }
    free(conf);
    free(ini);
    return rc;
}

/* The master's pid file names a live process and its socket accepts. */
int webmail_ready(const struct service_env *env, buf *detail)
{
    char *socket = service_path(env, "run_dir", "roundcube/php-fpm.sock");
    int rc = 0;
    if (webmail_pid(env) == 0) {
        buf_printf(detail, "no live pid in %s/roundcube/php-fpm.pid yet", service_var(env, "run_dir"));
        rc = -1;
    } else if (!unix_listening(socket)) {
        buf_printf(detail, "%s does not accept connections (see %s/php-fpm.log)", socket,
                   service_var(env, "log_dir"));
        rc = -1;
    }
    free(socket);
    return rc;
}

pid_t webmail_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "roundcube/php-fpm.pid");
}

int webmail_stop(const struct service_env *env, buf *err)
{
    /* SIGTERM: the master stops its workers at once (a request is cut). */
    pid_t pid = webmail_pid(env);
    if (pid && process_stop_tree(pid, 20) != 0) {
        buf_printf(err, "php-fpm (pid %ld) did not stop", (long)pid);
        return -1;
    }
    return 0;
}

/* ---- emailng-passwd -------------------------------------------------------- */

int webmail_passwd_wanted(const struct service_env *env)
{
    return site_webmail_passwords(env->site, env->host);
}

int webmail_passwd_prepare(const struct service_env *env, buf *err)
{
    return webmail_helper_prepare(env, "passwd", err);
}

/* The directory: over ldapi as root where it is on this host (the small
 * site); else LDAPS with this proxy's client certificate CN=passwd, whose
 * identity may write userPassword only (templates/slapd-directory). Dovecot's
 * auth cache is flushed only where it has one (auth_cache.h). */
int webmail_passwd_start(const struct service_env *env, buf *err)
{
    char *dovecot = service_path(env, "etc_dir", "dovecot/dovecot.conf");
    const char *own[16];
    size_t n = 0;
    if (!(env->host->roles & ROLE_DIRECTORY)) {
        own[n++] = "--tls-ca";
        own[n++] = service_var(env, "tls_ca");
        own[n++] = "--tls-cert";
        own[n++] = service_var(env, "tls_client_passwd_cert");
        own[n++] = "--tls-key";
        own[n++] = service_var(env, "tls_client_passwd_key");
    }
    if (auth_cache_on(env->host)) {
        own[n++] = "--dovecot-config";
        own[n++] = dovecot;
    }
    own[n++] = "--min-length";
    own[n++] = WEBMAIL_PASSWORD_MIN;
    own[n] = NULL;
    int rc = webmail_helper_start(env, "passwd", own, err);
    free(dovecot);
    return rc;
}

int webmail_passwd_ready(const struct service_env *env, buf *detail)
{
    return webmail_helper_ready(env, "passwd", detail);
}

pid_t webmail_passwd_pid(const struct service_env *env)
{
    return webmail_helper_pid(env, "passwd");
}

int webmail_passwd_stop(const struct service_env *env, buf *err)
{
    return webmail_helper_stop(env, "passwd", err);
}
