/* idle-load: many IMAP IDLE sessions from one thread, and what they cost the
 * server (issue 14, C4; docs/admin-manual.md 4b; run by bench/idle/run.sh).
 *
 * For each stage N (--stages 1000,5000,10000) it opens sessions until N are
 * held: connect from one of --sources client addresses, implicit TLS
 * (verified for --tls-name against --ca), LOGIN, SELECT INBOX, IDLE. Then it
 * waits --settle seconds (the server may hibernate them), reads what the
 * server's processes use (PSS/RSS of every process in each --host network
 * namespace, Dovecot's imap/imap-hibernate/imap-login processes), their CPU
 * over --rest seconds at rest, and delivers one message to each of --sample
 * users holding sessions, by LMTP to Dovecot (--lmtp SOCKET: the push
 * itself) or by SMTP (--smtp: the whole pipeline, content filter included):
 * the push latency is the time from the server's final 250 to the untagged
 * EXISTS in every IDLE session of that user. One line "RESULT key=value..."
 * per stage for scripts. --wake-all: after the last stage, DONE to every
 * session at once and the time until the last one answered.
 *
 * Sessions are spread so that user u holds sessions from different
 * addresses before a second one from the same address (Dovecot allows
 * mail_max_userip_connections = 10 per user and address).
 *
 * Everything runs on one epoll loop with non-blocking OpenSSL; the SMTP
 * deliveries run in a child process that reports each accepted message's
 * time (CLOCK_MONOTONIC is shared by both) through a pipe, so the loop
 * keeps reading EXISTS while a delivery is in progress. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "buf.h"
#include "imap_resp.h"

#define MAX_LINE 65536           /* longest server line accepted */
#define MAX_HOSTS 8

typedef enum {
    S_CONNECT, S_HANDSHAKE, S_GREETING, S_LOGIN, S_SELECT, S_IDLE_START, S_IDLE, S_DONE, S_WOKEN, S_FAILED
} sstate;

static const char *const state_names[] = {
    [S_CONNECT] = "connect", [S_HANDSHAKE] = "tls", [S_GREETING] = "greeting", [S_LOGIN] = "login",
    [S_SELECT] = "select", [S_IDLE_START] = "idle-start", [S_IDLE] = "idle", [S_DONE] = "done",
    [S_WOKEN] = "woken", [S_FAILED] = "failed",
};

/* The tag each state's command uses: its tagged answer moves the session on. */
static const char *const state_tags[] = {
    [S_LOGIN] = "a", [S_SELECT] = "b", [S_IDLE_START] = "c", [S_IDLE] = "c", [S_DONE] = "c",
};

typedef struct {
    int fd;
    SSL *ssl;
    sstate state;
    uint32_t events;          /* the epoll interest registered */
    int want_write;           /* OpenSSL asked for writability */
    size_t user;
    imap_lines lines;
    buf out;                  /* the command not yet written in full */
    double exists_at;         /* first EXISTS since the push phase began (0: none) */
} session;

typedef struct {
    const char *name;
    ino_t netns;              /* processes in this network namespace are the host's */
    dev_t netns_dev;
} host;

typedef struct {
    double pss_kb, rss_kb, dovecot_pss_kb;
    double imap_pss_kb, hibernate_pss_kb, login_pss_kb;
    unsigned imap, hibernate, login, procs;
    unsigned long long cpu_ticks;
} host_use;

static struct {
    const char *server, *tls_name, *ca, *smtp, *lmtp, *users_file, *label, *mail_from;
    int port, smtp_port;
    struct in_addr source0;
    unsigned nsources, in_flight, sample;
    double settle, rest, push_timeout, push_gap, open_timeout;
    int wake_all;
    size_t stages[32];
    unsigned nstages;
    host hosts[MAX_HOSTS];
    unsigned nhosts;
} opt;

static char **users, **passwords;
static size_t nusers;
static session *sessions;
static size_t nsessions, cap_sessions;
static SSL_CTX *ctx;
static int ep;
static unsigned opening;      /* sessions between connect and IDLE */
static unsigned failed;
static buf first_errors = BUF_INIT;
static unsigned nerrors;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "idle-load: %s\n", what);
    exit(2);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "idle-load: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* --- sessions ------------------------------------------------------------ */

static void session_fail(session *s, const char *why)
{
    if (s->state == S_FAILED)
        return;
    if (nerrors++ < 5) {
        unsigned long e = ERR_peek_last_error();
        buf_printf(&first_errors, "  %s (%s): %s%s%s\n", users[s->user], state_names[s->state], why,
                   e ? "; " : "", e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "" : "");
    }
    ERR_clear_error();
    if (s->state < S_IDLE)
        opening--;
    s->state = S_FAILED;
    failed++;
    if (s->ssl)
        SSL_free(s->ssl);
    s->ssl = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    imap_lines_free(&s->lines);
    buf_free(&s->out);
}

