/* server: see server.h. */
#include "process.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define OUTPUT_MAX 65536
#define BAD_REQUESTS_MAX 3

struct server {
    struct event_base *base;
    const config *cfg;
    engine *eng;
    struct evconnlistener **listeners;
    size_t nlisteners;
    long nconn;
    time_t last_full_log;
    unsigned long refused;
    uid_t *peers;           /* besides root, the users allowed on a unix socket */
    size_t npeers;
};

typedef struct conn {
    server *srv;
    struct bufferevent *bev;
    request req;
    session sess;
    eval *ev;
    int waiting;            /* a request is being evaluated */
    int closing;            /* answer written, close when flushed */
    int bad;
    struct timespec t0;
    char peer[INET6_ADDRSTRLEN + 8];
} conn;

static void process(conn *c);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void server_resume(conn *c);
static void relisten(evutil_socket_t fd, short what, void *arg);

static void conn_free(conn *c)
{
    if (c->ev)
        eval_cancel(c->ev);
    bufferevent_free(c->bev);
    request_free(&c->req);
    session_free(&c->sess);
    c->srv->nconn--;
    free(c);
}

static void set_timeouts(conn *c)
{
    long secs = c->req.started ? c->srv->cfg->request_timeout : c->srv->cfg->idle_timeout;
    if (c->waiting)
        secs = c->srv->cfg->idle_timeout;
    struct timeval r = {secs, 0}, w = {c->srv->cfg->request_timeout, 0};
    bufferevent_set_timeouts(c->bev, &r, &w);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1000.0 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The answer goes out at once with send() when nothing is waiting before
 * it (no write event to add and remove in libevent); whatever the socket
 * does not take is left to the bufferevent, which also reports errors. */
static void answer(conn *c, const char *action)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct iovec iov[3] = {
        {(void *)"action=", 7},
        {(void *)action, strlen(action)},
        {(void *)"\n\n", 2},
    };
    size_t sent = 0;
    if (evbuffer_get_length(out) == 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
        ssize_t n;
        do
            n = sendmsg(bufferevent_getfd(c->bev), &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n > 0)
            sent = (size_t)n;
    }
    for (size_t i = 0; i < 3; i++) {
        if (sent >= iov[i].iov_len) {
            sent -= iov[i].iov_len;
            continue;
        }
        if (evbuffer_add(out, (const char *)iov[i].iov_base + sent, iov[i].iov_len - sent) != 0)
            daemon_log("connection from %s: cannot queue the answer", c->peer);
        sent = 0;
    }
}

/* Answer first, then log: the log line is not in the answer's way. */
static void on_done(void *arg, const decision *d)
{
    conn *c = arg;
    c->ev = NULL;
    double ms = ms_since(&c->t0);
    answer(c, buf_cstr((buf *)&d->action));
    stats_request(c->srv->eng->stats, request_get(&c->req, "protocol_state"), buf_cstr((buf *)&d->action),
                  ms / 1000.0);
    log_decision(&c->req, buf_cstr((buf *)&d->action), buf_cstr((buf *)&d->reason), ms);
    request_reset(&c->req);
    c->waiting = 0;
}

static void on_done_async(void *arg, const decision *d)
{
    conn *c = arg;
    on_done(arg, d);
    set_timeouts(c);
    process(c);         /* requests that came in meanwhile */
}

static void on_written(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn *c = arg;
    if (c->closing) {
        conn_free(c);
        return;
    }
    /* output drained below the watermark: serve what is waiting */
    bufferevent_setcb(c->bev, NULL, NULL, NULL, c);
    server_resume(c);
}

static void server_resume(conn *c)
{
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ);
    process(c);
}

static void close_after_answer(conn *c)
{
    c->closing = 1;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, NULL, on_written, on_event, c);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        conn_free(c);
}

/* Parses and serves requests while there is input and nothing waits.
 * May free c (returns then). */
static void process(conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->waiting && !c->closing) {
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUTPUT_MAX) {
            /* the client does not read its answers: wait for it */
            bufferevent_setcb(c->bev, NULL, on_written, on_event, c);
            bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            break;
        size_t used = 0;
        if (!c->req.started)
            clock_gettime(CLOCK_MONOTONIC, &c->t0);
        int rc = request_feed(&c->req, v.iov_base, v.iov_len, &used);
        evbuffer_drain(in, used);
        if (rc == REQ_FATAL) {
            daemon_log("closing connection from %s: request larger than %zu bytes without an end",
                    c->peer, c->srv->cfg->req.max_request);
            conn_free(c);
            return;
        }
        if (rc == REQ_MORE)
            continue;
        if (c->req.bad) {
            double ms = ms_since(&c->t0);
            answer(c, c->srv->cfg->on_error);
            stats_bad_request(c->srv->eng->stats, ms / 1000.0);
            buf reason = BUF_INIT;
            buf_printf(&reason, "bad request from %s: %s", c->peer, c->req.bad);
            log_decision(&c->req, c->srv->cfg->on_error, reason.data, ms);
            buf_free(&reason);
            request_reset(&c->req);
            if (++c->bad >= BAD_REQUESTS_MAX) {
                daemon_log("closing connection from %s: %d bad requests", c->peer, c->bad);
                close_after_answer(c);
                return;
            }
            continue;
        }
        c->waiting = 1;
        c->ev = engine_eval(c->srv->eng, &c->sess, &c->req, on_done, c);
        if (c->ev) {
            /* waiting for a store or the SPF helper; finish later */
            c->waiting = 1;
            eval_set_done(c->ev, on_done_async);
            set_timeouts(c);
            return;
        }
    }
    set_timeouts(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    conn *c = arg;
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->req.started && !c->waiting)
            daemon_log("closing connection from %s: request not finished in %ld s", c->peer,
                    c->srv->cfg->request_timeout);
        else if (what & BEV_EVENT_WRITING)
            daemon_log("closing connection from %s: it does not read its answers", c->peer);
        else if (c->waiting) {
            /* the evaluation bounds its own time; keep waiting */
            set_timeouts(c);
            bufferevent_enable(c->bev, EV_READ);
            return;
        } else
            daemon_log("closing idle connection from %s after %ld s", c->peer, c->srv->cfg->idle_timeout);
    } else if ((what & BEV_EVENT_EOF) && c->req.started && !c->closing) {
        daemon_log("connection from %s closed in the middle of a request", c->peer);
    } else if (what & BEV_EVENT_ERROR) {
        if (errno != ECONNRESET && errno != EPIPE)
            daemon_log("connection from %s: %s", c->peer, strerror(errno));
    }
    conn_free(c);
}

