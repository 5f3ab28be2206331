/* watch: see watch.h. */
#include "watch.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

void watch_init(watch *w, const struct sockaddr_storage *sa, socklen_t salen, long long now_ms)
{
    w->sa = *sa;
    w->salen = salen;
    w->fd = -1;
    w->connecting = 0;
    w->next_ms = now_ms;
    w->deadline_ms = 0;
}

void watch_close(watch *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    w->connecting = 0;
}

void watch_pollfd(const watch *w, struct pollfd *pfd)
{
    pfd->fd = w->fd;
    pfd->events = w->connecting ? POLLOUT : POLLIN;
    pfd->revents = 0;
}

long long watch_next_ms(const watch *w)
{
    if (w->fd < 0)
        return w->next_ms;
    return w->connecting ? w->deadline_ms : -1;
}

/* Closes and says what the failed connect means. */
static watch_event connect_failed(watch *w, int e, long long now_ms, long retry_ms, long slow_ms)
{
    watch_close(w);
    if (e == ECONNREFUSED) {
        w->next_ms = now_ms + retry_ms;
        return WATCH_REFUSED;
    }
    w->next_ms = now_ms + slow_ms;
    return WATCH_NONE;
}

static watch_event start_connect(watch *w, long long now_ms, long retry_ms, long slow_ms, long timeout_ms)
{
    w->fd = socket(w->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (w->fd < 0) {
        w->next_ms = now_ms + slow_ms;
        return WATCH_NONE;
    }
    if (connect(w->fd, (struct sockaddr *)&w->sa, w->salen) == 0)
        return WATCH_NONE;      /* held from now on */
    if (errno == EINPROGRESS) {
        w->connecting = 1;
        w->deadline_ms = now_ms + timeout_ms;
        return WATCH_NONE;
    }
    return connect_failed(w, errno, now_ms, retry_ms, slow_ms);
}

/* The held connection: drop what the server says; EOF or an error means
 * the store closed it (its daemons died, or it timed the idle session
 * out): connect again at once to tell which. */
static void read_held(watch *w, long long now_ms)
{
    char chunk[1024];
    for (;;) {
        ssize_t r = recv(w->fd, chunk, sizeof chunk, 0);
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        watch_close(w);
        w->next_ms = now_ms;
        return;
    }
}

watch_event watch_step(watch *w, short revents, long long now_ms, long retry_ms, long slow_ms,
                       long timeout_ms)
{
    if (w->fd < 0) {
        if (now_ms < w->next_ms)
            return WATCH_NONE;
        return start_connect(w, now_ms, retry_ms, slow_ms, timeout_ms);
    }
    if (w->connecting) {
        if (revents & (POLLOUT | POLLERR | POLLHUP)) {
            int e = 0;
            socklen_t len = sizeof(e);
            if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
                e = errno;
            if (e != 0)
                return connect_failed(w, e, now_ms, retry_ms, slow_ms);
            w->connecting = 0;
            return WATCH_NONE;
        }
        if (now_ms >= w->deadline_ms)
            return connect_failed(w, ETIMEDOUT, now_ms, retry_ms, slow_ms);
        return WATCH_NONE;
    }
    if (revents & (POLLIN | POLLERR | POLLHUP))
        read_held(w, now_ms);
    return WATCH_NONE;
}