static void session_interest(session *s)
{
    if (s->state == S_FAILED)
        return;
    uint32_t ev = EPOLLIN;
    if (s->state == S_CONNECT || s->want_write || s->out.len > 0)
        ev |= EPOLLOUT;
    if (ev == s->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = s};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e) != 0)
        die_errno("epoll_ctl MOD");
    s->events = ev;
}

static void session_send(session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void session_send(session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&s->out, fmt, ap);
    va_end(ap);
}

/* Writes the pending command; 0, or -1 when the session failed. */
static int session_flush(session *s)
{
    while (s->out.len > 0) {
        int n = SSL_write(s->ssl, s->out.data, (int)s->out.len);
        if (n > 0) {
            memmove(s->out.data, s->out.data + n, s->out.len - (size_t)n);
            s->out.len -= (size_t)n;
            continue;
        }
        int err = SSL_get_error(s->ssl, n);
        if (err == SSL_ERROR_WANT_WRITE) {
            s->want_write = 1;
            return 0;
        }
        if (err == SSL_ERROR_WANT_READ)
            return 0;
        session_fail(s, "TLS write failed");
        return -1;
    }
    return 0;
}

/* One server line in the session's current state. */
static void session_line(session *s, const char *line, size_t len)
{
    const char *tag = state_tags[s->state] ? state_tags[s->state] : "";
    imap_resp r = imap_resp_classify(line, len, tag);
    if (r.kind == IMAP_RESP_BYE) {
        session_fail(s, "BYE from the server");
        return;
    }
    switch (s->state) {
    case S_GREETING:
        if (r.kind != IMAP_RESP_UNTAGGED_OK) {
            session_fail(s, "no OK greeting");
            return;
        }
        /* Quoted strings: the bench's addresses and passwords hold no '"' or '\\'. */
        session_send(s, "a LOGIN \"%s\" \"%s\"\r\n", users[s->user], passwords[s->user]);
        s->state = S_LOGIN;
        break;
    case S_LOGIN:
    case S_SELECT:
        if (r.kind == IMAP_RESP_TAGGED_FAIL) {
            session_fail(s, s->state == S_LOGIN ? "LOGIN refused" : "SELECT refused");
            return;
        }
        if (r.kind != IMAP_RESP_TAGGED_OK)
            return;
        if (s->state == S_LOGIN) {
            session_send(s, "b SELECT INBOX\r\n");
            s->state = S_SELECT;
        } else {
            session_send(s, "c IDLE\r\n");
            s->state = S_IDLE_START;
        }
        break;
    case S_IDLE_START:
        if (r.kind == IMAP_RESP_CONTINUE) {
            s->state = S_IDLE;
            opening--;
        } else if (r.kind == IMAP_RESP_TAGGED_FAIL || r.kind == IMAP_RESP_TAGGED_OK) {
            session_fail(s, "IDLE refused");
        }
        break;
    case S_DONE:
        if (r.kind == IMAP_RESP_TAGGED_OK)
            s->state = S_WOKEN;
        else if (r.kind == IMAP_RESP_TAGGED_FAIL)
            session_fail(s, "DONE refused");
        break;
    case S_IDLE:
        if (r.kind == IMAP_RESP_EXISTS && s->exists_at == 0)
            s->exists_at = now();
        else if (r.kind == IMAP_RESP_TAGGED_OK || r.kind == IMAP_RESP_TAGGED_FAIL)
            session_fail(s, "IDLE ended by the server");
        break;
    default:
        break;
    }
}

