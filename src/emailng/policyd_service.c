/* policyd_service: prepare, start, check and stop emailng-policyd; see
 * policyd_service.h and docs/internals.md ("Daemons"). */
#include "policyd_service.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

#define READY_TIMEOUT_MS 1000

char *policyd_program(void)
{
    return process_program_next_to_us("emailng-policyd", "emailng-policyd");    /* else PATH */
}

int policyd_prepare(const struct service_env *env, buf *err)
{
    /* DATA/policyd holds the exported table (root's) and the daemon's LMDB
     * state (DATA/policyd/state, created and chowned by the daemon).
     * RUN/policyd holds its socket: root:postfix 0750, so that no other
     * local user even reaches it (the daemon also checks the peer). */
    char *dir = xasprintf("%s/policyd", service_var(env, "data_dir"));
    char *sockdir = xasprintf("%s/policyd", service_var(env, "run_dir"));
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(sockdir, "root", "postfix", 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    free(sockdir);
    free(dir);
    return rc;
}

int policyd_start(const struct service_env *env, buf *err)
{
    /* Without -f the daemon returns once it is ready (exit 0), or exits 1
     * with the reason on stderr. */
    char *program = policyd_program();
    char *conf = xasprintf("%s/policyd/policyd.conf", service_var(env, "etc_dir"));
    const char *argv[] = {program, "-c", conf, NULL};
    buf output = BUF_INIT;
    int rc = process_run(argv, NULL, &output, err);
    if (rc > 0) {
        buf_printf(err, "%s exited with status %d", program, rc);
        if (output.len)
            buf_printf(err, ":\n%s", buf_cstr(&output));
    } else if (rc < 0) {
        buf_printf(err, " (emailng-policyd is looked for next to emailng, then on PATH; `make all install` builds and installs it)");
    }
    buf_free(&output);
    free(program);
    free(conf);
    return rc == 0 ? 0 : -1;
}

/* Sends a complete policy request on the unix socket (as root, one of the
 * peers the daemon serves) and waits for "action=...\n\n". */
int policyd_ready(const struct service_env *env, buf *detail)
{
    static const char request[] =
        "request=smtpd_access_policy\nprotocol_state=CONNECT\nprotocol_name=SMTP\n"
        "client_address=127.0.0.1\nclient_name=localhost\ninstance=emailng-ready\n\n";
    const char *path = service_var(env, "policyd_socket");
    int fd = unix_connect(path, detail);
    if (fd < 0)
        return -1;
    int rc = -1;
    char answer[512];
    size_t got = 0;
    if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof request - 1)) {
        buf_printf(detail, "%s: cannot send a policy request", path);
    } else {
        long long deadline = clock_ms() + READY_TIMEOUT_MS;
        for (;;) {
            long long left = deadline - clock_ms();
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
                buf_printf(detail, "%s: no answer to a policy request", path);
                break;
            }
            ssize_t n = recv(fd, answer + got, sizeof answer - 1 - got, 0);
            if (n <= 0) {
                buf_printf(detail, "%s: connection closed without an answer", path);
                break;
            }
            got += (size_t)n;
            answer[got] = '\0';
            if (got >= 2 && strcmp(answer + got - 2, "\n\n") == 0) {
                if (strncmp(answer, "action=", 7) == 0)
                    rc = 0;
                else
                    buf_printf(detail, "%s: unexpected answer", path);
                break;
            }
            if (got == sizeof answer - 1) {
                buf_printf(detail, "%s: answer too long", path);
                break;
            }
        }
    }
    close(fd);
    return rc;
}

pid_t policyd_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "policyd.pid");
}

int policyd_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(policyd_pid(env), "emailng-policyd", err);
}
