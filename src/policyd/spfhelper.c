/* spfhelper: see spfhelper.h. */
#include "spfhelper.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strmap.h"

#define QUEUE_MAX 10000

/* ASan reserves terabytes of address space: no RLIMIT_AS under it */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- child */

/* The receiving host's name in Received-SPF comments: the site's public
 * name, never the machine's own (S7). Set in the helper child. */
static const char *receiver_name;

static void run_check(const char *ip, const char *helo, const char *sender,
                      const char *zone_domain, const char *zone_txt, spf_answer *out)
{
    SPF_server_t *server;
    if (zone_domain) {
        SPF_dns_server_t *zone = SPF_dns_zone_new(NULL, "fuzz", 0);
        if (!zone) {
            spf_answer_set(out, "temperror", "", "no DNS zone");
            return;
        }
        SPF_dns_zone_add_str(zone, zone_domain, ns_t_txt, NETDB_SUCCESS, zone_txt);
        server = SPF_server_new_dns(zone, 0);
    } else {
        server = SPF_server_new(SPF_DNS_CACHE, 0);
    }
    if (!server) {
        spf_answer_set(out, "temperror", "", "cannot start libspf2");
        return;
    }
    char host[256];
    if (receiver_name && *receiver_name)
        snprintf(host, sizeof(host), "%s", receiver_name);
    else if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    SPF_server_set_rec_dom(server, host);
    SPF_request_t *req = SPF_request_new(server);
    SPF_response_t *resp = NULL;
    int bad_ip = strchr(ip, ':') ? SPF_request_set_ipv6_str(req, ip) : SPF_request_set_ipv4_str(req, ip);
    if (bad_ip) {
        spf_answer_set(out, "permerror", "", "bad client address");
        goto done;
    }
    if (*helo)
        SPF_request_set_helo_dom(req, helo);
    if (*sender)
        SPF_request_set_env_from(req, sender);
    SPF_request_query_mailfrom(req, &resp);
    if (!resp) {
        spf_answer_set(out, "temperror", "", "no SPF response");
        goto done;
    }
    const char *value = SPF_response_get_received_spf_value(resp);
    const char *comment = SPF_response_get_smtp_comment(resp);
    spf_answer_set(out, SPF_strresult(SPF_response_result(resp)), value ? value : "",
                   comment ? comment : "");
done:
    if (resp)
        SPF_response_free(resp);
    SPF_request_free(req);
    SPF_server_free(server);
}

typedef struct child {
    pid_t pid;
    int fd;
    unsigned long id;
    long long deadline;
    buf out;
} child;

/* Forks a check child; its answer line comes on the returned child.fd. */
static int spawn(child *ch, unsigned long id, const char *ip, const char *helo,
                 const char *sender, const char *zone_domain, const char *zone_txt,
                 long timeout_ms, int keep_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);   /* libspf2 prints errors; keep them off our log */
        }
        (void)keep_fd;
        /* close every other descriptor, including the daemon socket */
        if (p[1] != 3) {
            dup2(p[1], 3);
            p[1] = 3;
        }
        close_range(4, ~0U, 0);
        struct rlimit r;
        r.rlim_cur = r.rlim_max = 256ul << 20;
        if (!UNDER_ASAN)
            setrlimit(RLIMIT_AS, &r);
        r.rlim_cur = r.rlim_max = (rlim_t)(timeout_ms / 1000 + 2);
        setrlimit(RLIMIT_CPU, &r);
        r.rlim_cur = r.rlim_max = 0;
        setrlimit(RLIMIT_NPROC, &r);
        setrlimit(RLIMIT_CORE, &r);
        alarm((unsigned)(timeout_ms / 1000 + 2));
        spf_answer a;
        spf_answer_init(&a);
        run_check(ip, helo, sender, zone_domain, zone_txt, &a);
        buf line = BUF_INIT;
        spf_wire_answer(&line, id, a.result, buf_cstr(&a.value), buf_cstr(&a.comment));
        size_t off = 0;
        while (off < line.len) {
            ssize_t n = write(p[1], line.data + off, line.len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        _exit(0);
    }
    close(p[1]);
    ch->pid = pid;
    ch->fd = p[0];
    ch->id = id;
    ch->deadline = now_ms() + timeout_ms;
    buf_init(&ch->out);
    return 0;
}

