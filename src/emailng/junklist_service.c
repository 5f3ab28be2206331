/* junklist_service: start, check and stop emailng-junklist; see
 * junklist_service.h. */
#include "junklist_service.h"

#include <stdlib.h>

#include "fsutil.h"
#include "process.h"
#include "site_webmail_junk.h"

/* php-fpm's workers (Debian's web user): the only ones besides root who
 * may open the socket. */
#define WEBMAIL_USER "www-data"

int junklist_wanted(const struct service_env *env)
{
    return site_webmail_junklists(env->site, env->host);
}

int junklist_prepare(const struct service_env *env, buf *err)
{
    /* The same folder as php-fpm's socket: root's, entered by www-data. */
    char *run = service_path(env, "run_dir", "roundcube");
    char *log = service_path(env, "log_dir", "junklist.log");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, WEBMAIL_USER, 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    /* it names users and their correspondents */
    if (rc == 0)
        rc = fs_ensure_file(log, NULL, "adm", 0640, err);
    free(run);
    free(log);
    return rc;
}

int junklist_start(const struct service_env *env, buf *err)
{
    char *program = process_program_next_to_us("emailng-junklist", "emailng-junklist");    /* else PATH */
    char *socket = service_path(env, "run_dir", "roundcube/junklist.sock");
    char *pid_file = service_path(env, "run_dir", "roundcube/junklist.pid");
    char *dovecot = service_path(env, "etc_dir", "dovecot/dovecot.conf");
    char *log = service_path(env, "log_dir", "junklist.log");
    const char *argv[] = {program, "--socket", socket, "--group", WEBMAIL_USER,
                          "--ldap-uri", service_var(env, "ldap_uri"), "--ldap-base", service_var(env, "ldap_base"),
                          "--dovecot-config", dovecot, "--log", log, "--pid-file", pid_file, "-t", NULL};
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, " (emailng-junklist is looked for next to emailng, then on PATH)");
    argv[sizeof argv / sizeof argv[0] - 2] = NULL;     /* the same, without -t */
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(program);
    free(socket);
    free(pid_file);
    free(dovecot);
    free(log);
    return rc;
}

int junklist_ready(const struct service_env *env, buf *detail)
{
    char *socket = service_path(env, "run_dir", "roundcube/junklist.sock");
    int rc = junklist_pid(env) != 0 && unix_listening(socket) ? 0 : -1;
    if (rc != 0)
        buf_printf(detail, "%s does not accept connections yet (see %s/junklist.log)", socket,
                   service_var(env, "log_dir"));
    free(socket);
    return rc;
}

pid_t junklist_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "roundcube/junklist.pid");
}

int junklist_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(junklist_pid(env), "emailng-junklist", err);
}
