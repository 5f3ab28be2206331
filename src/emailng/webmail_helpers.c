/* webmail_helpers: see webmail_helpers.h. */
#include "webmail_helpers.h"

#include <stdlib.h>

#include "fsutil.h"
#include "process.h"

/* php-fpm's workers (Debian's web user): the only ones besides root who
 * may open the sockets. */
#define WEBMAIL_USER "www-data"
#define OWN_MAX 16

int webmail_helper_prepare(const struct service_env *env, const char *name, buf *err)
{
    /* The same folder as php-fpm's socket: root's, entered by www-data. */
    char *run = service_path(env, "run_dir", "roundcube");
    char *log_name = xasprintf("%s.log", name);
    char *log = service_path(env, "log_dir", log_name);
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, WEBMAIL_USER, 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_file(log, NULL, "adm", 0640, err);
    free(run);
    free(log_name);
    free(log);
    return rc;
}

static char *helper_file(const struct service_env *env, const char *name, const char *suffix)
{
    char *relative = xasprintf("roundcube/%s.%s", name, suffix);
    char *path = service_path(env, "run_dir", relative);
    free(relative);
    return path;
}

int webmail_helper_start(const struct service_env *env, const char *name, const char *const *own, buf *err)
{
    char *program_name = xasprintf("emailng-%s", name);
    char *program = process_program_next_to_us(program_name, program_name);    /* else PATH */
    char *socket = helper_file(env, name, "sock");
    char *pid_file = helper_file(env, name, "pid");
    char *log_name = xasprintf("%s.log", name);
    char *log = service_path(env, "log_dir", log_name);
    const char *argv[16 + OWN_MAX];
    size_t n = 0;
    argv[n++] = program;
    argv[n++] = "--socket";
    argv[n++] = socket;
    argv[n++] = "--group";
    argv[n++] = WEBMAIL_USER;
    argv[n++] = "--ldap-uri";
    argv[n++] = service_var(env, "ldap_uri");
    argv[n++] = "--ldap-base";
    argv[n++] = service_var(env, "ldap_base");
    for (size_t i = 0; own[i] && i < OWN_MAX; i++)
        argv[n++] = own[i];
    argv[n++] = "--log";
    argv[n++] = log;
    argv[n++] = "--pid-file";
    argv[n++] = pid_file;
    argv[n++] = "-t";
    argv[n] = NULL;
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, " (%s is looked for next to emailng, then on PATH)", program_name);
    argv[n - 1] = NULL;     /* the same, without -t */
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(program_name);
    free(program);
    free(socket);
    free(pid_file);
    free(log_name);
    free(log);
    return rc;
}

int webmail_helper_ready(const struct service_env *env, const char *name, buf *detail)
{
    char *socket = helper_file(env, name, "sock");
    int rc = webmail_helper_pid(env, name) != 0 && unix_listening(socket) ? 0 : -1;
    if (rc != 0)
        buf_printf(detail, "%s does not accept connections yet (see %s/%s.log)", socket,
                   service_var(env, "log_dir"), name);
    free(socket);
    return rc;
}

pid_t webmail_helper_pid(const struct service_env *env, const char *name)
{
    char *relative = xasprintf("roundcube/%s.pid", name);
    pid_t pid = service_pidfile(env, "run_dir", relative);
    free(relative);
    return pid;
}

int webmail_helper_stop(const struct service_env *env, const char *name, buf *err)
{
    char *program_name = xasprintf("emailng-%s", name);
    int rc = service_stop_pid(webmail_helper_pid(env, name), program_name, err);
    free(program_name);
    return rc;
}
