/* srs_service: prepare, start, check and stop postsrsd; see srs_service.h. */
#include "srs_service.h"

#include <stdlib.h>
#include <unistd.h>

#include "fsutil.h"
#include "password.h"
#include "process.h"
#include "render_outbound.h"

int srs_wanted(const struct service_env *env)
{
    return env->site->outbound.srs_enabled;
}

static char *srs_secret_path(const char *state_dir)
{
    return xasprintf("%s/secrets/srs-secret", state_dir);
}

/* One secret for the site: 32 random characters (about 185 bits), root's,
 * 0600; postsrsd reads it as root before it drops to its user. An existing
 * file (e.g. copied from the first relay) is kept. */
int srs_secret_ensure(const char *state_dir, buf *err)
{
    char *file = srs_secret_path(state_dir);
    int rc = password_file_ensure(file, 2, 1, err);
    free(file);
    return rc;
}

int srs_prepare(const struct service_env *env, buf *err)
{
    /* RUN/postsrsd: its chroot, empty and not writable by it. */
    char *jail = service_path(env, "run_dir", "postsrsd");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(jail, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = srs_secret_ensure(env->state_dir, err);
    free(jail);
    return rc;
}

int srs_start(const struct service_env *env, buf *err)
{
    char *secret = srs_secret_path(env->state_dir);
    char *domain = xasprintf("-d%s", service_var(env, "primary_domain"));
    char *secret_arg = xasprintf("-s%s", secret);
    char *forward = xasprintf("-f%d", PORT_SRS_FORWARD);
    char *reverse = xasprintf("-r%d", PORT_SRS_REVERSE);
    char *exclude = xasprintf("-X%s", service_var(env, "srs_exclude_domains"));
    char *pid_file = service_path(env, "run_dir", "postsrsd.pid");
    char *pid_arg = xasprintf("-p%s", pid_file);
    char *jail = service_path(env, "run_dir", "postsrsd");
    char *jail_arg = xasprintf("-c%s", jail);
    char *log = service_path(env, "log_dir", "postsrsd.log");
    /* postsrsd logs to syslog (none here); its stderr goes to the log. A
     * stale pid file would name another process. */
    unlink(pid_file);
    const char *argv[] = {"/usr/sbin/postsrsd", secret_arg, domain, exclude, "-l127.0.0.1", forward, reverse,
                          "-upostsrsd", pid_arg, jail_arg, NULL};
    int rc = process_spawn_daemon(argv, log, err);
    free(secret);
    free(domain);
    free(secret_arg);
    free(forward);
    free(reverse);
    free(exclude);
    free(pid_file);
    free(pid_arg);
    free(jail);
    free(jail_arg);
    free(log);
    return rc;
}

/* Both tables accept connections and the pid file names it. */
int srs_ready(const struct service_env *env, buf *detail)
{
    if (!tcp_listening("127.0.0.1", PORT_SRS_FORWARD) || !tcp_listening("127.0.0.1", PORT_SRS_REVERSE)) {
        buf_printf(detail, "postsrsd does not listen on 127.0.0.1:%d and :%d yet (see %s/postsrsd.log)",
                   PORT_SRS_FORWARD, PORT_SRS_REVERSE, service_var(env, "log_dir"));
        return -1;
    }
    if (srs_pid(env) == 0) {
        buf_printf(detail, "no live pid in postsrsd's pid file yet");
        return -1;
    }
    return 0;
}

pid_t srs_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "postsrsd.pid");
}

int srs_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(srs_pid(env), "postsrsd", err);
}