/* Reads what is there; returns 1 at EOF or overflow. */
static int child_read(child *ch)
{
    char tmp[4096];
    ssize_t n = read(ch->fd, tmp, sizeof(tmp));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return 1;
    if (ch->out.len + (size_t)n > SPF_LINE_MAX + 2)
        return 1;
    buf_append(&ch->out, tmp, (size_t)n);
    return 0;
}

/* The answer line for a finished (or killed) child. */
static void child_answer(child *ch, int timed_out, buf *line)
{
    if (timed_out) {
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, NULL, 0);
        spf_wire_answer(line, ch->id, "temperror", "", "SPF check timed out");
    } else {
        int status = 0;
        waitpid(ch->pid, &status, 0);
        unsigned long id;
        spf_answer a;
        spf_answer_init(&a);
        char *nl = ch->out.data ? memchr(ch->out.data, '\n', ch->out.len) : NULL;
        if (nl) {
            *nl = '\0';
            if (spf_wire_parse_answer(ch->out.data, &id, &a) == 0 && id == ch->id) {
                spf_wire_answer(line, ch->id, a.result, a.value.data ? a.value.data : "",
                                a.comment.data ? a.comment.data : "");
                spf_answer_free(&a);
                goto out;
            }
        }
        spf_answer_free(&a);
        spf_wire_answer(line, ch->id, "temperror", "",
                        WIFSIGNALED(status) ? "SPF helper crashed" : "SPF helper gave no answer");
    }
out:
    close(ch->fd);
    buf_free(&ch->out);
}

void spf_check_isolated(const char *ip, const char *helo, const char *sender,
                        const char *zone_domain, const char *zone_txt,
                        long timeout_ms, spf_answer *out)
{
    child ch;
    if (spawn(&ch, 1, ip, helo, sender, zone_domain, zone_txt, timeout_ms, -1) != 0) {
        spf_answer_set(out, "temperror", "", "cannot fork");
        return;
    }
    int timed_out = 0;
    for (;;) {
        long long left = ch.deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {ch.fd, POLLIN, 0};
        int n = poll(&pfd, 1, (int)left);
        if (n > 0 && child_read(&ch))
            break;
    }
    buf line = BUF_INIT;
    child_answer(&ch, timed_out, &line);
    unsigned long id;
    if (line.len)
        line.data[line.len - 1] = '\0';
    if (spf_wire_parse_answer(line.data, &id, out) != 0)
        spf_answer_set(out, "temperror", "", "bad answer");
    buf_free(&line);
}

/* --------------------------------------------------------------- master */

typedef struct qreq {
    unsigned long id;
    char *ip, *helo, *sender;
} qreq;

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(0);   /* the daemon is gone */
        s += w;
        n -= (size_t)w;
    }
}

