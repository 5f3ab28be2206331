/* server: see server.h. */
#include "process.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cache.h"
#include "daemon_log.h"
#include "decide.h"
#include "mtasts_client.h"
#include "netstring.h"
#include "resolver.h"

struct conn;

/* One key being decided by a worker, and the connections waiting for it. */
struct job {
    char *key;
    buf answer, note;
    enum decision_kind kind;
    struct timespec t0;
    double ms;
    struct conn **waiters;       /* NULL slots: connections gone meanwhile */
    size_t nwaiters, capwaiters;
    struct job *next;            /* in the work queue, then the done list */
    struct job *pending_next;    /* in the list of keys being decided */
};

struct server {
    struct event_base *base;
    struct server_config cfg;
    struct evconnlistener *listener;
    cache *answers;
    size_t nconn, npending;
    struct job *pending;         /* event loop only */
    time_t last_full_log;
    /* worker side: a queue in, a done list out, a pipe to wake the loop */
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct job *queue_head, *queue_tail, *done;
    int wake[2];
    struct event *wake_ev;
    struct mtasts_client mtasts;
};

struct conn {
    server *srv;
    struct bufferevent *bev;
    netstring req;
    struct job *waiting;         /* the job this connection waits for */
    struct timespec t0;
    char peer[48];
};

static void conn_process(struct conn *c);

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1000.0 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void log_answer(const char *key, enum decision_kind kind, const char *answer, const char *note, double ms,
                       int cached)
{
    buf line = BUF_INIT;
    daemon_log_begin(&line);
    buf_append_str(&line, "decision");
    daemon_log_field(&line, "domain", key);
    daemon_log_field(&line, "policy", decision_kind_name(kind));
    daemon_log_field(&line, "answer", answer);
    daemon_log_field(&line, "cached", cached ? "yes" : "no");
    if (note && *note)
        daemon_log_field(&line, "why", note);
    buf_printf(&line, " ms=%.3f", ms);
    daemon_log_end(&line);
}

static void conn_free(struct conn *c)
{
    if (c->waiting) {
        for (size_t i = 0; i < c->waiting->nwaiters; i++)
            if (c->waiting->waiters[i] == c)
                c->waiting->waiters[i] = NULL;
    }
    bufferevent_free(c->bev);
    netstring_free(&c->req);
    c->srv->nconn--;
    free(c);
}

static void conn_idle_timeouts(struct conn *c)
{
    struct timeval r = {c->srv->cfg.idle_timeout, 0}, w = {c->srv->cfg.idle_timeout, 0};
    bufferevent_set_timeouts(c->bev, c->waiting ? NULL : &r, &w);
}

static void conn_answer(struct conn *c, const char *answer)
{
    buf out = BUF_INIT;
    netstring_append(&out, answer, strlen(answer));
    if (bufferevent_write(c->bev, out.data, out.len) != 0)
        daemon_log("connection from %s: cannot queue the answer", c->peer);
    buf_free(&out);
}

/* ---- worker threads ---- */

static void *worker(void *arg)
{
    server *s = arg;
    struct dns_resolver *dns = dns_resolver_new();
    struct resolver dns_iface = {0};
    if (dns)
        dns_iface = dns_resolver_iface(dns);
    struct mtasts_source sts = mtasts_client_iface(&s->mtasts);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (s->queue_head == NULL)
            pthread_cond_wait(&s->work, &s->lock);
        struct job *j = s->queue_head;
        s->queue_head = j->next;
        if (s->queue_head == NULL)
            s->queue_tail = NULL;
        pthread_mutex_unlock(&s->lock);

        if (dns == NULL) {
            /* no resolver: DANE cannot be ruled out; fail closed */
            buf_append_str(&j->answer, "TEMP no DNS resolver (resolv.conf)");
            buf_append_str(&j->note, "res_ninit failed");
            j->kind = DECISION_TEMP;
        } else {
            j->kind = decide(j->key, &dns_iface, &sts, &j->answer, &j->note);
        }
        j->ms = ms_since(&j->t0);

        pthread_mutex_lock(&s->lock);
        j->next = s->done;
        s->done = j;
        pthread_mutex_unlock(&s->lock);
        char one = 1;
        while (write(s->wake[1], &one, 1) < 0 && errno == EINTR)
            ;
    }
    return NULL;
}

