/* daemon_log: see daemon_log.h. */
#include "daemon_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "address.h"

static int fd = 2;
static char *path_copy;
static const char *prog_name = "emailng";

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
    fd = f;
    if (f != 2)
        path_copy = xstrdup(path);
    return 0;
}

int daemon_log_reopen(void)
{
    if (!path_copy)
        return 0;
    int f = open_log(path_copy);
    if (f < 0)
        return -1;
    int rc = dup2(f, fd) < 0 ? -1 : 0;
    int saved = errno;
    close(f);
    errno = saved;
    return rc;
}

void daemon_log_close(void)
{
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
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char t[64], z[16];
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(z, sizeof z, "%z", &tm);
    buf_printf(line, "%s.%03ld%s %s[%ld]: ", t, (long)(tv.tv_usec / 1000), z, prog_name, (long)getpid());
}

void daemon_log_field(buf *line, const char *key, const char *value)
{
    buf_printf(line, " %s=", key);
    char *v = xstrndup(value, strnlen(value, DAEMON_LOG_FIELD_MAX));
    address_quote(line, v);
    free(v);
}

void daemon_log_end(buf *line)
{
    buf_append_char(line, '\n');
    size_t off = 0;
    while (off < line->len) {
        ssize_t n = write(fd, line->data + off, line->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf_free(line);
}

void daemon_log_str(const char *msg)
{
    buf line = BUF_INIT;
    daemon_log_begin(&line);
    for (size_t n = 0; *msg && n < DAEMON_LOG_MAX; msg++, n++) {
        unsigned char c = (unsigned char)*msg;
        buf_append_char(&line, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
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