static void master_main(int fd, const config *cfg)
{
    long max = cfg->spf.max_checks;
    child *kids = xcalloc((size_t)max, sizeof(child));
    size_t nkids = 0;
    qreq *queue = xcalloc(QUEUE_MAX, sizeof(qreq));
    size_t qhead = 0, qlen = 0;
    buf in = BUF_INIT, out = BUF_INIT;
    struct pollfd *pfd = xcalloc((size_t)max + 1, sizeof(struct pollfd));
    int eof = 0;
    while (!eof || nkids || qlen) {
        /* start queued checks */
        while (qlen && nkids < (size_t)max) {
            qreq *q = &queue[qhead];
            if (spawn(&kids[nkids], q->id, q->ip, q->helo, q->sender, NULL, NULL,
                      cfg->spf.timeout_ms, fd) == 0)
                nkids++;
            else {
                buf_reset(&out);
                spf_wire_answer(&out, q->id, "temperror", "", "cannot fork an SPF check");
                write_all(fd, out.data, out.len);
            }
            free(q->ip);
            free(q->helo);
            free(q->sender);
            qhead = (qhead + 1) % QUEUE_MAX;
            qlen--;
        }
        if (eof && !nkids && !qlen)
            break;
        long long now = now_ms(), next = now + 1000;
        for (size_t i = 0; i < nkids; i++) {
            pfd[i].fd = kids[i].fd;
            pfd[i].events = POLLIN;
            if (kids[i].deadline < next)
                next = kids[i].deadline;
        }
        pfd[nkids].fd = eof ? -1 : fd;
        pfd[nkids].events = POLLIN;
        int rc = poll(pfd, nkids + 1, (int)(next > now ? next - now : 0));
        if (rc < 0 && errno != EINTR)
            _exit(1);
        now = now_ms();
        for (size_t i = 0; i < nkids;) {
            int done = 0, timed_out = 0;
            if (rc > 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                done = child_read(&kids[i]);
            if (!done && now >= kids[i].deadline)
                done = timed_out = 1;
            if (done) {
                buf_reset(&out);
                child_answer(&kids[i], timed_out, &out);
                write_all(fd, out.data, out.len);
                kids[i] = kids[--nkids];
                pfd[i] = pfd[nkids];
                pfd[nkids].revents = 0;
                continue;
            }
            i++;
        }
        if (rc > 0 && pfd[nkids].fd >= 0 && (pfd[nkids].revents & (POLLIN | POLLHUP | POLLERR))) {
            char tmp[16384];
            ssize_t n = read(fd, tmp, sizeof(tmp));
            if (n <= 0 && !(n < 0 && errno == EINTR)) {
                eof = 1;
            } else if (n > 0) {
                buf_append(&in, tmp, (size_t)n);
                char *start = in.data, *nl;
                while ((nl = memchr(start, '\n', in.len - (size_t)(start - in.data)))) {
                    *nl = '\0';
                    unsigned long id;
                    const char *ip, *helo, *sender;
                    if (spf_wire_parse_request(start, &id, &ip, &helo, &sender) == 0) {
                        if (qlen >= QUEUE_MAX) {
                            buf_reset(&out);
                            spf_wire_answer(&out, id, "temperror", "", "too many SPF checks waiting");
                            write_all(fd, out.data, out.len);
                        } else {
                            qreq *q = &queue[(qhead + qlen) % QUEUE_MAX];
                            q->id = id;
                            q->ip = xstrdup(ip);
                            q->helo = xstrdup(helo);
                            q->sender = xstrdup(sender);
                            qlen++;
                        }
                    }
                    start = nl + 1;
                }
                size_t rest = in.len - (size_t)(start - in.data);
                if (rest > SPF_LINE_MAX)
                    rest = 0;           /* a line too long from the daemon: drop it */
                memmove(in.data, start, rest);
                in.len = rest;
                in.data[rest] = '\0';
            }
        }
    }
    _exit(0);
}

static int drop_to(const char *user, buf *err)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        buf_printf(err, "the system user \"%s\" does not exist", user);
        return -1;
    }
    if (getuid() == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
            buf_printf(err, "cannot switch to user %s: %s", user, strerror(errno));
            return -1;
        }
        if (setuid(0) == 0) {
            buf_printf(err, "could regain root after switching to %s", user);
            return -1;
        }
    }
    return 0;
}