static void session_event(session *s, uint32_t ev)
{
    if (s->state == S_CONNECT) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0) {
            session_fail(s, err ? strerror(err) : "connect failed");
            return;
        }
        s->ssl = SSL_new(ctx);
        if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1 || SSL_set_tlsext_host_name(s->ssl, opt.tls_name) != 1 ||
            SSL_set1_host(s->ssl, opt.tls_name) != 1) {
            session_fail(s, "TLS setup failed");
            return;
        }
        SSL_set_connect_state(s->ssl);
        s->state = S_HANDSHAKE;
    }
    if (s->state == S_HANDSHAKE) {
        int rc = SSL_do_handshake(s->ssl);
        if (rc != 1) {
            int err = SSL_get_error(s->ssl, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
                s->want_write = err == SSL_ERROR_WANT_WRITE;
                session_interest(s);
                return;
            }
            session_fail(s, "TLS handshake failed");
            return;
        }
        s->want_write = 0;
        s->state = S_GREETING;
    }
    (void)ev;
    s->want_write = 0;
    if (session_flush(s) != 0)
        return;
    char chunk[16384];
    for (;;) {
        int n = SSL_read(s->ssl, chunk, sizeof chunk);
        if (n > 0) {
            imap_lines_feed(&s->lines, chunk, (size_t)n);
            const char *line;
            size_t len;
            int rc;
            while ((rc = imap_lines_next(&s->lines, &line, &len)) == 1) {
                session_line(s, line, len);
                if (s->state == S_FAILED)
                    return;
            }
            if (rc < 0) {
                session_fail(s, "server line too long");
                return;
            }
            continue;
        }
        int err = SSL_get_error(s->ssl, n);
        if (err == SSL_ERROR_WANT_READ)
            break;
        if (err == SSL_ERROR_WANT_WRITE) {
            s->want_write = 1;
            break;
        }
        session_fail(s, err == SSL_ERROR_ZERO_RETURN || n == 0 ? "closed by the server" : "TLS read failed");
        return;
    }
    if (session_flush(s) != 0)
        return;
    session_interest(s);
}

static void session_open(size_t i)
{
    if (nsessions == cap_sessions) {
        /* Grown only between loop passes: epoll holds pointers into it, so
         * it is sized for the largest stage up front (see main). */
        die("session table full");
    }
    session *s = &sessions[nsessions++];
    memset(s, 0, sizeof *s);
    imap_lines_init(&s->lines, MAX_LINE);
    buf_init(&s->out);
    /* Session i: user u = i mod U, its k-th session from address (u + k)
     * mod A: a user's sessions come from different addresses (Dovecot's
     * limit per user and address), and the users' first sessions are
     * spread over all addresses, not all from the first one. */
    s->user = i % nusers;
    size_t k = i / nusers;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(ntohl(opt.source0.s_addr) + (uint32_t)((s->user + k) % opt.nsources));
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    opening++;
    s->state = S_CONNECT;
    if (inet_pton(AF_INET, opt.server, &dst.sin_addr) != 1)
        die("--server is no IPv4 address");
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        session_fail(s, strerror(errno));
        return;
    }
    int one = 1;
    /* Many connections from one address to one port: let the kernel pick
     * the source port per destination, not per bound address. */
    (void)setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(s->fd, (struct sockaddr *)&src, sizeof src) != 0) {
        session_fail(s, strerror(errno));
        return;
    }
    if (connect(s->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        session_fail(s, strerror(errno));
        return;
    }
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = s};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e) != 0)
        die_errno("epoll_ctl ADD");
    s->events = EPOLLOUT;
}

/* The loop: until done() or the deadline; the pipe (fd, may be -1) has its
 * records handed to on_pipe. Returns 0 on done(), -1 on the deadline. */
static int pump(int (*done)(void), double deadline, int pipe_fd, void (*on_pipe)(int))
{
    struct epoll_event evs[256];
    while (!done()) {
        double left = deadline - now();
        if (left <= 0)
            return -1;
        int n = epoll_wait(ep, evs, 256, left > 0.2 ? 200 : (int)(left * 1000) + 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                if (pipe_fd >= 0)
                    on_pipe(pipe_fd);
                continue;
            }
            session_event(evs[i].data.ptr, evs[i].events);
        }
    }
    return 0;
}

static size_t open_target;
static int opened_all(void)
{
    return nsessions >= open_target && opening == 0;
}

/* Opens sessions up to target with at most in_flight opening at a time. */
static double open_sessions(size_t target)
{
    double t0 = now(), deadline = t0 + opt.open_timeout;
    open_target = target;
    while (nsessions < target && now() < deadline) {
        while (nsessions < target && opening < opt.in_flight)
            session_open(nsessions);
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 200);
        if (n < 0 && errno != EINTR)
            die_errno("epoll_wait");
        for (int i = 0; i < n; i++)
            if (evs[i].data.ptr)
                session_event(evs[i].data.ptr, evs[i].events);
    }
    (void)pump(opened_all, deadline, -1, NULL);
    return now() - t0;
}

static int never(void)
{
    return 0;
}

/* --- the server's processes ---------------------------------------------- */

/* "Key:   123 kB" lines of /proc/PID/smaps_rollup. */
static void read_smaps(int pid, double *rss, double *pss)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        double v;
        if (sscanf(line, "Rss: %lf kB", &v) == 1)
            *rss += v;
        else if (sscanf(line, "Pss: %lf kB", &v) == 1)
            *pss += v;
    }
    free(line);
    fclose(f);
}

