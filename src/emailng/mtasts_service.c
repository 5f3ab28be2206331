/* mtasts_service: prepare, start, check and stop mta-sts-daemon; see
 * mtasts_service.h. */
#include "mtasts_service.h"

#include <stdlib.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

#define MTASTS_USER "_mta-sts"

int mtasts_wanted(const struct service_env *env)
{
    return env->site->outbound.mta_sts;
}

int mtasts_prepare(const struct service_env *env, buf *err)
{
    /* RUN/mta-sts: its socket (mode 0660, group postfix); DATA/mta-sts:
     * the policy cache. Both its own, nobody else's. */
    char *run = service_path(env, "run_dir", "mta-sts");
    char *data = service_path(env, "data_dir", "mta-sts");
    char *log = service_path(env, "log_dir", "mta-sts.log");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, MTASTS_USER, "postfix", 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "data_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(data, MTASTS_USER, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_file(log, MTASTS_USER, "adm", 0640, err);
    free(run);
    free(data);
    free(log);
    return rc;
}

int mtasts_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "mta-sts/mta-sts-daemon.yml");
    char *log = service_path(env, "log_dir", "mta-sts.log");
    char *pid_file = service_path(env, "run_dir", "mta-sts.pid");
    char *socket = service_path(env, "run_dir", "mta-sts/socket");
    unlink(socket);        /* a stale one from a killed daemon makes the bind fail */
    /* The pid file of a daemon just stopped: start-stop-daemon would take
     * its pid, still a zombie until the namespace's reaper collects it, for
     * a running daemon and start nothing (exit 1) on a restart. */
    if (mtasts_pid(env) == 0)
        unlink(pid_file);
    /* mta-sts-daemon writes no pid file and does not drop privileges:
     * Debian's start-stop-daemon does both (and sends its output to the log).
     * umask 027: its policy cache is nobody else's business. */
    const char *argv[] = {"/sbin/start-stop-daemon", "--start", "--quiet", "--background", "--make-pidfile",
                          "--pidfile", pid_file, "--chuid", MTASTS_USER ":postfix", "--umask", "027", "--output", log,
                          "--startas", "/usr/bin/mta-sts-daemon", "--", "-c", conf, NULL};
    int rc = service_run(argv, err);
    free(conf);
    free(log);
    free(pid_file);
    free(socket);
    return rc;
}

/* Its socket accepts a connection. */
int mtasts_ready(const struct service_env *env, buf *detail)
{
    char *socket = service_path(env, "run_dir", "mta-sts/socket");
    int rc = unix_listening(socket) ? 0 : -1;
    if (rc != 0)
        buf_printf(detail, "%s does not accept connections yet (see %s/mta-sts.log)", socket,
                   service_var(env, "log_dir"));
    free(socket);
    return rc;
}

pid_t mtasts_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "mta-sts.pid");
}

int mtasts_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(mtasts_pid(env), "mta-sts-daemon", err);
}
