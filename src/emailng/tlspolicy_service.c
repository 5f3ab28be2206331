/* tlspolicy_service: prepare, start, check and stop emailng-tlspolicy;
 * see tlspolicy_service.h. */
#include "tlspolicy_service.h"

#include <stdlib.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"
#include "render_outbound.h"

int tlspolicy_wanted(const struct service_env *env)
{
    return render_outbound_tlspolicy(env->site, env->host);
}

int tlspolicy_prepare(const struct service_env *env, buf *err)
{
    /* RUN/tlspolicy: its socket and pid file, written after it dropped to
     * postfix; nobody else reaches the socket. */
    char *dir = service_path(env, "run_dir", "tlspolicy");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, "postfix", "postfix", 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    free(dir);
    return rc;
}

int tlspolicy_start(const struct service_env *env, buf *err)
{
    char *program = process_program_next_to_us("emailng-tlspolicy", "emailng-tlspolicy");    /* else PATH */
    char *socket = service_path(env, "run_dir", "tlspolicy/socket");
    char *mtasts = service_path(env, "run_dir", "mta-sts/socket");
    char *log = service_path(env, "log_dir", "tlspolicy.log");
    char *pid_file = service_path(env, "run_dir", "tlspolicy/tlspolicy.pid");
    const char *argv[] = {program, "-s", socket, "-m", mtasts, "-u", "postfix", "-p", pid_file, "-t", NULL};
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, " (emailng-tlspolicy is looked for next to emailng, then on PATH)");
    argv[sizeof argv / sizeof argv[0] - 2] = NULL;     /* the same, without -t */
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(program);
    free(socket);
    free(mtasts);
    free(log);
    free(pid_file);
    return rc;
}

/* Its socket accepts a connection (root may open it). */
int tlspolicy_ready(const struct service_env *env, buf *detail)
{
    char *socket = service_path(env, "run_dir", "tlspolicy/socket");
    int fd = unix_connect(socket, detail);
    free(socket);
    if (fd < 0) {
        buf_printf(detail, " (see %s/tlspolicy.log)", service_var(env, "log_dir"));
        return -1;
    }
    close(fd);
    return 0;
}

pid_t tlspolicy_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "tlspolicy/tlspolicy.pid");
}

int tlspolicy_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(tlspolicy_pid(env), "emailng-tlspolicy", err);
}