static unsigned long long read_cpu_ticks(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    unsigned long long ut = 0, st = 0;
    if (getline(&line, &cap, f) > 0) {
        /* Fields after the command's closing parenthesis (it may hold spaces). */
        char *p = strrchr(line, ')');
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
            ut = st = 0;
    }
    free(line);
    fclose(f);
    return ut + st;
}

/* The command line's first word ("dovecot-emailng-mail/imap-hibernate"). */
static int read_title(int pid, buf *title)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    buf_reset(title);
    int c;
    while ((c = fgetc(f)) != EOF && c != '\0' && c != ' ')
        buf_append_char(title, (char)c);
    fclose(f);
    return 0;
}

/* Dovecot's process kinds the bench counts, by the title's last part. */
static const struct {
    const char *suffix;
    size_t count, pss;        /* offsets in host_use */
} kinds[] = {
    {"/imap", offsetof(host_use, imap), offsetof(host_use, imap_pss_kb)},
    {"/imap-hibernate", offsetof(host_use, hibernate), offsetof(host_use, hibernate_pss_kb)},
    {"/imap-login", offsetof(host_use, login), offsetof(host_use, login_pss_kb)},
};

static void host_measure(const host *h, host_use *u, int with_memory)
{
    memset(u, 0, sizeof *u);
    DIR *d = opendir("/proc");
    if (!d)
        die_errno("/proc");
    buf title = BUF_INIT;
    pid_t me = getpid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int pid = atoi(e->d_name);
        if (pid == me)
            continue;
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
        if (stat(path, &st) != 0 || st.st_ino != h->netns || st.st_dev != h->netns_dev)
            continue;
        if (read_title(pid, &title) != 0)
            continue;
        /* The bench's own SMTP child and tools started beside it are no server. */
        if (strstr(title.data ? title.data : "", "idle-load"))
            continue;
        u->procs++;
        u->cpu_ticks += read_cpu_ticks(pid);
        int dovecot = strncmp(buf_cstr(&title), "dovecot", 7) == 0 ||
                      strcmp(buf_cstr(&title), "/usr/sbin/dovecot") == 0;
        double rss = 0, pss = 0;
        if (with_memory)
            read_smaps(pid, &rss, &pss);
        u->rss_kb += rss;
        u->pss_kb += pss;
        if (dovecot)
            u->dovecot_pss_kb += pss;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            size_t tl = title.len, sl = strlen(kinds[k].suffix);
            if (dovecot && tl >= sl && strcmp(title.data + tl - sl, kinds[k].suffix) == 0) {
                (*(unsigned *)((char *)u + kinds[k].count))++;
                *(double *)((char *)u + kinds[k].pss) += pss;
            }
        }
    }
    closedir(d);
    buf_free(&title);
}

/* --- SMTP deliveries (child process) ------------------------------------- */

typedef struct {
    uint32_t user;
    int32_t ok;
    double accepted;
} delivery;

/* Reads one SMTP reply (all its lines); its code, or -1. */
static int smtp_reply(FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    int code = -1;
    for (;;) {
        ssize_t n = getline(&line, &cap, in);
        if (n < 4) {
            code = -1;
            break;
        }
        code = atoi(line);
        if (line[3] != '-')
            break;
    }
    free(line);
    return code;
}

/* A connection to the SMTP server (from the first client address: the
 * server's own address would count as a local, trusted client) or to the
 * LMTP socket. */
