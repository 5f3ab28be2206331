/* loadgen: closed-loop load generator for Postfix policy servers
 * (SMTPD_POLICY_README protocol), used by bench/policyd for every peer.
 *
 * N connections; each sends the requests of FILE (requests end with an
 * empty line), one request in flight per connection as Postfix does,
 * starting at its own offset (connection c at request c*K/N) and cycling.
 * Every latency (send of the request's first byte to the answer's empty
 * line) of a request sent after the warm-up is recorded in an array
 * allocated before the run. Stops after
 * the duration and/or request count, lets the requests in flight finish,
 * and prints one line of key=value pairs:
 *   conns= seconds= answers= errors= bad= rps= p50_ms= p90_ms= p99_ms=
 *   p999_ms= max_ms=
 * (errors: connections lost or timed out while a request was in flight;
 * the connection is reopened. bad: answers not starting with "action=").
 *
 * loadgen -a ADDR -p PORT -f FILE [-c CONNS] [-d SECONDS] [-n REQUESTS]
 *         [-w WARMUP_SECONDS] [-t TIMEOUT_SECONDS] [-m MAX_SAMPLES]
 * Single-threaded, epoll, no dependencies. C17, Linux. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RBUF 65536

enum { C_CONNECTING, C_WRITING, C_READING, C_DONE };

typedef struct {
    const char *data;
    size_t len;
} request;

typedef struct {
    int fd;
    int state;
    size_t next;        /* index of the request to send */
    size_t woff;        /* bytes of the current request written */
    size_t rlen;
    uint64_t t_send;    /* ns, CLOCK_MONOTONIC */
    char rbuf[RBUF];
} conn;

static request *reqs;
static size_t nreqs;
static struct sockaddr_storage addr;
static socklen_t addrlen;
static int ep;

static uint64_t *lat;
static size_t nlat, maxlat;
static uint64_t errors, bad, sent, max_requests;
static uint64_t t_measure;      /* completions from here on are recorded */
static int stopping;
static long open_conns;         /* connections not yet C_DONE */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen -a ADDR -p PORT -f FILE [-c CONNS] [-d SECONDS] [-n REQUESTS]\n"
                    "               [-w WARMUP_SECONDS] [-t TIMEOUT_SECONDS] [-m MAX_SAMPLES]\n");
    exit(2);
}

static void load_requests(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die(path);
    struct stat st;
    if (fstat(fd, &st) != 0)
        die(path);
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    if (!data)
        die("malloc");
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die(path);
        got += (size_t)n;
    }
    close(fd);
    data[size] = '\0';
    size_t cap = 1024;
    reqs = malloc(cap * sizeof(*reqs));
    if (!reqs)
        die("malloc");
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *e = memmem(p, (size_t)(end - p), "\n\n", 2);
        if (!e)
            break;
        if (nreqs == cap) {
            cap *= 2;
            reqs = realloc(reqs, cap * sizeof(*reqs));
            if (!reqs)
                die("realloc");
        }
        reqs[nreqs].data = p;
        reqs[nreqs].len = (size_t)(e + 2 - p);
        nreqs++;
        p = e + 2;
    }
    if (nreqs == 0) {
        fprintf(stderr, "loadgen: %s: no request (requests end with an empty line)\n", path);
        exit(2);
    }
}

static void ep_ctl(int op, conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &ev) != 0)
        die("epoll_ctl");
}

static void conn_open(conn *c)
{
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->rlen = 0;
    c->woff = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, addrlen) == 0) {
        c->state = C_WRITING;
    } else if (errno == EINPROGRESS) {
        c->state = C_CONNECTING;
    } else {
        die("connect");
    }
    ep_ctl(EPOLL_CTL_ADD, c, EPOLLOUT);
}

