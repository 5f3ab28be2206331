/* line_service: see line_service.h. */
#include "line_service.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon.h"
#include "daemon_log.h"
#include "process.h"

int line_service_group(const char *name, const char *group, gid_t *gid)
{
    struct group *g = getgrnam(group);
    if (g == NULL) {
        fprintf(stderr, "%s: no group %s\n", name, group);
        return -1;
    }
    *gid = g->gr_gid;
    return 0;
}

int line_service_run(const struct line_service *s)
{
    buf err = BUF_INIT;
    if (daemon_log_open(s->name, s->log) != 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", s->name, s->log, strerror(errno));
        return 1;
    }
    int listener = unix_listen(s->socket, 0660, s->gid, 16, &err);
    if (listener < 0) {
        daemon_log("fatal: %s", buf_cstr(&err));
        buf_free(&err);
        return 1;
    }
    daemon_signals_catch();
    if (s->pid_file && *s->pid_file && daemon_pid_file_create(s->pid_file, &err) != 0) {
        daemon_log("fatal: %s", buf_cstr(&err));
        buf_free(&err);
        close(listener);
        return 1;
    }
    daemon_log("listening on %s (gid %ld)", s->socket, (long)s->gid);
    while (!daemon_signal_stop()) {
        if (daemon_signal_hup())
            daemon_log_reopen_now();
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        /* One client at a time, and none may hold the daemon for long. */
        struct timeval tv = {.tv_sec = s->io_timeout_seconds};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0)
            s->serve(s->context, fd);
        close(fd);
    }
    close(listener);
    unlink(s->socket);
    daemon_log("stopped");
    buf_free(&err);
    return 0;
}

int line_read(int fd, buf *line, size_t max)
{
    buf_reset(line);
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\0')
            return -1;
        if (c == '\n')
            break;
        if (line->len >= max + 1)       /* room for a CR before the LF */
            return -1;
        buf_append_char(line, c);
    }
    if (line->len && line->data[line->len - 1] == '\r')
        line->data[--line->len] = '\0';
    return line->len <= max ? 0 : -1;
}

int line_say(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        text += n;
        len -= (size_t)n;
    }
    return 0;
}
