/* mtasts_client: see mtasts_client.h. */
#include "mtasts_client.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "netstring.h"

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? ms : 0;
}

/* Waits for fd to be ready for events before the deadline. 0, or -1 (err). */
static int wait_for(int fd, short events, const struct timespec *deadline, buf *err)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)ms_left(deadline));
        if (n > 0)
            return 0;
        if (n == 0) {
            buf_append_str(err, "timed out");
            return -1;
        }
        if (errno != EINTR) {
            buf_printf(err, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

static int ask(void *ctx, const char *key, buf *answer, buf *err)
{
    struct mtasts_client *c = ctx;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += c->timeout_ms / 1000;
    deadline.tv_nsec += (long)(c->timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(c->socket_path) >= sizeof sun.sun_path) {
        buf_printf(err, "socket path %s too long", c->socket_path);
        return -1;
    }
    memcpy(sun.sun_path, c->socket_path, strlen(c->socket_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(err, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    buf out = BUF_INIT;
    netstring ns;
    netstring_init(&ns, MTASTS_MAX_ANSWER);
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0 && errno != EINPROGRESS && errno != EAGAIN) {
        buf_printf(err, "connect %s: %s", c->socket_path, strerror(errno));
        goto done;
    }
    buf req = BUF_INIT;
    buf_printf(&req, "%s %s", c->map_name, key);
    netstring_append(&out, req.data, req.len);
    buf_free(&req);
    for (size_t sent = 0; sent < out.len;) {
        if (wait_for(fd, POLLOUT, &deadline, err) != 0)
            goto done;
        ssize_t n = send(fd, out.data + sent, out.len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            buf_printf(err, "send to %s: %s", c->socket_path, strerror(errno));
            goto done;
        }
        sent += (size_t)n;
    }
    for (;;) {
        char chunk[512];
        if (wait_for(fd, POLLIN, &deadline, err) != 0)
            goto done;
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            buf_printf(err, "%s closed before its answer%s%s", c->socket_path, n < 0 ? ": " : "",
                       n < 0 ? strerror(errno) : "");
            goto done;
        }
        size_t used = 0;
        int st = netstring_feed(&ns, chunk, (size_t)n, &used);
        if (st == NS_FATAL) {
            buf_printf(err, "bad answer: %s", ns.bad);
            goto done;
        }
        if (st == NS_DONE)
            break;
    }
    if (ns.data.len && memchr(ns.data.data, 0, ns.data.len) != NULL) {
        buf_append_str(err, "bad answer: NUL byte");
        goto done;
    }
    buf_reset(answer);
    buf_append(answer, ns.data.data, ns.data.len);
    rc = 0;
done:
    netstring_free(&ns);
    buf_free(&out);
    close(fd);
    return rc;
}

struct mtasts_source mtasts_client_iface(struct mtasts_client *c)
{
    return (struct mtasts_source){.ask = ask, .ctx = c};
}