static void conn_close(conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

/* Begins the next request, or ends the connection when the run is over. */
static void start_request(conn *c)
{
    if (stopping || (max_requests && sent >= max_requests)) {
        conn_close(c);
        c->state = C_DONE;
        open_conns--;
        return;
    }
    sent++;
    c->woff = 0;
    c->rlen = 0;
    c->state = C_WRITING;
    c->t_send = now_ns();
}

/* Writes what it can of the current request; 0 ok, -1 connection lost. */
static int do_write(conn *c)
{
    const request *r = &reqs[c->next];
    while (c->woff < r->len) {
        ssize_t n = send(c->fd, r->data + c->woff, r->len - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        c->woff += (size_t)n;
    }
    c->state = C_READING;
    return 0;
}

static void lost(conn *c)
{
    errors++;
    conn_close(c);
    c->next = (c->next + 1) % nreqs;
    if (stopping || (max_requests && sent >= max_requests)) {
        c->state = C_DONE;
        open_conns--;
        return;
    }
    conn_open(c);
    sent++;
    c->t_send = now_ns();
}

/* Only requests sent after the warm-up count: the first answer on a
 * connection to a peer that starts a process per connection (policyd-spf
 * under spawn(8)) would otherwise include the process start-up. */
static void answered(conn *c, uint64_t t)
{
    if (c->t_send >= t_measure) {
        if (nlat < maxlat)
            lat[nlat++] = t - c->t_send;
        else
            stopping = 1;
        if (c->rlen < 7 || memcmp(c->rbuf, "action=", 7) != 0)
            bad++;
    }
    c->next = (c->next + 1) % nreqs;
    start_request(c);
}

static void on_event(conn *c, uint32_t events)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            errno = err;
            die("connect");
        }
        c->state = C_WRITING;
    }
    if (c->state == C_WRITING) {
        if (do_write(c) != 0) {
            lost(c);
            return;
        }
        if (c->state == C_READING)
            ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN);
        return;
    }
    if (c->state != C_READING || !(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    for (;;) {
        if (c->rlen == RBUF) {
            fprintf(stderr, "loadgen: answer longer than %d bytes\n", RBUF);
            exit(2);
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            lost(c);
            return;
        }
        size_t from = c->rlen ? c->rlen - 1 : 0;
        c->rlen += (size_t)n;
        if (memmem(c->rbuf + from, c->rlen - from, "\n\n", 2)) {
            uint64_t t = now_ns();
            answered(c, t);
            if (c->state == C_WRITING) {
                if (do_write(c) != 0) {
                    lost(c);
                    return;
                }
                if (c->state == C_WRITING)      /* rare: the socket buffer is full */
                    ep_ctl(EPOLL_CTL_MOD, c, EPOLLOUT);
            }
            return;
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank */
static double pct_ms(double p)
{
    if (nlat == 0)
        return NAN;
    double x = p * (double)nlat;
    size_t k = (size_t)x;
    if ((double)k < x)
        k++;
    if (k < 1)
        k = 1;
    if (k > nlat)
        k = nlat;
    return (double)lat[k - 1] / 1e6;
}

int main(int argc, char **argv)
{
    const char *host = NULL, *port = NULL, *file = NULL;
    long conns = 10;
    double duration = 0, warmup = 0, timeout = 30;
    int opt;
    maxlat = 0;
    while ((opt = getopt(argc, argv, "a:p:f:c:d:n:w:t:m:")) != -1) {
        switch (opt) {
        case 'a': host = optarg; break;
        case 'p': port = optarg; break;
        case 'f': file = optarg; break;
        case 'c': conns = strtol(optarg, NULL, 10); break;
        case 'd': duration = strtod(optarg, NULL); break;
        case 'n': max_requests = strtoull(optarg, NULL, 10); break;
        case 'w': warmup = strtod(optarg, NULL); break;
        case 't': timeout = strtod(optarg, NULL); break;
        case 'm': maxlat = strtoull(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (!host || !port || !file || conns < 1 || conns > 1000000 || (duration <= 0 && !max_requests) ||
        warmup < 0 || timeout <= 0)
        usage();
    if (!maxlat)
        maxlat = max_requests ? max_requests : 50u * 1000 * 1000;

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s port %s: %s\n", host, port, gai_strerror(rc));
        return 2;
    }
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    load_requests(file);
    struct rlimit rl = {(rlim_t)conns + 64, (rlim_t)conns + 64};
    struct rlimit cur;
    if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_cur < rl.rlim_cur)
        setrlimit(RLIMIT_NOFILE, &rl);

    /* every sample slot is allocated and touched before the run */
    lat = malloc(maxlat * sizeof(*lat));
    conn *cs = calloc((size_t)conns, sizeof(*cs));
    struct epoll_event *evs = malloc((size_t)conns * sizeof(*evs));
    if (!lat || !cs || !evs)
        die("malloc");
    memset(lat, 0, maxlat * sizeof(*lat));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");

    uint64_t t0 = now_ns();
    t_measure = t0 + (uint64_t)(warmup * 1e9);
    uint64_t deadline = duration > 0 ? t_measure + (uint64_t)(duration * 1e9) : UINT64_MAX;
    uint64_t tmo = (uint64_t)(timeout * 1e9);
    for (long i = 0; i < conns; i++) {
        conn *c = &cs[i];
        c->next = (size_t)((unsigned long long)i * nreqs / (unsigned long long)conns);
        conn_open(c);
        sent++;
        c->t_send = now_ns();
    }
    if (max_requests && sent > max_requests)
        max_requests = sent;
    open_conns = conns;
    uint64_t last_check = t0;
    while (open_conns > 0) {
        uint64_t t = now_ns();
        if (!stopping && t >= deadline)
            stopping = 1;
        int wait_ms = 100;
        if (!stopping && deadline - t < 100000000u)
            wait_ms = (int)((deadline - t) / 1000000u) + 1;
        if (t - last_check >= 100000000u) {     /* per-request timeouts */
            last_check = t;
            for (long i = 0; i < conns; i++)
                if (cs[i].state != C_DONE && t - cs[i].t_send > tmo)
                    lost(&cs[i]);
        }
        int n = epoll_wait(ep, evs, (int)conns, wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
    }
    uint64_t t_end = now_ns();
    double secs = (double)(t_end - (t_measure < t_end ? t_measure : t_end)) / 1e9;
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    printf("conns=%ld seconds=%.3f answers=%zu errors=%llu bad=%llu rps=%.1f p50_ms=%.3f p90_ms=%.3f "
           "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
           conns, secs, nlat, (unsigned long long)errors, (unsigned long long)bad,
           secs > 0 ? (double)nlat / secs : 0.0, pct_ms(0.50), pct_ms(0.90), pct_ms(0.99), pct_ms(0.999),
           nlat ? (double)lat[nlat - 1] / 1e6 : NAN);
    return 0;
}
