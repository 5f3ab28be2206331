/* probe: see probe.h. */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#define MAX_LINE 8192
#define MAX_IN (64 * 1024)

/* One step of a dialogue. */
typedef enum { OP_SMTP, OP_GREETING, OP_TAGGED, OP_SEND, OP_LOGIN, OP_END } op;
typedef struct step {
    op op;
    const char *arg;            /* reply code, tag or line to send */
    const char *what;           /* for messages */
} step;

static const step LMTP[] = {
    {OP_SMTP, "220", "greeting"},
    {OP_SEND, "LHLO emailng-healthd\r\n", "LHLO"},
    {OP_SMTP, "250", "LHLO"},
    {OP_SEND, "QUIT\r\n", "QUIT"},
    {OP_SMTP, "221", "QUIT"},
    {OP_END, NULL, "end"},
};

static const step IMAP[] = {
    {OP_GREETING, NULL, "greeting"},
    {OP_LOGIN, "A1", "LOGIN"},
    {OP_TAGGED, "A1", "LOGIN"},
    {OP_SEND, "A2 EXAMINE INBOX\r\n", "EXAMINE"},
    {OP_TAGGED, "A2", "EXAMINE INBOX"},
    {OP_SEND, "A3 LOGOUT\r\n", "LOGOUT"},
    {OP_TAGGED, "A3", "LOGOUT"},
    {OP_END, NULL, "end"},
};

const char *probe_kind_name(probe_kind k)
{
    return k == PROBE_LMTP ? "lmtp" : "imap";
}

static const step *script(const probe *p)
{
    return p->kind == PROBE_LMTP ? LMTP : IMAP;
}

void probe_init(probe *p, probe_kind kind, const struct sockaddr_storage *sa, socklen_t salen,
                const char *user, const char *password)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->sa = *sa;
    p->salen = salen;
    p->user = user;
    p->password = password;
    p->fd = -1;
}

void probe_free(probe *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    buf_free(&p->detail);
    buf_free(&p->in);
    if (p->out.data)
        explicit_bzero(p->out.data, p->out.cap);
    buf_free(&p->out);
}

/* Printable, bounded copy of a server line for messages. */
static void quote_line(buf *b, const char *s, size_t n)
{
    if (n > 120)
        n = 120;
    buf_append_char(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            buf_printf(b, "\\x%02x", ch);
        else
            buf_append_char(b, (char)ch);
    }
    buf_append_char(b, '"');
}

static void finish(probe *p, int ok, long long now)
{
    p->ok = ok;
    p->done = 1;
    p->ms = now - p->start_ms;
    if (ok)
        buf_printf(&p->detail, "ok in %lld ms", p->ms);
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

static void failf(probe *p, long long now, const char *what, const char *fmt, const char *line, size_t n)
{
    buf_printf(&p->detail, "%s: %s", what, fmt);
    if (line)
        quote_line(&p->detail, line, n);
    finish(p, 0, now);
}

static void start(probe *p, long long now)
{
    p->start_ms = now;
    p->fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        buf_printf(&p->detail, "socket: %s", strerror(errno));
        finish(p, 0, now);
        return;
    }
    if (connect(p->fd, (struct sockaddr *)&p->sa, p->salen) == 0)
        return;
    if (errno == EINPROGRESS) {
        p->connecting = 1;
        return;
    }
    p->refused = errno == ECONNREFUSED;
    buf_printf(&p->detail, "connect: %s", strerror(errno));
    finish(p, 0, now);
}

static void append_imap_string(buf *b, const char *s)
{
    buf_append_char(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_append_char(b, '\\');
        buf_append_char(b, *s);
    }
    buf_append_char(b, '"');
}

/* Runs the script as far as the buffered input allows. */
static void advance(probe *p, long long now)
{
    while (!p->done) {
        const step *st = &script(p)[p->step];
        if (st->op == OP_END) {
            finish(p, 1, now);
            return;
        }
        if (st->op == OP_SEND) {
            buf_append_str(&p->out, st->arg);
            p->step++;
            continue;
        }
        if (st->op == OP_LOGIN) {
            buf_printf(&p->out, "%s LOGIN ", st->arg);
            append_imap_string(&p->out, p->user);
            buf_append_char(&p->out, ' ');
            append_imap_string(&p->out, p->password);
            buf_append_str(&p->out, "\r\n");
            p->step++;
            continue;
        }
        /* An expectation: needs a whole line. */
        const char *data = buf_cstr(&p->in);
        const char *nl = memchr(data, '\n', p->in.len);
        if (!nl) {
            if (p->in.len > MAX_LINE)
                failf(p, now, st->what, "server line longer than 8 KiB", NULL, 0);
            return;
        }
        size_t n = (size_t)(nl - data);
        size_t used = n + 1;
        if (n > 0 && data[n - 1] == '\r')
            n--;
        int next = 0, bad = 0;
        if (st->op == OP_SMTP) {
            if (n >= 3 && memcmp(data, st->arg, 3) == 0 && (n == 3 || data[3] == ' '))
                next = 1;
            else if (n >= 4 && memcmp(data, st->arg, 3) == 0 && data[3] == '-')
                next = 0;               /* continuation line */
            else
                bad = 1;
        } else if (st->op == OP_GREETING) {
            if (n >= 4 && memcmp(data, "* OK", 4) == 0)
                next = 1;
            else
                bad = 1;
        } else {                        /* OP_TAGGED */
            size_t tl = strlen(st->arg);
            if (n >= 2 && data[0] == '*' && data[1] == ' ')
                next = 0;               /* untagged data */
            else if (n >= tl + 3 && memcmp(data, st->arg, tl) == 0 && data[tl] == ' ' &&
                     memcmp(data + tl + 1, "OK", 2) == 0)
                next = 1;
            else
                bad = 1;
        }
        if (bad) {
            failf(p, now, st->what, "unexpected reply ", data, n);
            return;
        }
        /* Drop the line from the input. */
        memmove(p->in.data, p->in.data + used, p->in.len - used);
        p->in.len -= used;
        p->in.data[p->in.len] = '\0';
        if (next)
            p->step++;
    }
}

