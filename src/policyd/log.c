/* log: see log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "address.h"

static int fd = 2;
static char *path_copy;

int log_open(const char *path)
{
    free(path_copy);
    path_copy = NULL;
    if (!path || strcmp(path, "-") == 0 || !*path) {
        fd = 2;
        return 0;
    }
    int f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (f < 0)
        return -1;
    if (fd > 2)
        close(fd);
    fd = f;
    path_copy = xstrdup(path);
    return 0;
}

int log_reopen(void)
{
    if (!path_copy)
        return 0;
    int f = open(path_copy, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (f < 0)
        return -1;
    dup2(f, fd);
    close(f);
    return 0;
}

int log_fd(void)
{
    return fd;
}

static void stamp(buf *b)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char t[64];
    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
    char z[16];
    strftime(z, sizeof(z), "%z", &tm);
    buf_printf(b, "%s.%03ld%s emailng-policyd[%ld]: ", t, (long)(tv.tv_usec / 1000), z, (long)getpid());
}

static void emit(buf *b)
{
    buf_append_char(b, '\n');
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

void log_line(const char *msg)
{
    buf b = BUF_INIT;
    stamp(&b);
    sanitize_append(&b, msg, 4000);
    emit(&b);
    buf_free(&b);
}

void log_msg(const char *fmt, ...)
{
    buf m = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&m, fmt, ap);
    va_end(ap);
    log_line(buf_cstr(&m));
    buf_free(&m);
}

static void kv(buf *b, const char *key, const char *value)
{
    buf_printf(b, " %s=", key);
    buf v = BUF_INIT;
    buf_append(&v, value, strnlen(value, 512));
    address_quote(b, buf_cstr(&v));
    buf_free(&v);
}

void log_decision(const request *r, const char *action, const char *reason, double ms)
{
    buf b = BUF_INIT;
    stamp(&b);
    buf_append_str(&b, "decision");
    kv(&b, "queue_id", request_get(r, "queue_id"));
    kv(&b, "state", request_get(r, "protocol_state"));
    kv(&b, "client", request_get(r, "client_address"));
    kv(&b, "helo", request_get(r, "helo_name"));
    kv(&b, "sasl_user", request_get(r, "sasl_username"));
    kv(&b, "sender", request_get(r, "sender"));
    kv(&b, "recipient", request_get(r, "recipient"));
    kv(&b, "action", action);
    kv(&b, "reason", reason);
    buf_printf(&b, " ms=%.3f", ms);
    emit(&b);
    buf_free(&b);
}
