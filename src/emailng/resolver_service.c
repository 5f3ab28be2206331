/* resolver_service: unbound on the relays; see resolver_service.h. */
#include "resolver_service.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

int resolver_wanted(const struct service_env *env)
{
    for (const char *const *c = render_components(env->host->roles); *c; c++)
        if (strcmp(*c, "unbound") == 0)
            return 1;
    return 0;
}

int resolver_prepare(const struct service_env *env, buf *err)
{
    /* RUN/unbound: pid file (written as root) and control socket (made by
     * unbound as root, then given to its user); DATA/unbound: its
     * working directory (it writes nothing there without a trust anchor
     * to update). */
    char *run = service_path(env, "run_dir", "unbound");
    char *data = service_path(env, "data_dir", "unbound");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "data_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(data, NULL, NULL, 0755, err);
    free(run);
    free(data);
    return rc;
}

int resolver_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "unbound/unbound.conf");
    char *log = service_path(env, "log_dir", "unbound.log");
    /* A bad configuration is reported now, not as a 30 s readiness timeout. */
    const char *check[] = {"/usr/sbin/unbound-checkconf", conf, NULL};
    int rc = service_run(check, err);
    if (rc == 0) {
        char *pidfile = service_path(env, "run_dir", "unbound/unbound.pid");
        unlink(pidfile);           /* a stale one would name another process */
        free(pidfile);
        /* -d: stay in the foreground (detached by emailng), log to stderr. */
        const char *argv[] = {"/usr/sbin/unbound", "-c", conf, "-d", NULL};
        rc = process_spawn_daemon(argv, log, err);
    }
    free(conf);
    free(log);
    return rc;
}

int resolver_ready(const struct service_env *env, buf *detail)
{
    char *conf = service_path(env, "etc_dir", "unbound/unbound.conf");
    const char *argv[] = {"/usr/sbin/unbound-control", "-c", conf, "status", NULL};
    buf out = BUF_INIT;
    int rc = process_run(argv, NULL, &out, detail);
    if (rc > 0)
        buf_printf(detail, "unbound-control status: %s", buf_cstr(&out));
    buf_free(&out);
    free(conf);
    return rc == 0 ? 0 : -1;
}

pid_t resolver_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "unbound/unbound.pid");
}

int resolver_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(resolver_pid(env), "unbound", err);
}
