/* syncwatch_service: see syncwatch_service.h. */
#include "syncwatch_service.h"

#include <stdio.h>
#include <stdlib.h>

#include "fsutil.h"
#include "process.h"

static char *syncwatch_program(void)
{
    return process_program_next_to_us("emailng-syncwatch", "emailng-syncwatch");    /* else PATH */
}

int syncwatch_wanted(const struct service_env *env)
{
    return (env->host->roles & ROLE_STORE) && *service_var(env, "replica_address");
}

int syncwatch_prepare(const struct service_env *env, buf *err)
{
    char *run = service_path(env, "run_dir", "syncwatch");
    int rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, NULL, 0755, err);
    free(run);
    return rc;
}

int syncwatch_start(const struct service_env *env, buf *err)
{
    char *program = syncwatch_program();
    /* Dovecot names its processes "dovecot-" + instance_name
     * (templates/dovecot-store: instance_name = emailng-HOST). */
    char *prefix = xasprintf("dovecot-emailng-%s", env->host->name);
    char *log = service_path(env, "log_dir", "syncwatch.log");
    char *pid_file = service_path(env, "run_dir", "syncwatch/syncwatch.pid");
    char *metrics = service_path(env, "run_dir", SYNCWATCH_METRICS_FILE);
    char stall[16], interval[16];
    snprintf(stall, sizeof stall, "%d", SYNCWATCH_STALL_SECONDS);
    snprintf(interval, sizeof interval, "%d", SYNCWATCH_INTERVAL_SECONDS);
    const char *argv[] = {program, "--prefix", prefix, "--partner", service_var(env, "replica_address"),
                          "--port", service_var(env, "port_doveadm"), "--ca", service_var(env, "tls_ca"),
                          "--secret-file", service_var(env, "doveadm_password_file"),
                          "--stall-seconds", stall, "--interval-seconds", interval,
                          "--log", log, "--pid-file", pid_file, "--metrics-file", metrics, "-t", NULL};
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, " (emailng-syncwatch is looked for next to emailng, then on PATH)");
    argv[sizeof argv / sizeof argv[0] - 2] = NULL;     /* the same, without -t */
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(program);
    free(prefix);
    free(log);
    free(pid_file);
    free(metrics);
    return rc;
}

int syncwatch_ready(const struct service_env *env, buf *detail)
{
    if (syncwatch_pid(env) == 0) {
        buf_printf(detail, "emailng-syncwatch is not running (see %s/syncwatch.log)", service_var(env, "log_dir"));
        return -1;
    }
    return 0;
}

pid_t syncwatch_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "syncwatch/syncwatch.pid");
}

int syncwatch_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(syncwatch_pid(env), "emailng-syncwatch", err);
}