/* A unix socket's peer must be root or one of peer_users (the kernel's
 * word: SO_PEERCRED), so that only Postfix can have its mail counted
 * against someone's send limits. Fails closed: no credentials, refused.
 * Fills peer ("uid N pid P") for the log; one line per refused peer. */
static int peer_refused(server *s, int fd, char *peer, size_t size)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
        daemon_log("refusing a connection on the unix socket: no peer credentials (%s)", strerror(errno));
        return 1;
    }
    snprintf(peer, size, "uid %lu pid %ld", (unsigned long)cred.uid, (long)cred.pid);
    if (cred.uid == 0)
        return 0;
    for (size_t i = 0; i < s->npeers; i++)
        if (s->peers[i] == cred.uid)
            return 0;
    daemon_log("refusing a connection from %s: not root or one of peer_users", peer);
    return 1;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)l;
    (void)salen;
    server *s = arg;
    if (s->nconn >= s->cfg->max_connections) {
        s->refused++;
        time_t now = time(NULL);
        if (now != s->last_full_log) {
            daemon_log("refusing connections: %ld open, the most allowed (max_connections); %lu refused so far",
                    s->nconn, s->refused);
            s->last_full_log = now;
        }
        evutil_closesocket(fd);
        return;
    }
    char peer[INET6_ADDRSTRLEN + 8];
    if (sa->sa_family == AF_UNIX && peer_refused(s, fd, peer, sizeof(peer))) {
        evutil_closesocket(fd);
        return;
    }
    conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    s->nconn++;
    if (sa->sa_family == AF_UNIX)
        snprintf(c->peer, sizeof(c->peer), "%s", peer);
    else if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof(c->peer));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->peer, sizeof(c->peer));
    else
        snprintf(c->peer, sizeof(c->peer), "local");
    int one = 1;
    if (sa->sa_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Fail closed: without its bufferevent the connection cannot be
     * served; closing it makes Postfix apply its own default_action. */
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        daemon_log("closing connection from %s: cannot allocate its buffers", c->peer);
        evutil_closesocket(fd);
        s->nconn--;
        free(c);
        return;
    }
    request_init(&c->req, &s->cfg->req);
    session_init(&c->sess);
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, s->cfg->req.max_request + 4096);
    set_timeouts(c);
    if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
        daemon_log("closing connection from %s: cannot watch it", c->peer);
        conn_free(c);
    }
}

static void on_listen_error(struct evconnlistener *l, void *arg)
{
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    daemon_log("accept: %s; pausing new connections for a second", evutil_socket_error_to_string(err));
    evconnlistener_disable(l);
    struct timeval tv = {1, 0};
    /* Without the timer the listener would stay off for good: accept on. */
    if (event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT, relisten, l, &tv) != 0) {
        daemon_log("cannot pause new connections; accepting again at once");
        evconnlistener_enable(l);
    }
}

static void relisten(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

int listen_on(const char *item, gid_t gid, buf *err)
{
    const char *path = listen_unix_path(item);
    if (path)
        return unix_listen(path, 0660, gid, 4096, err);   /* Postfix's group */
    struct sockaddr_storage sa;
    socklen_t len;
    if (parse_hostport(item, &sa, &len) != 0) {
        buf_printf(err, "listen: \"%s\" is not a numeric host:port", item);
        return -1;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, 4096) != 0) {
        buf_printf(err, "cannot listen on %s: %s", item, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

server *server_new(struct event_base *base, const config *cfg, engine *eng,
                   const int *fds, size_t nfds, const uid_t *peers, size_t npeers)
{
    server *s = xcalloc(1, sizeof(*s));
    s->peers = xcalloc(npeers ? npeers : 1, sizeof(uid_t));
    if (npeers)
        memcpy(s->peers, peers, npeers * sizeof(uid_t));
    s->npeers = npeers;
    s->base = base;
    s->cfg = cfg;
    s->eng = eng;
    s->listeners = xcalloc(nfds ? nfds : 1, sizeof(*s->listeners));
    for (size_t i = 0; i < nfds; i++) {
        s->listeners[i] = evconnlistener_new(base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, fds[i]);
        if (s->listeners[i] == NULL) {
            /* the caller gives up: the sockets are closed, none half-served */
            for (size_t j = i; j < nfds; j++)
                evutil_closesocket(fds[j]);
            s->nlisteners = i;
            server_free(s);
            return NULL;
        }
        evconnlistener_set_error_cb(s->listeners[i], on_listen_error);
        s->nlisteners = i + 1;
    }
    return s;
}

void server_free(server *s)
{
    for (size_t i = 0; i < s->nlisteners; i++)
        evconnlistener_free(s->listeners[i]);
    free(s->listeners);
    free(s->peers);
    free(s);
}

long server_connections(const server *s)
{
    return s->nconn;
}
