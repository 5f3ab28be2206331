/* log: see log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static int fd = 2;
static char *path_copy;

int log_open(const char *path)
{
    free(path_copy);
    path_copy = NULL;
    if (!path || !*path || strcmp(path, "-") == 0) {
        fd = 2;
        return 0;
    }
    int f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (f < 0)
        return -1;
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

void log_msg(const char *fmt, ...)
{
    buf b = BUF_INIT;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char t[64], z[16];
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(z, sizeof z, "%z", &tm);
    buf_printf(&b, "%s.%03ld%s emailng-healthd[%ld]: ", t, (long)(tv.tv_usec / 1000), z, (long)getpid());
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    /* One event, one line: no control characters from anywhere. */
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] < 0x20)
            b.data[i] = ' ';
    buf_append_char(&b, '\n');
    size_t off = 0;
    while (off < b.len) {
        ssize_t n = write(fd, b.data + off, b.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf_free(&b);
}
