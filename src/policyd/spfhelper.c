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
#include <spf2/spf_dns_cache.h>
#include <spf2/spf_dns_resolv.h>
#include <spf2/spf_dns_zone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "daemon_log.h"
#include "msg.h"
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

/* ---------------------------------------------------------------- child */

/* The receiving host's name in Received-SPF comments: the site's public
 * name, never the machine's own (S7). Set in the helper child. */
static const char *receiver_name;

/* The libspf2 server of a helper: the resolver behind libspf2's DNS cache
 * (or a static zone for the fuzz harness). The cache keeps the records'
 * own TTLs (libspf2 would otherwise stretch TXT answers and DNS errors to
 * 30 minutes): a helper lives for spf.checks_per_helper checks or
 * HELPER_MAX_AGE_MS at most, and a DNS failure is not remembered. */
static SPF_server_t *make_server(const char *zone_domain, const char *zone_txt)
{
    SPF_server_t *server;
    if (zone_domain) {
        SPF_dns_server_t *zone = SPF_dns_zone_new(NULL, "fuzz", 0);
        if (!zone)
            return NULL;
        SPF_dns_zone_add_str(zone, zone_domain, ns_t_txt, NETDB_SUCCESS, zone_txt);
        server = SPF_server_new_dns(zone, 0);
    } else {
        SPF_dns_server_t *res = SPF_dns_resolv_new(NULL, NULL, 0);
        SPF_dns_server_t *cache = res ? SPF_dns_cache_new(res, NULL, 0, 10) : NULL;
        if (!cache)
            return NULL;
        SPF_dns_cache_set_ttl(cache, 0, 0, 0, 0);
        server = SPF_server_new_dns(cache, 0);
    }
    if (!server)
        return NULL;
    char host[256];
    if (receiver_name && *receiver_name)
        snprintf(host, sizeof(host), "%s", receiver_name);
    else if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    SPF_server_set_rec_dom(server, host);
    return server;
}

static void run_check(SPF_server_t *server, const char *ip, const char *helo,
                      const char *sender, spf_answer *out)
{
    if (!server) {
        spf_answer_set(out, "temperror", "", "cannot start libspf2");
        return;
    }
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
    /* Only the comment: the daemon writes the header's fields itself from
     * the request (spf_received_value), quoted, whatever libspf2 would do. */
    const char *hcomment = SPF_response_get_header_comment(resp);
    const char *comment = SPF_response_get_smtp_comment(resp);
    spf_answer_set(out, SPF_strresult(SPF_response_result(resp)), hcomment ? hcomment : "",
                   comment ? comment : "");
done:
    if (resp)
        SPF_response_free(resp);
    SPF_request_free(req);
}

/* What a helper process does to itself before it touches libspf2: keep
 * only `fd` (as 3) and /dev/null, and set its resource limits. */
static int confine(int fd, long cpu_s)
{
    signal(SIGPIPE, SIG_IGN);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 2);   /* libspf2 prints errors; keep them off our log */
    }
    /* close every other descriptor, including the daemon socket */
    if (fd != 3) {
        dup2(fd, 3);
        fd = 3;
    }
    close_range(4, ~0U, 0);
    struct rlimit r;
    r.rlim_cur = r.rlim_max = 256ul << 20;
    if (!UNDER_ASAN)
        setrlimit(RLIMIT_AS, &r);
    r.rlim_cur = r.rlim_max = (rlim_t)cpu_s;
    setrlimit(RLIMIT_CPU, &r);
    r.rlim_cur = r.rlim_max = 0;
    setrlimit(RLIMIT_NPROC, &r);
    setrlimit(RLIMIT_CORE, &r);
    return fd;
}