static void on_writable(probe *p, long long now)
{
    if (p->connecting) {
        int e = 0;
        socklen_t len = sizeof(e);
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
            e = errno;
        if (e != 0) {
            p->refused = e == ECONNREFUSED;
            buf_printf(&p->detail, "connect: %s", strerror(e));
            finish(p, 0, now);
            return;
        }
        p->connecting = 0;
        return;
    }
    while (p->out_off < p->out.len) {
        ssize_t w = send(p->fd, p->out.data + p->out_off, p->out.len - p->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w < 0) {
            buf_printf(&p->detail, "%s: send: %s", script(p)[p->step].what, strerror(errno));
            finish(p, 0, now);
            return;
        }
        p->out_off += (size_t)w;
    }
    explicit_bzero(p->out.data, p->out.len);
    buf_reset(&p->out);
    p->out_off = 0;
}

static void on_readable(probe *p, long long now)
{
    char chunk[4096];
    ssize_t r = recv(p->fd, chunk, sizeof chunk, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    const char *what = script(p)[p->step].what;
    if (r < 0) {
        buf_printf(&p->detail, "%s: recv: %s", what, strerror(errno));
        finish(p, 0, now);
        return;
    }
    if (r == 0) {
        buf_printf(&p->detail, "%s: connection closed by the store", what);
        finish(p, 0, now);
        return;
    }
    if (p->in.len + (size_t)r > MAX_IN) {
        buf_printf(&p->detail, "%s: more than 64 KiB of replies", what);
        finish(p, 0, now);
        return;
    }
    buf_append(&p->in, chunk, (size_t)r);
    advance(p, now);
}

/* Fails the probes whose connect has not completed by now. */
static void connect_deadline(probe *ps, size_t n, long long now, long connect_timeout_ms)
{
    for (size_t i = 0; i < n; i++) {
        if (ps[i].done || !ps[i].connecting)
            continue;
        buf_printf(&ps[i].detail, "connect: timed out after %ld ms", connect_timeout_ms);
        finish(&ps[i], 0, now);
    }
}

void probe_run(probe *ps, size_t n, long timeout_ms, long connect_timeout_ms)
{
    long long t0 = clock_ms();
    long long deadline = t0 + timeout_ms;
    long long connect_deadline_ms = t0 + (connect_timeout_ms < timeout_ms ? connect_timeout_ms : timeout_ms);
    int connects_due = connect_timeout_ms < timeout_ms;
    for (size_t i = 0; i < n; i++) {
        buf_reset(&ps[i].detail);
        if (ps[i].pending)
            ps[i].pending = 0;          /* continued where it stood */
        else
            start(&ps[i], t0);
    }
    struct pollfd *pfd = xcalloc(n, sizeof(*pfd));
    size_t *idx = xcalloc(n, sizeof(*idx));
    for (;;) {
        long long now = clock_ms();
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            probe *p = &ps[i];
            if (p->done)
                continue;
            pfd[m].fd = p->fd;
            pfd[m].events = (p->connecting || p->out_off < p->out.len) ? POLLOUT : POLLIN;
            pfd[m].revents = 0;
            idx[m++] = i;
        }
        if (m == 0)
            break;
        if (connects_due && now >= connect_deadline_ms) {
            connect_deadline(ps, n, now, connect_timeout_ms);
            connects_due = 0;
            continue;
        }
        if (now >= deadline) {
            for (size_t k = 0; k < m; k++) {
                probe *p = &ps[idx[k]];
                /* Past the greeting (step 0 of both scripts) the store's
                 * processes answered: a login or EXAMINE still waiting is
                 * a busy store's, not a dead one's. */
                p->slow = !p->connecting && p->step > 0;
                if (p->slow && now - p->start_ms < p->patience_ms) {
                    buf_printf(&p->detail, "%s: no answer yet after %lld ms (kept open for up to %ld ms)",
                               script(p)[p->step].what, now - p->start_ms, p->patience_ms);
                    p->pending = 1;
                    continue;
                }
                /* a continued probe: the whole wait since its start */
                buf_printf(&p->detail, "%s: timed out after %lld ms",
                           p->connecting ? "connect" : script(p)[p->step].what,
                           p->start_ms < t0 ? now - p->start_ms : (long long)timeout_ms);
                finish(p, 0, now);
            }
            break;
        }
        long long wake = connects_due && connect_deadline_ms < deadline ? connect_deadline_ms : deadline;
        int rc = poll(pfd, m, (int)(wake - now));
        if (rc < 0 && errno != EINTR) {
            for (size_t k = 0; k < m; k++) {
                buf_printf(&ps[idx[k]].detail, "poll: %s", strerror(errno));
                finish(&ps[idx[k]], 0, now);
            }
            break;
        }
        now = clock_ms();
        for (size_t k = 0; rc > 0 && k < m; k++) {
            probe *p = &ps[idx[k]];
            short re = pfd[k].revents;
            if (!re || p->done)
                continue;
            if (re & POLLOUT || (p->connecting && re & (POLLERR | POLLHUP)))
                on_writable(p, now);
            else if (re & (POLLIN | POLLERR | POLLHUP))
                on_readable(p, now);
            /* After a write or connect, there may be queued lines to send. */
            if (!p->done && !p->connecting && p->out.len == 0)
                advance(p, now);
        }
    }
    free(pfd);
    free(idx);
}
