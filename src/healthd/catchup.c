/* catchup: see catchup.h. */
#include "catchup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int catchup_start(catchup_job *j, char *const argv[], const char *pair, const char *store,
                  const char *partner, const char *secret, long long away_since, int log_fd, long timeout_ms,
                  long long now_ms, buf *err)
{
    char since[32] = "";
    if (away_since > 0)
        snprintf(since, sizeof since, "%lld", away_since);
    int feed[2] = {-1, -1};
    if (secret && pipe2(feed, O_CLOEXEC) != 0) {
        buf_printf(err, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        buf_printf(err, "fork: %s", strerror(errno));
        if (secret) {
            close(feed[0]);
            close(feed[1]);
        }
        return -1;
    }
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(secret ? feed[0] : fd, 0);
            dup2(fd, 1);
            dup2(log_fd >= 0 ? log_fd : fd, 2);
            if (fd > 2)
                close(fd);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        setenv("HEALTHD_PAIR", pair, 1);
        setenv("HEALTHD_STORE", store, 1);
        setenv("HEALTHD_PARTNER", partner, 1);
        if (*since)
            setenv("HEALTHD_DOWN_SINCE", since, 1);
        else
            unsetenv("HEALTHD_DOWN_SINCE");
        execv(argv[0], argv);
        _exit(127);
    }
    if (secret) {
        /* One short line: it fits the pipe's buffer, so this never blocks;
         * a check that exits without reading it only costs an EPIPE. */
        close(feed[0]);
        size_t len = strlen(secret);
        ssize_t w = write(feed[1], secret, len);
        if (w == (ssize_t)len)
            w = write(feed[1], "\n", 1);
        close(feed[1]);
    }
    j->pid = pid;
    j->deadline_ms = now_ms + timeout_ms;
    return 0;
}

int catchup_poll(catchup_job *j, long long now_ms, buf *detail)
{
    if (j->pid == 0) {
        buf_printf(detail, "catch-up check not running");
        return 0;
    }
    int status;
    pid_t r = waitpid(j->pid, &status, WNOHANG);
    if (r == 0) {
        if (now_ms < j->deadline_ms)
            return -1;
        catchup_cancel(j);
        buf_printf(detail, "catch-up check timed out");
        return 0;
    }
    j->pid = 0;
    if (r < 0) {
        buf_printf(detail, "catch-up check: waitpid: %s", strerror(errno));
        return 0;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFEXITED(status))
        buf_printf(detail, "catch-up check: not yet (exit %d)", WEXITSTATUS(status));
    else
        buf_printf(detail, "catch-up check: killed by signal %d", WTERMSIG(status));
    return 0;
}

void catchup_cancel(catchup_job *j)
{
    if (j->pid > 0) {
        kill(-j->pid, SIGKILL);
        kill(j->pid, SIGKILL);
        while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    j->pid = 0;
}