static int deliver_connect(void)
{
    if (opt.lmtp) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        if (strlen(opt.lmtp) >= sizeof un.sun_path)
            return -1;
        strcpy(un.sun_path, opt.lmtp);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&un, sizeof un) != 0) {
            close(fd);
            fd = -1;
        }
        return fd;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.smtp_port)};
    if (inet_pton(AF_INET, opt.smtp, &dst.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = opt.source0};
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int smtp_deliver(const char *rcpt, unsigned seq)
{
    int fd = deliver_connect();
    if (fd < 0)
        return -1;
    FILE *in = fdopen(fd, "r");
    FILE *out = fdopen(dup(fd), "w");
    if (!in || !out) {
        if (in)
            fclose(in);
        else
            close(fd);
        if (out)
            fclose(out);
        return -1;
    }
    int ok = smtp_reply(in) == 220;
    if (ok) {
        fprintf(out, "%s bench.example.net\r\n", opt.lmtp ? "LHLO" : "EHLO");
        fflush(out);
        ok = smtp_reply(in) == 250;
    }
    if (ok) {
        fprintf(out, "MAIL FROM:<%s>\r\n", opt.mail_from);
        fflush(out);
        ok = smtp_reply(in) == 250;
    }
    if (ok) {
        fprintf(out, "RCPT TO:<%s>\r\n", rcpt);
        fflush(out);
        ok = smtp_reply(in) == 250;
    }
    if (ok) {
        fprintf(out, "DATA\r\n");
        fflush(out);
        ok = smtp_reply(in) == 354;
    }
    if (ok) {
        fprintf(out, "From: <%s>\r\nTo: <%s>\r\nSubject: idle-load push %u\r\nMessage-ID: <idle-load-%d-%u@example.net>\r\n"
                     "\r\nA message to measure push to IDLE sessions.\r\n.\r\n",
                opt.mail_from, rcpt, seq, (int)getpid(), seq);
        fflush(out);
        ok = smtp_reply(in) == 250;
    }
    fprintf(out, "QUIT\r\n");
    fclose(out);
    fclose(in);
    return ok ? 0 : -1;
}

static void deliver_child(const size_t *targets, unsigned n, int wfd)
{
    for (unsigned i = 0; i < n; i++) {
        delivery d = {.user = (uint32_t)targets[i]};
        d.ok = smtp_deliver(users[targets[i]], i) == 0;
        d.accepted = now();
        if (write(wfd, &d, sizeof d) != (ssize_t)sizeof d)
            _exit(1);
        struct timespec gap = {(time_t)opt.push_gap, (long)((opt.push_gap - (double)(time_t)opt.push_gap) * 1e9)};
        nanosleep(&gap, NULL);
    }
    _exit(0);
}

static double *accepted_at;     /* per user: when its message was accepted (0: not yet, -1: failed) */
static unsigned deliveries_in;

static void on_delivery(int fd)
{
    delivery d;
    ssize_t n;
    while ((n = read(fd, &d, sizeof d)) == (ssize_t)sizeof d) {
        if (d.user < nusers)
            accepted_at[d.user] = d.ok ? d.accepted : -1;
        deliveries_in++;
    }
}

static unsigned push_users;
static size_t *push_targets;
static int pushed_all(void)
{
    if (deliveries_in < push_users)
        return 0;
    for (size_t i = 0; i < nsessions; i++) {
        session *s = &sessions[i];
        if (s->state == S_IDLE && accepted_at[s->user] > 0 && s->exists_at == 0)
            return 0;
    }
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *v, size_t n, double p)
{
    if (n == 0)
        return -1;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* --- stages --------------------------------------------------------------- */

static host_use base[MAX_HOSTS];

static void run_stage(unsigned stage, size_t target)
{
    size_t before = nsessions;
    unsigned failed_before = failed;
    double took = open_sessions(target);
    size_t idle = 0;
    for (size_t i = 0; i < nsessions; i++)
        idle += sessions[i].state == S_IDLE;
    double login_rate = (double)(nsessions - before) / took;
    printf("[%s] stage %u: %zu sessions in IDLE of %zu opened (%u failed in this stage) in %.1f s: %.1f logins/s\n",
           opt.label, stage + 1, idle, nsessions, failed - failed_before, took, login_rate);
    if (failed > failed_before)
        printf("[%s] first failures:\n%s", opt.label, buf_cstr(&first_errors));
    fflush(stdout);

    /* Let the server settle (hibernate) while the loop answers keepalives. */
    (void)pump(never, now() + opt.settle, -1, NULL);
    host_use use[MAX_HOSTS], cpu0[MAX_HOSTS], cpu1[MAX_HOSTS];
    for (unsigned h = 0; h < opt.nhosts; h++)
        host_measure(&opt.hosts[h], &use[h], 1);
    for (unsigned h = 0; h < opt.nhosts; h++)
        host_measure(&opt.hosts[h], &cpu0[h], 0);
    double r0 = now();
    (void)pump(never, now() + opt.rest, -1, NULL);
    double rest = now() - r0;
    for (unsigned h = 0; h < opt.nhosts; h++)
        host_measure(&opt.hosts[h], &cpu1[h], 0);

    /* Push: one message to each of `sample` users holding sessions, spread
     * over them and different in each stage. */
    size_t holders = nsessions < nusers ? nsessions : nusers;
    push_users = opt.sample < holders ? opt.sample : (unsigned)holders;
    size_t stride = holders / (push_users ? push_users : 1);
    for (unsigned i = 0; i < push_users; i++)
        push_targets[i] = (i * stride + stage) % holders;
    for (size_t u = 0; u < nusers; u++)
        accepted_at[u] = 0;
    for (size_t i = 0; i < nsessions; i++)
        sessions[i].exists_at = 0;
    deliveries_in = 0;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        die_errno("pipe");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        die_errno("fork");
    if (child == 0) {
        close(pfd[0]);
        deliver_child(push_targets, push_users, pfd[1]);
    }
    close(pfd[1]);
    if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) != 0)
        die_errno("fcntl");
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &e) != 0)
        die_errno("epoll_ctl pipe");
    double deadline = now() + opt.push_timeout + push_users * opt.push_gap;
    (void)pump(pushed_all, deadline, pfd[0], on_delivery);
    on_delivery(pfd[0]);
    epoll_ctl(ep, EPOLL_CTL_DEL, pfd[0], NULL);
    close(pfd[0]);
    int status;
    waitpid(child, &status, 0);

    size_t nlat = 0, missing = 0;
    unsigned refused = 0;
    double *lat = xcalloc(nsessions + 1, sizeof *lat);
    for (unsigned i = 0; i < push_users; i++)
        refused += accepted_at[push_targets[i]] < 0;
    for (size_t i = 0; i < nsessions; i++) {
        session *s = &sessions[i];
        if (s->state != S_IDLE || accepted_at[s->user] <= 0)
            continue;
        if (s->exists_at > 0)
            lat[nlat++] = s->exists_at > accepted_at[s->user] ? s->exists_at - accepted_at[s->user] : 0;
        else
            missing++;
    }
    qsort(lat, nlat, sizeof *lat, cmp_double);
    double p50 = percentile(lat, nlat, 0.5), p99 = percentile(lat, nlat, 0.99), pmax = nlat ? lat[nlat - 1] : -1;
    free(lat);

    long hz = sysconf(_SC_CLK_TCK);
    for (unsigned h = 0; h < opt.nhosts; h++) {
        double extra = use[h].pss_kb - base[h].pss_kb;
        double cpu = (double)(cpu1[h].cpu_ticks - cpu0[h].cpu_ticks) / (double)hz / rest * 100.0;
        printf("[%s] stage %u host %s: %zu sessions; PSS %.1f MiB (%.1f at start, +%.1f MiB, %.1f KiB/session), "
               "RSS %.1f MiB, Dovecot PSS %.1f MiB; processes %u: imap %u (%.1f MiB), imap-hibernate %u (%.1f MiB), "
               "imap-login %u (%.1f MiB); CPU at rest %.1f %% of a core over %.0f s\n",
               opt.label, stage + 1, opt.hosts[h].name, idle, use[h].pss_kb / 1024, base[h].pss_kb / 1024,
               extra / 1024, idle ? extra / (double)idle : 0, use[h].rss_kb / 1024, use[h].dovecot_pss_kb / 1024,
               use[h].procs, use[h].imap, use[h].imap_pss_kb / 1024, use[h].hibernate, use[h].hibernate_pss_kb / 1024,
               use[h].login, use[h].login_pss_kb / 1024, cpu, rest);
        printf("RESULT label=%s stage=%u host=%s sessions=%zu failed=%u login_rate=%.1f pss_mib=%.1f "
               "pss_extra_mib=%.1f kib_per_session=%.1f rss_mib=%.1f dovecot_pss_mib=%.1f imap=%u hibernate=%u "
               "login=%u imap_pss_mib=%.1f hibernate_pss_mib=%.1f login_pss_mib=%.1f cpu_rest_pct=%.1f push_users=%u push_sessions=%zu push_missing=%zu push_refused=%u "
               "push_p50_s=%.3f push_p99_s=%.3f push_max_s=%.3f\n",
               opt.label, stage + 1, opt.hosts[h].name, idle, failed, login_rate, use[h].pss_kb / 1024,
               extra / 1024, idle ? extra / (double)idle : 0, use[h].rss_kb / 1024, use[h].dovecot_pss_kb / 1024,
               use[h].imap, use[h].hibernate, use[h].login, use[h].imap_pss_kb / 1024, use[h].hibernate_pss_kb / 1024,
               use[h].login_pss_kb / 1024, cpu, push_users, nlat + missing, missing, refused, p50,
               p99, pmax);
    }
    printf("[%s] stage %u push: %u messages (%u refused) to %zu IDLE sessions: EXISTS p50 %.3f s, p99 %.3f s, "
           "max %.3f s, %zu saw none within %.0f s\n",
           opt.label, stage + 1, push_users, refused, nlat + missing, p50, p99, pmax, missing, opt.push_timeout);
    fflush(stdout);
}

