/* daemon: privileges, pid file, signals; see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon_log.h"
#include "fsutil.h"
#include "msg.h"

int daemon_drop_privileges(const char *user, buf *err)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        buf_printf(err, "the system user \"%s\" does not exist; run scripts/install-deps.sh", user);
        return -1;
    }
    if (getuid() != 0 && geteuid() != 0)
        return 0;                   /* not root: run as whoever we are (tests) */
    if (initgroups(user, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        buf_printf(err, "cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {    /* fail closed if root could come back */
        buf_printf(err, "could regain root after switching to %s", user);
        return -1;
    }
    return daemon_forbid_core_dumps(err);
}

int daemon_forbid_core_dumps(buf *err)
{
    if (prctl(PR_SET_DUMPABLE, 0) != 0) {
        buf_printf(err, "cannot forbid core dumps: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static char *pid_path;
static pid_t pid_owner;

static void remove_pid_file(void)
{
    if (pid_path != NULL && getpid() == pid_owner)
        unlink(pid_path);
}

int daemon_pid_file_create(const char *path, buf *err)
{
    if (fs_write_pid_file(path, err) != 0)
        return -1;
    if (pid_path == NULL)
        atexit(remove_pid_file);
    free(pid_path);
    pid_path = xstrdup(path);
    pid_owner = getpid();
    return 0;
}

static volatile sig_atomic_t stop_signal, hup_count;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hup_count++;
    else
        stop_signal = sig;
}

void daemon_signals_catch(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);       /* no SA_RESTART: a sleep or poll ends at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int daemon_signal_stop(void)
{
    return stop_signal;
}

int daemon_signal_hup(void)
{
    if (hup_count == 0)
        return 0;
    hup_count = 0;
    return 1;
}

int daemon_signal_pending(void)
{
    return stop_signal != 0 || hup_count != 0;
}

void daemon_log_reopen_now(void)
{
    if (daemon_log_reopen() != 0)
        msg_warn("SIGHUP: cannot reopen the log: %s", strerror(errno));
    else
        msg_info("SIGHUP: reopened the log");
}