static void job_free(struct job *j)
{
    free(j->key);
    buf_free(&j->answer);
    buf_free(&j->note);
    free(j->waiters);
    free(j);
}

static void job_add_waiter(struct job *j, struct conn *c)
{
    if (j->nwaiters == j->capwaiters) {
        j->capwaiters = j->capwaiters ? 2 * j->capwaiters : 4;
        j->waiters = xrealloc(j->waiters, j->capwaiters * sizeof(*j->waiters));
    }
    j->waiters[j->nwaiters++] = c;
    c->waiting = j;
}

/* The event loop: finished jobs are cached and answered. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    server *s = arg;
    char drain[256];
    while (read(fd, drain, sizeof drain) > 0)
        ;
    pthread_mutex_lock(&s->lock);
    struct job *done = s->done;
    s->done = NULL;
    pthread_mutex_unlock(&s->lock);
    time_t now = time(NULL);
    while (done) {
        struct job *j = done;
        done = j->next;
        for (struct job **p = &s->pending; *p; p = &(*p)->pending_next)
            if (*p == j) {
                *p = j->pending_next;
                break;
            }
        s->npending--;
        /* a failure is not kept: the next delivery attempt asks again */
        if (j->kind != DECISION_TEMP)
            cache_put(s->answers, j->key, buf_cstr(&j->answer), (int)j->kind, now);
        log_answer(j->key, j->kind, buf_cstr(&j->answer), buf_cstr(&j->note), j->ms, 0);
        for (size_t i = 0; i < j->nwaiters; i++) {
            struct conn *c = j->waiters[i];
            if (c == NULL)
                continue;
            c->waiting = NULL;
            conn_answer(c, buf_cstr(&j->answer));
            netstring_reset(&c->req);
            conn_idle_timeouts(c);
            conn_process(c);        /* a request sent meanwhile */
        }
        job_free(j);
    }
}

/* ---- connections ---- */

static void conn_request(struct conn *c)
{
    server *s = c->srv;
    socketmap_request req;
    const char *why = NULL;
    if (socketmap_request_parse(c->req.data.data, c->req.data.len, MAX_KEY, &req, &why) != 0) {
        daemon_log("bad request from %s: %s", c->peer, why);
        conn_answer(c, "PERM bad request");
        netstring_reset(&c->req);
        return;
    }
    if (strcmp(req.name, s->cfg.map_name) != 0) {
        conn_answer(c, "PERM unknown map name");
        daemon_log("bad request from %s: map name is not %s", c->peer, s->cfg.map_name);
        socketmap_request_free(&req);
        netstring_reset(&c->req);
        return;
    }
    /* Postfix's keys are domains; the same domain in capitals is the same */
    for (char *p = req.key; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    int kind = 0;
    const char *hit = cache_get(s->answers, req.key, time(NULL), &kind);
    if (hit) {
        conn_answer(c, hit);
        log_answer(req.key, (enum decision_kind)kind, hit, NULL, ms_since(&c->t0), 1);
        socketmap_request_free(&req);
        netstring_reset(&c->req);
        return;
    }
    struct job *j = s->pending;
    while (j && strcmp(j->key, req.key) != 0)
        j = j->pending_next;
    if (j == NULL) {
        if (s->npending >= s->cfg.max_pending) {
            conn_answer(c, "TEMP too many lookups at once");
            log_answer(req.key, DECISION_TEMP, "TEMP too many lookups at once", "max_pending reached",
                       ms_since(&c->t0), 0);
            socketmap_request_free(&req);
            netstring_reset(&c->req);
            return;
        }
        j = xcalloc(1, sizeof(*j));
        j->key = req.key;
        req.key = NULL;
        j->t0 = c->t0;
        j->pending_next = s->pending;
        s->pending = j;
        s->npending++;
        pthread_mutex_lock(&s->lock);
        if (s->queue_tail)
            s->queue_tail->next = j;
        else
            s->queue_head = j;
        s->queue_tail = j;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->lock);
    }
    job_add_waiter(j, c);
    conn_idle_timeouts(c);
    socketmap_request_free(&req);
}

