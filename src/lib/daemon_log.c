/* daemon_log: see daemon_log.h. */
#include "daemon_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd = 2;
static char *path_copy;
static const char *prog_name = "emailng";

/* The line's head, formatted once a second: "2024-05-01T12:00:00." and,
 * after the milliseconds, "+0200 emailng-policyd[1234]: ". */
static struct {
    time_t sec;
    int valid;
    char date[40];
    size_t date_len;
    char tail[160];
    size_t tail_len;
} stamp;

/* The buffer of lines not written yet (daemon_log_buffer). */
static struct {
    char *data;
    size_t len, cap;
    void (*pending)(void *);
    void *arg;
} out;

static void after_fork_in_child(void)
{
    /* the parent writes its own lines; the child writes at once */
    free(out.data);
    memset(&out, 0, sizeof out);
    stamp.valid = 0;
}

/* Without it, nothing is buffered or cached across lines (a child would
 * write its parent's lines or name its parent's pid). */
static int fork_safe;

static int register_fork_handler(void)
{
    if (!fork_safe && pthread_atfork(NULL, NULL, after_fork_in_child) == 0)
        fork_safe = 1;
    return fork_safe ? 0 : -1;
}

static void at_exit_flush(void)
{
    (void)daemon_log_flush();
}

static int write_all(const char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

int daemon_log_flush(void)
{
    if (out.len == 0)
        return 0;
    int rc = write_all(out.data, out.len);
    out.len = 0;
    return rc;
}

int daemon_log_buffer(size_t cap, void (*pending)(void *), void *arg)
{
    int rc = daemon_log_flush();
    static int exit_hook;
    if (cap && !exit_hook && atexit(at_exit_flush) == 0)
        exit_hook = 1;
    if (cap && (!exit_hook || register_fork_handler() != 0)) {
        errno = ENOMEM;
        return -1;             /* lines are still written, at once */
    }
    if (cap != out.cap) {
        free(out.data);
        out.data = cap ? xmalloc(cap) : NULL;
        out.cap = cap;
    }
    out.pending = pending;
    out.arg = arg;
    return rc;
}

/* One finished line, '\n' included. */
static void emit(const char *p, size_t len)
{
    if (out.cap == 0) {
        (void)write_all(p, len);
        return;
    }
    if (out.len + len > out.cap)
        (void)daemon_log_flush();
    if (len > out.cap) {
        (void)write_all(p, len);
        return;
    }
    int was_empty = out.len == 0;
    memcpy(out.data + out.len, p, len);
    out.len += len;
    if (was_empty && out.pending)
        out.pending(out.arg);
}

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int daemon_log_open(const char *prog, const char *path)
{
    int f = 2;
    if (path && *path && strcmp(path, "-") != 0) {
        f = open_log(path);
        if (f < 0)
            return -1;
    }
    daemon_log_close();
    if (prog)
        prog_name = prog;
    stamp.valid = 0;
    (void)register_fork_handler();  /* without it, the head is made afresh for every line */
    fd = f;
    if (f != 2)
        path_copy = xstrdup(path);
    return 0;
}

/* 1 if descriptor a is open on the same file as the struct stat b. */
static int same_file_as(int a, const struct stat *b)
{
    struct stat st;
    return fstat(a, &st) == 0 && st.st_dev == b->st_dev && st.st_ino == b->st_ino;
}

int daemon_log_reopen(void)
{
    (void)daemon_log_flush();       /* what came before goes to the old file */
    if (!path_copy)
        return 0;
    struct stat old;
    int had_old = fstat(fd, &old) == 0;
    int f = open_log(path_copy);
    if (f < 0)
        return -1;
    int rc = dup2(f, fd) < 0 ? -1 : 0;
    /* A daemon started with its stdout and stderr on its log (emailng
     * does that, for what libraries print) must not keep the rotated
     * file open through them: they follow the log too. */
    for (int std = 1; rc == 0 && had_old && std <= 2; std++)
        if (std != fd && same_file_as(std, &old) && dup2(f, std) < 0)
            rc = -1;
    int saved = errno;
    close(f);
    errno = saved;
    return rc;
}

void daemon_log_close(void)
{
    (void)daemon_log_flush();
    if (fd > 2)
        close(fd);
    fd = 2;
    free(path_copy);
    path_copy = NULL;
}

int daemon_log_fd(void)
{
    return fd;
}

void daemon_log_begin(buf *line)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (!fork_safe)
        stamp.valid = 0;
    if (!stamp.valid || tv.tv_sec != stamp.sec) {
        struct tm tm;
        localtime_r(&tv.tv_sec, &tm);
        char z[16];
        size_t n = strftime(stamp.date, sizeof stamp.date - 1, "%Y-%m-%dT%H:%M:%S", &tm);
        stamp.date[n] = '.';
        stamp.date_len = n + 1;
        if (strftime(z, sizeof z, "%z", &tm) == 0)
            z[0] = '\0';
        int t = snprintf(stamp.tail, sizeof stamp.tail, "%s %s[%ld]: ", z, prog_name, (long)getpid());
        if (t < 0 || (size_t)t >= sizeof stamp.tail) {
            /* a program name this long is not cached */
            buf_printf(line, "%.*s%03ld%s %s[%ld]: ", (int)n, stamp.date, (long)(tv.tv_usec / 1000), z,
                       prog_name, (long)getpid());
            return;
        }
        stamp.tail_len = (size_t)t;
        stamp.sec = tv.tv_sec;
        stamp.valid = 1;
    }
    long ms = (long)(tv.tv_usec / 1000);
    char d[3] = {(char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
    buf_append(line, stamp.date, stamp.date_len);
    buf_append(line, d, 3);
    buf_append(line, stamp.tail, stamp.tail_len);
}

/* address_quote's escaping (src/lib/address.c), a value at a time. */
void daemon_log_field(buf *line, const char *key, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    char q[4 * DAEMON_LOG_FIELD_MAX + 2];
    size_t n = 0;
    q[n++] = '"';
    const unsigned char *p = (const unsigned char *)value;
    for (size_t i = 0; i < DAEMON_LOG_FIELD_MAX && p[i]; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            q[n++] = (char)c;
            continue;
        }
        q[n++] = '\\';
        switch (c) {
        case '"':  q[n++] = '"'; break;
        case '\\': q[n++] = '\\'; break;
        case '\n': q[n++] = 'n'; break;
        case '\r': q[n++] = 'r'; break;
        case '\t': q[n++] = 't'; break;
        default:
            q[n++] = 'x';
            q[n++] = hex[c >> 4];
            q[n++] = hex[c & 15];
        }
    }
    q[n++] = '"';
    buf_append_char(line, ' ');
    buf_append_str(line, key);
    buf_append_char(line, '=');
    buf_append(line, q, n);
}

void daemon_log_write(buf *line)
{
    buf_append_char(line, '\n');
    emit(line->data, line->len);
    buf_reset(line);
}

void daemon_log_end(buf *line)
{
    daemon_log_write(line);
    buf_free(line);
}

void daemon_log_str(const char *msg)
{
    buf line = BUF_INIT;
    daemon_log_begin(&line);
    size_t start = line.len, n = strnlen(msg, DAEMON_LOG_MAX);
    buf_append(&line, msg, n);
    for (size_t i = start; i < line.len; i++) {
        unsigned char c = (unsigned char)line.data[i];
        if (c < 0x20 || c >= 0x7f)
            line.data[i] = '?';
    }
    daemon_log_end(&line);
}

void daemon_log(const char *fmt, ...)
{
    buf m = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&m, fmt, ap);
    va_end(ap);
    daemon_log_str(buf_cstr(&m));
    buf_free(&m);
}