/* --- every session ends IDLE at once ------------------------------------- */

static int all_woken(void)
{
    for (size_t i = 0; i < nsessions; i++)
        if (sessions[i].state == S_DONE)
            return 0;
    return 1;
}

/* DONE to every IDLE session at once, as every client would after a network
 * blip, or what a message to every user costs: each hibernated session
 * needs a new imap process. The time until the last tagged OK. */
static void wake_all(void)
{
    size_t n = 0;
    unsigned failed_before = failed;
    double t0 = now();
    for (size_t i = 0; i < nsessions; i++) {
        session *s = &sessions[i];
        if (s->state != S_IDLE)
            continue;
        s->state = S_DONE;
        session_send(s, "DONE\r\n");
        if (session_flush(s) == 0)
            session_interest(s);
        n++;
    }
    int rc = pump(all_woken, t0 + opt.push_timeout * 4, -1, NULL);
    size_t woken = 0;
    for (size_t i = 0; i < nsessions; i++)
        woken += sessions[i].state == S_WOKEN;
    printf("[%s] wake-all: DONE to %zu IDLE sessions at once: %zu answered OK in %.1f s%s, %u failed\n", opt.label,
           n, woken, now() - t0, rc ? " (deadline)" : "", failed - failed_before);
    if (failed > failed_before)
        printf("[%s] first failures:\n%s", opt.label, buf_cstr(&first_errors));
    printf("RESULT label=%s wake_all=%zu woken=%zu wake_s=%.1f wake_failed=%u\n", opt.label, n, woken, now() - t0,
           failed - failed_before);
    fflush(stdout);
}