/* Reads requests while there is input and nothing is being decided for
 * this connection (Postfix asks one at a time). May free c. */
static void conn_process(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->waiting) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            return;
        if (c->req.want == 0 && c->req.digits == 0)
            clock_gettime(CLOCK_MONOTONIC, &c->t0);
        size_t used = 0;
        int rc = netstring_feed(&c->req, v.iov_base, v.iov_len, &used);
        evbuffer_drain(in, used);
        if (rc == NS_FATAL) {
            daemon_log("closing connection from %s: %s", c->peer, c->req.bad);
            conn_free(c);
            return;
        }
        if (rc == NS_DONE)
            conn_request(c);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what & BEV_EVENT_ERROR && errno != ECONNRESET && errno != EPIPE)
        daemon_log("connection from %s: %s", c->peer, strerror(errno));
    conn_free(c);
}

/* Root or one of the allowed users (the kernel's word: SO_PEERCRED);
 * no credentials: refused. */
static int peer_refused(server *s, int fd, char *peer, size_t size)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
        daemon_log("refusing a connection: no peer credentials (%s)", strerror(errno));
        return 1;
    }
    snprintf(peer, size, "uid %lu pid %ld", (unsigned long)cred.uid, (long)cred.pid);
    if (cred.uid == 0)
        return 0;
    for (size_t i = 0; i < s->cfg.npeers; i++)
        if (s->cfg.peers[i] == cred.uid)
            return 0;
    daemon_log("refusing a connection from %s: not root or Postfix", peer);
    return 1;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    server *s = arg;
    char peer[48];
    if (s->nconn >= s->cfg.max_connections) {
        time_t now = time(NULL);
        if (now != s->last_full_log)
            daemon_log("refusing connections: %zu open, the most allowed", s->nconn);
        s->last_full_log = now;
        evutil_closesocket(fd);
        return;
    }
    if (peer_refused(s, fd, peer, sizeof peer)) {
        evutil_closesocket(fd);
        return;
    }
    struct conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        daemon_log("closing connection from %s: cannot allocate its buffers", c->peer);
        evutil_closesocket(fd);
        free(c);
        return;
    }
    s->nconn++;
    netstring_init(&c->req, MAX_REQUEST);
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    /* never more than a request and a bit buffered: Postfix waits for answers */
    bufferevent_setwatermark(c->bev, EV_READ, 0, MAX_REQUEST + 64);
    conn_idle_timeouts(c);
    if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
        daemon_log("closing connection from %s: cannot watch it", c->peer);
        conn_free(c);
    }
}

int server_listen_unix(const char *path, buf *err)
{
    return unix_listen(path, 0600, (gid_t)-1, 1024, err);
}

server *server_new(struct event_base *base, const struct server_config *cfg, buf *err)
{
    server *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->cfg = *cfg;
    s->answers = cache_new(cfg->cache_entries, cfg->cache_ttl);
    s->mtasts = (struct mtasts_client){
        .socket_path = cfg->mtasts_socket, .map_name = cfg->map_name, .timeout_ms = cfg->mtasts_timeout_ms};
    if (pthread_mutex_init(&s->lock, NULL) != 0 || pthread_cond_init(&s->work, NULL) != 0) {
        buf_append_str(err, "cannot create the workers' lock");
        return NULL;
    }
    if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        buf_printf(err, "pipe: %s", strerror(errno));
        return NULL;
    }
    s->wake_ev = event_new(base, s->wake[0], EV_READ | EV_PERSIST, on_wake, s);
    if (s->wake_ev == NULL || event_add(s->wake_ev, NULL) != 0) {
        buf_append_str(err, "cannot watch the workers' pipe");
        return NULL;
    }
    for (int i = 0; i < cfg->workers; i++) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, worker, s);
        if (rc != 0) {
            buf_printf(err, "cannot start worker thread: %s", strerror(rc));
            return NULL;
        }
        pthread_detach(t);
    }
    s->listener = evconnlistener_new(base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, cfg->listen_fd);
    if (s->listener == NULL) {
        buf_append_str(err, "cannot listen with libevent");
        return NULL;
    }
    return s;
}