int spf_helper_start(const config *cfg, pid_t *pid, buf *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        buf_printf(err, "socketpair: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) {
        buf_printf(err, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (p == 0) {
        close(sv[0]);
        if (sv[1] != 3) {
            dup2(sv[1], 3);
            sv[1] = 3;
        }
        close_range(4, ~0U, 0);     /* listening sockets, log file */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, "policyd-spf");
        receiver_name = cfg->spf.receiver;
        buf e = BUF_INIT;
        if (cfg->spf.resolv_conf && *cfg->spf.resolv_conf) {
            if (unshare(CLONE_NEWNS) != 0 ||
                mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
                mount(cfg->spf.resolv_conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0) {
                fprintf(stderr, "emailng-policyd: spf helper: cannot use %s as resolv.conf: %s\n",
                        cfg->spf.resolv_conf, strerror(errno));
                _exit(1);
            }
        }
        if (drop_to(cfg->spf.user, &e) != 0) {
            fprintf(stderr, "emailng-policyd: spf helper: %s\n", e.data);
            _exit(1);
        }
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_IGN);
        master_main(sv[1], cfg);
        _exit(0);
    }
    close(sv[1]);
    *pid = p;
    return sv[0];
}

/* --------------------------------------------------------- daemon side */

struct spf_job {
    spf_client *c;
    unsigned long id;
    spf_result_fn cb;
    void *arg;
    int cancelled;
    struct event *timer;
};

struct spf_client {
    struct event_base *base;
    struct bufferevent *bev;
    long timeout_ms;
    unsigned long next_id;
    strmap jobs;            /* id -> spf_job */
    void (*log_fn)(const char *msg);
    int dead;
};

static void job_finish(spf_job *j, const spf_answer *a)
{
    char key[32];
    snprintf(key, sizeof(key), "%lu", j->id);
    event_free(j->timer);
    if (!j->cancelled)
        j->cb(j->arg, a);
    strmap_del(&j->c->jobs, key);     /* frees j */
}

static void job_free(void *p)
{
    free(p);
}

static void fail_job(spf_job *j, const char *why)
{
    spf_answer a;
    spf_answer_init(&a);
    spf_answer_set(&a, "temperror", "", why);
    job_finish(j, &a);
    spf_answer_free(&a);
}

static void fail_all(spf_client *c, const char *why)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (strmap_next(&c->jobs, &i, &k, &v))
        fail_job(v, why);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fail_job(arg, "SPF helper did not answer in time");
}

static void on_answer(struct bufferevent *bev, void *arg)
{
    spf_client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line;
    size_t n;
    while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
        unsigned long id;
        spf_answer a;
        spf_answer_init(&a);
        if (spf_wire_parse_answer(line, &id, &a) == 0) {
            char key[32];
            snprintf(key, sizeof(key), "%lu", id);
            spf_job *j = strmap_get(&c->jobs, key);
            if (j)
                job_finish(j, &a);
        } else if (c->log_fn) {
            c->log_fn("spf: unreadable answer from the helper");
        }
        spf_answer_free(&a);
        free(line);
    }
    if (evbuffer_get_length(in) > SPF_LINE_MAX)
        evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_helper_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    spf_client *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        c->dead = 1;
        if (c->log_fn)
            c->log_fn("spf: the SPF helper process is gone; SPF checks answer temperror until restart");
        fail_all(c, "SPF helper is gone");
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    }
}

spf_client *spf_client_new(struct event_base *base, int fd, long timeout_ms,
                           void (*log_fn)(const char *msg))
{
    spf_client *c = xcalloc(1, sizeof(*c));
    c->base = base;
    c->timeout_ms = timeout_ms;
    c->log_fn = log_fn;
    strmap_init(&c->jobs, job_free);
    evutil_make_socket_nonblocking(fd);
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, on_answer, NULL, on_helper_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

void spf_client_free(spf_client *c)
{
    if (!c)
        return;
    size_t i = 0;
    const char *k;
    void *v;
    while (strmap_next(&c->jobs, &i, &k, &v))
        event_free(((spf_job *)v)->timer);
    strmap_free(&c->jobs);
    /* the helper exits at EOF; bufferevent_free may defer the close */
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    bufferevent_free(c->bev);
    free(c);
}

spf_job *spf_client_check(spf_client *c, const char *ip, const char *helo, const char *sender,
                          spf_result_fn cb, void *arg)
{
    if (c->dead) {
        spf_answer a;
        spf_answer_init(&a);
        spf_answer_set(&a, "temperror", "", "SPF helper is gone");
        cb(arg, &a);
        spf_answer_free(&a);
        return NULL;
    }
    spf_job *j = xcalloc(1, sizeof(*j));
    j->c = c;
    j->id = ++c->next_id;
    j->cb = cb;
    j->arg = arg;
    j->timer = evtimer_new(c->base, on_timeout, j);
    long ms = c->timeout_ms + 1000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(j->timer, &tv);
    char key[32];
    snprintf(key, sizeof(key), "%lu", j->id);
    strmap_put(&c->jobs, key, j);
    buf line = BUF_INIT;
    spf_wire_request(&line, j->id, ip, helo, sender);
    bufferevent_write(c->bev, line.data, line.len);
    buf_free(&line);
    return j;
}

void spf_job_cancel(spf_job *j)
{
    if (j)
        j->cancelled = 1;
}