/* --- options --------------------------------------------------------------- */

static void read_users(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die_errno(path);
    char *line = NULL;
    size_t cap = 0, cap_users = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp || sp == line || !sp[1])
            continue;
        if (strpbrk(line, "\"\\"))
            die("a user or password holds '\"' or '\\'");
        if (nusers == cap_users) {
            cap_users = cap_users ? cap_users * 2 : 256;
            users = xrealloc(users, cap_users * sizeof *users);
            passwords = xrealloc(passwords, cap_users * sizeof *passwords);
        }
        users[nusers] = xstrndup(line, (size_t)(sp - line));
        passwords[nusers] = xstrdup(sp + 1);
        nusers++;
    }
    free(line);
    fclose(f);
    if (nusers == 0)
        die("no users (lines \"ADDRESS PASSWORD\") in --users");
}

static void add_host(const char *spec)
{
    if (opt.nhosts == MAX_HOSTS)
        die("too many --host");
    const char *eq = strchr(spec, '=');
    const char *path = eq ? eq + 1 : "/proc/self/ns/net";
    struct stat st;
    if (stat(path, &st) != 0)
        die_errno(path);
    host *h = &opt.hosts[opt.nhosts++];
    h->name = eq ? xstrndup(spec, (size_t)(eq - spec)) : xstrdup(spec);
    h->netns = st.st_ino;
    h->netns_dev = st.st_dev;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: idle-load --users FILE --ca FILE [--server ADDR] [--port 993] [--tls-name NAME]\n"
            "       [--source ADDR --sources N] [--stages N,N,...] [--in-flight N] [--settle S] [--rest S]\n"
            "       [--sample USERS] [--push-gap S] [--push-timeout S] [--smtp ADDR] [--smtp-port 25]\n"
            "       [--lmtp SOCKET] [--wake-all] [--mail-from ADDR] [--host NAME[=NETNS-PATH]]... [--label TEXT]\n");
    exit(2);
}

static double num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0)
        die(what);
    return v;
}