static void write_line(int fd, const buf *line)
{
    size_t off = 0;
    while (off < line->len) {
        ssize_t n = write(fd, line->data + off, line->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);
        off += (size_t)n;
    }
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
        (void)keep_fd;
        p[1] = confine(p[1], timeout_ms / 1000 + 2);
        alarm((unsigned)(timeout_ms / 1000 + 2));
        spf_answer a;
        spf_answer_init(&a);
        SPF_server_t *server = make_server(zone_domain, zone_txt);
        run_check(server, ip, helo, sender, &a);
        buf line = BUF_INIT;
        spf_wire_answer(&line, id, a.result, buf_cstr(&a.header_comment), buf_cstr(&a.comment));
        write_line(p[1], &line);
        _exit(0);
    }
    close(p[1]);
    ch->pid = pid;
    ch->fd = p[0];
    ch->id = id;
    ch->deadline = clock_ms() + timeout_ms;
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
                spf_wire_answer(line, ch->id, a.result, a.header_comment.data ? a.header_comment.data : "",
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
        long long left = ch.deadline - clock_ms();
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

/* The master keeps a pool of long-lived helpers, each a child with its own
 * socketpair, serving one check at a time (spf.h wire format, the same as
 * between the daemon and the master) with one libspf2 server and so one
 * DNS cache. A helper is killed and replaced when its check passes the
 * deadline, when it says anything but the one well-formed answer to the
 * check it was given (or anything while idle, or exits), after
 * spf.checks_per_helper checks and after HELPER_MAX_AGE_MS. */
#define HELPER_MAX_AGE_MS 300000

typedef struct qreq {
    unsigned long id;
    char *ip, *helo, *sender;
} qreq;

typedef struct helper {
    pid_t pid;              /* 0: no process */
    int fd;
    int busy;
    unsigned long id;       /* the check it runs */
    long long deadline;
    long long born;
    long checks;
    buf out;
} helper;

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

static void answer_daemon(int fd, unsigned long id, const char *result, const char *value,
                          const char *comment)
{
    buf out = BUF_INIT;
    spf_wire_answer(&out, id, result, value, comment);
    write_all(fd, out.data, out.len);
    buf_free(&out);
}

/* The helper process: checks one request line at a time until EOF. */
static void helper_main(int fd, const config *cfg)
{
    fd = confine(fd, cfg->spf.timeout_ms / 1000 + 2 + cfg->spf.checks_per_helper / 10);
    SPF_server_t *server = make_server(NULL, NULL);
    buf in = BUF_INIT, line = BUF_INIT;
    for (;;) {
        char *nl;
        while (!(nl = in.data ? memchr(in.data, '\n', in.len) : NULL)) {
            char tmp[4096];
            ssize_t n = read(fd, tmp, sizeof(tmp));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || in.len + (size_t)n > SPF_LINE_MAX + 2)
                _exit(0);
            buf_append(&in, tmp, (size_t)n);
        }
        *nl = '\0';
        unsigned long id;
        const char *ip, *helo, *sender;
        if (spf_wire_parse_request(in.data, &id, &ip, &helo, &sender) != 0)
            _exit(1);
        alarm((unsigned)(cfg->spf.timeout_ms / 1000 + 2));
        spf_answer a;
        spf_answer_init(&a);
        run_check(server, ip, helo, sender, &a);
        alarm(0);
        buf_reset(&line);
        spf_wire_answer(&line, id, a.result, buf_cstr(&a.header_comment), buf_cstr(&a.comment));
        spf_answer_free(&a);
        write_line(fd, &line);
        size_t rest = in.len - (size_t)(nl + 1 - in.data);
        memmove(in.data, nl + 1, rest);
        in.len = rest;
    }
}

static void helper_stop(helper *h)
{
    if (!h->pid)
        return;
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    close(h->fd);
    buf_free(&h->out);
    h->pid = 0;
    h->busy = 0;
}

