/* dmarc_service: prepare, start, check and stop OpenDMARC; see
 * dmarc_service.h and docs/internals.md ("Daemons"). */
#include "dmarc_service.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

#define OPENDMARC "/usr/sbin/opendmarc"

int dmarc_wanted(const struct service_env *env)
{
    return env->site->dmarc.mode != DMARC_OFF;
}

int dmarc_prepare(const struct service_env *env, buf *err)
{
    /* RUN/opendmarc: its socket and pid file, written as opendmarc;
     * group postfix may enter (and open the socket, 0660), nobody else. */
    char *dir = service_path(env, "run_dir", "opendmarc");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, "opendmarc", "postfix", 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    free(dir);
    return rc;
}

/* In a child: a mount namespace of its own where resolv_conf is
 * /etc/resolv.conf (OpenDMARC and libspf2 read only that file), then the
 * detached daemon, which keeps the namespace. The child's exit status is
 * process_spawn_daemon's. */
static int spawn_with_resolv_conf(const char *const argv[], const char *log, const char *resolv_conf, buf *err)
{
    pid_t pid = fork();
    if (pid < 0) {
        buf_printf(err, "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        buf child_err = BUF_INIT;
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0
            || mount(resolv_conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0) {
            dprintf(2, "opendmarc: cannot use %s as resolv.conf: %s\n", resolv_conf, strerror(errno));
            _exit(2);
        }
        if (process_spawn_daemon(argv, log, &child_err) != 0) {
            dprintf(2, "%s\n", buf_cstr(&child_err));
            _exit(1);
        }
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            buf_printf(err, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        buf_printf(err, "cannot start %s with %s as its resolv.conf (exit %d)", argv[0], resolv_conf,
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return -1;
    }
    return 0;
}

int dmarc_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "opendmarc/opendmarc.conf");
    char *log = service_path(env, "log_dir", "opendmarc.log");
    const char *resolv_conf = env->site->policy.spf_resolv_conf;
    /* The configuration first: an error is named now, not in the log. */
    const char *check[] = {OPENDMARC, "-c", conf, "-n", NULL};
    int rc = service_run(check, err);
    /* A stale socket from a killed opendmarc would make it refuse to start. */
    if (rc == 0)
        unlink(service_var(env, "dmarc_socket"));
    /* -f: in the foreground of its own session, its stderr (start-up
     * errors) in LOG/opendmarc.log; it logs its verdicts to syslog (mail). */
    const char *argv[] = {OPENDMARC, "-f", "-c", conf, NULL};
    if (rc == 0)
        rc = resolv_conf && *resolv_conf ? spawn_with_resolv_conf(argv, log, resolv_conf, err)
                                         : process_spawn_daemon(argv, log, err);
    free(conf);
    free(log);
    return rc;
}

/* Its socket accepts a connection (root may open it), and its pid file is there. */
int dmarc_ready(const struct service_env *env, buf *detail)
{
    int fd = unix_connect(service_var(env, "dmarc_socket"), detail);
    if (fd < 0) {
        buf_printf(detail, " (see %s/opendmarc.log)", service_var(env, "log_dir"));
        return -1;
    }
    close(fd);
    if (dmarc_pid(env) == 0) {
        buf_printf(detail, "no live pid in %s/opendmarc/opendmarc.pid yet", service_var(env, "run_dir"));
        return -1;
    }
    return 0;
}

pid_t dmarc_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "opendmarc/opendmarc.pid");
}

int dmarc_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(dmarc_pid(env), "opendmarc", err);
}