int main(int argc, char **argv)
{
    opt.server = "127.0.0.1";
    opt.port = 993;
    opt.tls_name = "mail.example.test";
    opt.smtp = "127.0.0.1";
    opt.smtp_port = 25;
    opt.mail_from = "bench@example.net";
    opt.label = "run";
    inet_pton(AF_INET, "127.0.20.1", &opt.source0);
    opt.nsources = 100;
    opt.in_flight = 64;
    opt.sample = 50;
    opt.settle = 10;
    opt.rest = 10;
    opt.push_gap = 0.05;
    opt.push_timeout = 30;
    opt.open_timeout = 3600;
    static const struct option longs[] = {
        {"users", 1, 0, 'u'}, {"ca", 1, 0, 'c'}, {"server", 1, 0, 's'}, {"port", 1, 0, 'p'},
        {"tls-name", 1, 0, 'n'}, {"source", 1, 0, 'a'}, {"sources", 1, 0, 'A'}, {"stages", 1, 0, 'N'},
        {"in-flight", 1, 0, 'f'}, {"settle", 1, 0, 'w'}, {"rest", 1, 0, 'r'}, {"sample", 1, 0, 'S'},
        {"push-gap", 1, 0, 'g'}, {"push-timeout", 1, 0, 't'}, {"smtp", 1, 0, 'm'}, {"smtp-port", 1, 0, 'P'},
        {"mail-from", 1, 0, 'F'}, {"host", 1, 0, 'H'}, {"lmtp", 1, 0, 'L'}, {"wake-all", 0, 0, 'W'}, {"label", 1, 0, 'l'}, {"open-timeout", 1, 0, 'o'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'u': opt.users_file = optarg; break;
        case 'c': opt.ca = optarg; break;
        case 's': opt.server = optarg; break;
        case 'p': opt.port = (int)num(optarg, "--port"); break;
        case 'n': opt.tls_name = optarg; break;
        case 'a':
            if (inet_pton(AF_INET, optarg, &opt.source0) != 1)
                die("--source is no IPv4 address");
            break;
        case 'A': opt.nsources = (unsigned)num(optarg, "--sources"); break;
        case 'N': {
            char *save = NULL, *copy = xstrdup(optarg);
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (opt.nstages == sizeof opt.stages / sizeof opt.stages[0])
                    die("too many --stages");
                size_t v = (size_t)num(t, "--stages");
                if (v == 0 || (opt.nstages && v <= opt.stages[opt.nstages - 1]))
                    die("--stages must rise");
                opt.stages[opt.nstages++] = v;
            }
            free(copy);
            break;
        }
        case 'f': opt.in_flight = (unsigned)num(optarg, "--in-flight"); break;
        case 'w': opt.settle = num(optarg, "--settle"); break;
        case 'r': opt.rest = num(optarg, "--rest"); break;
        case 'S': opt.sample = (unsigned)num(optarg, "--sample"); break;
        case 'g': opt.push_gap = num(optarg, "--push-gap"); break;
        case 't': opt.push_timeout = num(optarg, "--push-timeout"); break;
        case 'm': opt.smtp = optarg; break;
        case 'P': opt.smtp_port = (int)num(optarg, "--smtp-port"); break;
        case 'F': opt.mail_from = optarg; break;
        case 'H': add_host(optarg); break;
        case 'L': opt.lmtp = optarg; break;
        case 'W': opt.wake_all = 1; break;
        case 'l': opt.label = optarg; break;
        case 'o': opt.open_timeout = num(optarg, "--open-timeout"); break;
        default: usage();
        }
    }
    if (!opt.users_file || !opt.ca || optind != argc || opt.nsources == 0 || opt.in_flight == 0)
        usage();
    if (opt.nstages == 0)
        opt.stages[opt.nstages++] = 1000;
    if (opt.nhosts == 0)
        add_host("host");
    read_users(opt.users_file);
    signal(SIGPIPE, SIG_IGN);

    /* One descriptor per session, and some for the rest. */
    size_t most = opt.stages[opt.nstages - 1];
    struct rlimit rl = {most + 256, most + 256};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        die_errno("setrlimit(RLIMIT_NOFILE)");

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
        die("cannot load --ca");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Idle sessions keep no read/write buffers: 10,000 of them stay small. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die_errno("epoll_create1");
    cap_sessions = most;
    sessions = xcalloc(cap_sessions, sizeof *sessions);
    accepted_at = xcalloc(nusers, sizeof *accepted_at);
    push_targets = xcalloc(opt.sample + 1, sizeof *push_targets);

    for (unsigned h = 0; h < opt.nhosts; h++)
        host_measure(&opt.hosts[h], &base[h], 1);
    printf("[%s] %zu users, %u client addresses, stages", opt.label, nusers, opt.nsources);
    for (unsigned i = 0; i < opt.nstages; i++)
        printf(" %zu", opt.stages[i]);
    printf("; at start:");
    for (unsigned h = 0; h < opt.nhosts; h++)
        printf(" host %s PSS %.1f MiB (%u processes)", opt.hosts[h].name, base[h].pss_kb / 1024, base[h].procs);
    printf("\n");
    fflush(stdout);
    for (unsigned i = 0; i < opt.nstages; i++) {
        run_stage(i, opt.stages[i]);
        if (failed > 0 && nsessions > 0 && failed * 10 > nsessions) {
            printf("[%s] stopping: more than 10 %% of the sessions failed\n", opt.label);
            break;
        }
    }
    if (opt.wake_all)
        wake_all();
    return failed ? 1 : 0;
}
