/* autodiscover_service: prepare, start, check and stop
 * emailng-autodiscover; see autodiscover_service.h. */
#include "autodiscover_service.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

/* nginx's workers: the only ones besides root who may open the socket. */
#define AUTODISCOVER_GROUP "www-data"

static char *autodiscover_program(void)
{
    return process_program_next_to_us("emailng-autodiscover", "emailng-autodiscover");    /* else PATH */
}

int autodiscover_prepare(const struct service_env *env, buf *err)
{
    /* RUN/autodiscover: its socket and pid file, made by the responder
     * (the socket as root before it drops, the pid file after); nginx's
     * workers (group www-data) pass through to the socket, nobody else. */
    char *dir = service_path(env, "run_dir", "autodiscover");
    char *log = service_path(env, "log_dir", "autodiscover.log");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, AUTODISCOVER_USER, AUTODISCOVER_GROUP, 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    /* The addresses clients asked for: root and adm read it, the
     * responder writes it (it reopens it on SIGHUP after dropping). */
    if (rc == 0)
        rc = fs_ensure_file(log, AUTODISCOVER_USER, "adm", 0640, err);
    free(dir);
    free(log);
    return rc;
}

int autodiscover_start(const struct service_env *env, buf *err)
{
    char *program = autodiscover_program();
    char *socket = service_path(env, "run_dir", "autodiscover/fcgi.sock");
    char *settings = service_path(env, "etc_dir", "nginx/www/autodiscover/autodiscover.xml");
    char *log = service_path(env, "log_dir", "autodiscover.log");
    char *pid_file = service_path(env, "run_dir", "autodiscover/autodiscover.pid");
    /* The site's domains: an address of any other is refused. */
    size_t n = 0;
    const char **argv = xcalloc(16 + 2 * env->site->n_domains, sizeof *argv);
    argv[n++] = program;
    argv[n++] = "--socket";
    argv[n++] = socket;
    argv[n++] = "--group";
    argv[n++] = AUTODISCOVER_GROUP;
    argv[n++] = "--user";
    argv[n++] = AUTODISCOVER_USER;
    argv[n++] = "--settings";
    argv[n++] = settings;
    argv[n++] = "--log";
    argv[n++] = log;
    argv[n++] = "--pid-file";
    argv[n++] = pid_file;
    for (size_t d = 0; d < env->site->n_domains; d++) {
        argv[n++] = "--domain";
        argv[n++] = env->site->domains[d];
    }
    argv[n] = "-t";             /* checked first: a clear error instead of a daemon that died */
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, " (emailng-autodiscover is looked for next to emailng, then on PATH)");
    argv[n] = NULL;
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(argv);
    free(program);
    free(socket);
    free(settings);
    free(log);
    free(pid_file);
    return rc;
}

/* Its pid lives and the socket accepts a connection (root may open it). */
int autodiscover_ready(const struct service_env *env, buf *detail)
{
    char *socket = service_path(env, "run_dir", "autodiscover/fcgi.sock");
    int rc = -1;
    if (autodiscover_pid(env) == 0)
        buf_printf(detail, "no live pid in %s/autodiscover/autodiscover.pid yet", service_var(env, "run_dir"));
    else if (!unix_listening(socket))
        buf_printf(detail, "%s does not accept connections (see %s/autodiscover.log)", socket,
                   service_var(env, "log_dir"));
    else
        rc = 0;
    free(socket);
    return rc;
}

pid_t autodiscover_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "autodiscover/autodiscover.pid");
}

int autodiscover_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(autodiscover_pid(env), "emailng-autodiscover", err);
}