static int helper_start(helper *h, const config *cfg, int daemon_fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        (void)daemon_fd;            /* closed by confine() */
        close(sv[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        helper_main(sv[1], cfg);
        _exit(0);
    }
    close(sv[1]);
    memset(h, 0, sizeof(*h));
    h->pid = pid;
    h->fd = sv[0];
    h->born = clock_ms();
    buf_init(&h->out);
    return 0;
}

/* Gives a check to an idle helper slot, (re)starting its process first
 * when it has none or has done its share. 0, or -1: answer temperror. */
static int helper_give(helper *h, const config *cfg, int daemon_fd, const qreq *q)
{
    if (h->pid && (h->checks >= cfg->spf.checks_per_helper ||
                   clock_ms() - h->born >= HELPER_MAX_AGE_MS))
        helper_stop(h);
    if (!h->pid && helper_start(h, cfg, daemon_fd) != 0)
        return -1;
    buf line = BUF_INIT;
    spf_wire_request(&line, q->id, q->ip, q->helo, q->sender);
    /* one short line into an empty socket buffer: does not block */
    size_t off = 0;
    while (off < line.len) {
        ssize_t w = write(h->fd, line.data + off, line.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            buf_free(&line);
            helper_stop(h);
            return -1;
        }
        off += (size_t)w;
    }
    buf_free(&line);
    h->busy = 1;
    h->id = q->id;
    h->deadline = clock_ms() + cfg->spf.timeout_ms;
    h->checks++;
    buf_reset(&h->out);
    return 0;
}

/* The helper's fd is readable (or it passed its deadline: timed_out).
 * Answers the daemon when its check is over; stops the helper when it
 * timed out, exited or misbehaved. */
static void helper_event(helper *h, int daemon_fd, int timed_out)
{
    if (timed_out) {
        unsigned long id = h->id;
        helper_stop(h);
        answer_daemon(daemon_fd, id, "temperror", "", "SPF check timed out");
        return;
    }
    char tmp[4096];
    ssize_t n = read(h->fd, tmp, sizeof(tmp));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (!h->busy) {                 /* output or exit while idle */
        helper_stop(h);
        return;
    }
    if (n > 0 && h->out.len + (size_t)n <= SPF_LINE_MAX + 2) {
        buf_append(&h->out, tmp, (size_t)n);
        char *nl = memchr(h->out.data, '\n', h->out.len);
        if (!nl)
            return;                 /* the rest of the line is coming */
        int extra = nl + 1 != h->out.data + h->out.len;
        *nl = '\0';
        unsigned long id;
        spf_answer a;
        spf_answer_init(&a);
        if (spf_wire_parse_answer(h->out.data, &id, &a) == 0 && id == h->id) {
            answer_daemon(daemon_fd, h->id, a.result, buf_cstr(&a.header_comment), buf_cstr(&a.comment));
            spf_answer_free(&a);
            h->busy = 0;
            buf_reset(&h->out);
            if (extra)
                helper_stop(h);
            return;
        }
        spf_answer_free(&a);
        unsigned long want = h->id;
        helper_stop(h);
        answer_daemon(daemon_fd, want, "temperror", "", "SPF helper gave no answer");
        return;
    }
    /* EOF, error or an overlong line */
    unsigned long want = h->id;
    int status = 0, crashed = 0;
    if (n <= 0 && waitpid(h->pid, &status, 0) == h->pid) {
        crashed = WIFSIGNALED(status);
        close(h->fd);
        buf_free(&h->out);
        h->pid = 0;
        h->busy = 0;
    } else {
        helper_stop(h);
    }
    answer_daemon(daemon_fd, want, "temperror", "",
                  crashed ? "SPF helper crashed" : "SPF helper gave no answer");
}

static void master_main(int fd, const config *cfg)
{
    size_t max = (size_t)(cfg->spf.helpers < cfg->spf.max_checks ? cfg->spf.helpers
                                                                  : cfg->spf.max_checks);
    helper *pool = xcalloc(max, sizeof(helper));
    qreq *queue = xcalloc(QUEUE_MAX, sizeof(qreq));
    size_t qhead = 0, qlen = 0;
    buf in = BUF_INIT;
    struct pollfd *pfd = xcalloc(max + 1, sizeof(struct pollfd));
    int eof = 0;
    for (;;) {
        /* start queued checks on idle helpers */
        for (size_t i = 0; i < max && qlen; i++) {
            if (pool[i].busy)
                continue;
            qreq *q = &queue[qhead];
            if (helper_give(&pool[i], cfg, fd, q) != 0)
                answer_daemon(fd, q->id, "temperror", "", "cannot start an SPF helper");
            free(q->ip);
            free(q->helo);
            free(q->sender);
            qhead = (qhead + 1) % QUEUE_MAX;
            qlen--;
        }
        size_t busy = 0;
        for (size_t i = 0; i < max; i++)
            busy += pool[i].busy;
        if (eof && !busy && !qlen)
            break;
        long long now = clock_ms(), next = now + 1000;
        for (size_t i = 0; i < max; i++) {
            pfd[i].fd = pool[i].pid ? pool[i].fd : -1;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
            if (pool[i].busy && pool[i].deadline < next)
                next = pool[i].deadline;
        }
        pfd[max].fd = eof ? -1 : fd;
        pfd[max].events = POLLIN;
        pfd[max].revents = 0;
        int rc = poll(pfd, max + 1, (int)(next > now ? next - now : 0));
        if (rc < 0 && errno != EINTR)
            _exit(1);
        now = clock_ms();
        for (size_t i = 0; i < max; i++) {
            if (!pool[i].pid)
                continue;
            if (rc > 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                helper_event(&pool[i], fd, 0);
            if (pool[i].busy && now >= pool[i].deadline)
                helper_event(&pool[i], fd, 1);
        }
        if (rc > 0 && pfd[max].fd >= 0 && (pfd[max].revents & (POLLIN | POLLHUP | POLLERR))) {
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
                            answer_daemon(fd, id, "temperror", "", "too many SPF checks waiting");
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
    for (size_t i = 0; i < max; i++)
        helper_stop(&pool[i]);
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
        /* Its messages go to stderr (the daemon's log, or the terminal with
         * -f): the log's own descriptor may be 3, about to be the socket. */
        daemon_log_close();
        close(sv[0]);
        if (sv[1] != 3) {
            dup2(sv[1], 3);
            sv[1] = 3;
        }
        close_range(4, ~0U, 0);     /* listening sockets */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, "policyd-spf");
        receiver_name = cfg->spf.receiver;
        buf e = BUF_INIT;
        if (cfg->spf.resolv_conf && *cfg->spf.resolv_conf) {
            if (unshare(CLONE_NEWNS) != 0 ||
                mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
                mount(cfg->spf.resolv_conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0) {
                msg_fatal("spf helper: cannot use %s as resolv.conf: %s", cfg->spf.resolv_conf,
                          strerror(errno));
            }
        }
        if (drop_to(cfg->spf.user, &e) != 0)
            msg_fatal("spf helper: %s", e.data);
        /* Set up: it prints nothing more, and must not hold the daemon's
         * log file open through rotations (stdout and stderr are the log). */
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
            _exit(1);
        close(devnull);
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
    c->bev = evutil_make_socket_nonblocking(fd) == 0
                 ? bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (c->bev) {
        bufferevent_setcb(c->bev, on_answer, NULL, on_helper_event, c);
        if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == 0)
            return c;
        bufferevent_free(c->bev);       /* closes fd */
    } else {
        close(fd);                      /* the helper exits at EOF */
    }
    strmap_free(&c->jobs);
    free(c);
    return NULL;
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

/* temperror at once, for the caller of spf_client_check: NULL. */
static spf_job *answer_now(spf_result_fn cb, void *arg, const char *why)
{
    spf_answer a;
    spf_answer_init(&a);
    spf_answer_set(&a, "temperror", "", why);
    cb(arg, &a);
    spf_answer_free(&a);
    return NULL;
}

spf_job *spf_client_check(spf_client *c, const char *ip, const char *helo, const char *sender,
                          spf_result_fn cb, void *arg)
{
    if (c->dead)
        return answer_now(cb, arg, "SPF helper is gone");
    spf_job *j = xcalloc(1, sizeof(*j));
    j->c = c;
    j->id = ++c->next_id;
    j->cb = cb;
    j->arg = arg;
    j->timer = evtimer_new(c->base, on_timeout, j);
    long ms = c->timeout_ms + 1000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (j->timer == NULL || evtimer_add(j->timer, &tv) != 0) {
        /* no deadline, no check: the caller gets temperror now */
        if (c->log_fn)
            c->log_fn("spf: cannot set a check's timer; answering temperror");
        if (j->timer)
            event_free(j->timer);
        free(j);
        return answer_now(cb, arg, "cannot set a timer for the SPF check");
    }
    char key[32];
    snprintf(key, sizeof(key), "%lu", j->id);
    strmap_put(&c->jobs, key, j);
    buf line = BUF_INIT;
    spf_wire_request(&line, j->id, ip, helo, sender);
    int queued = bufferevent_write(c->bev, line.data, line.len) == 0;
    buf_free(&line);
    if (!queued) {
        if (c->log_fn)
            c->log_fn("spf: cannot queue a check for the helper; answering temperror");
        fail_job(j, "cannot queue the SPF check");
        return NULL;
    }
    return j;
}

void spf_job_cancel(spf_job *j)
{
    if (j)
        j->cancelled = 1;
}
