/* host_limits: see host_limits.h. */
#include "host_limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

/* Every IDLE imap process (one per session) of the mail uid takes one
 * inotify instance; the kernel's default of 128 per uid makes the rest
 * poll every mailbox_idle_check_interval (30 s) instead of being pushed.
 * Each one watches a few files of the mailbox (mdbox: index and storage
 * directories). Sized for 10,000 sessions on one host with room for the
 * stores of a test fabric sharing one kernel (and one vmail uid). */
const struct kernel_limit host_kernel_limits[] = {
    {"fs.inotify.max_user_instances", "fs/inotify/max_user_instances", 32768,
     "IDLE sessions beyond it are not pushed new mail (Dovecot polls every 30 s)"},
    {"fs.inotify.max_user_watches", "fs/inotify/max_user_watches", 262144,
     "IDLE sessions beyond it are not pushed new mail (Dovecot polls every 30 s)"},
};
const size_t host_n_kernel_limits = sizeof host_kernel_limits / sizeof host_kernel_limits[0];

static char *limit_path(const char *procsys, const struct kernel_limit *l)
{
    size_t n = strlen(procsys) + strlen(l->path) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", procsys, l->path);
    return p;
}

long host_kernel_limit_read(const char *procsys, const struct kernel_limit *l)
{
    char *path = limit_path(procsys, l);
    buf text = BUF_INIT, err = BUF_INIT;
    long value = -1;
    if (path && fs_read_file(path, 64, &text, &err) == 0) {
        char *end;
        errno = 0;
        long v = strtol(buf_cstr(&text), &end, 10);
        if (errno == 0 && end != buf_cstr(&text) && (*end == '\n' || *end == '\0') && v >= 0)
            value = v;
    }
    free(path);
    buf_free(&text);
    buf_free(&err);
    return value;
}

static int write_value(const char *procsys, const struct kernel_limit *l, long value, buf *why)
{
    char *path = limit_path(procsys, l);
    if (!path) {
        buf_append_str(why, "out of memory");
        return -1;
    }
    /* Not fs_write_file: a sysctl is written in place, not replaced. */
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (!f) {
        buf_printf(why, "%s", strerror(errno));
    } else {
        int ok = fprintf(f, "%ld\n", value) > 0;
        int saved = errno;
        if (fclose(f) != 0 || !ok)
            buf_printf(why, "%s", strerror(ok ? errno : saved));
        else
            rc = 0;
    }
    free(path);
    return rc;
}

static int limits_pass(const char *procsys, int write, buf *shortfalls)
{
    int low = 0;
    for (size_t i = 0; i < host_n_kernel_limits; i++) {
        const struct kernel_limit *l = &host_kernel_limits[i];
        long have = host_kernel_limit_read(procsys, l);
        if (have >= l->want)
            continue;
        buf why = BUF_INIT;
        if (have < 0)
            buf_append_str(&why, "cannot read it");
        else if (!write)
            buf_append_str(&why, "not raised");
        else if (write_value(procsys, l, l->want, &why) == 0) {
            /* Read back: a namespace may accept the write and keep its own. */
            have = host_kernel_limit_read(procsys, l);
            if (have >= l->want) {
                buf_free(&why);
                continue;
            }
            buf_append_str(&why, "the kernel kept the old value");
        }
        buf_printf(shortfalls, "%s is %ld, EmailNG wants %ld (%s): %s\n", l->name, have, l->want,
                   buf_cstr(&why), l->why);
        buf_free(&why);
        low++;
    }
    return low;
}

int host_kernel_limits_raise(const char *procsys, buf *shortfalls)
{
    return limits_pass(procsys, 1, shortfalls);
}

int host_kernel_limits_check(const char *procsys, buf *shortfalls)
{
    return limits_pass(procsys, 0, shortfalls);
}

void host_limits_warn(FILE *f, const char *prefix, const char *shortfalls)
{
    const char *p = shortfalls;
    while (*p) {
        size_t n = strcspn(p, "\n");
        fprintf(f, "emailng: warning: %s%.*s\n", prefix, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

int host_nofile_raise(rlim_t want, struct rlimit *saved, buf *err)
{
    if (getrlimit(RLIMIT_NOFILE, saved) != 0) {
        buf_printf(err, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    if (saved->rlim_cur >= want)
        return 0;
    struct rlimit r = {want, saved->rlim_max > want ? saved->rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &r) == 0)
        return 0;
    /* Without CAP_SYS_RESOURCE: as far as the hard limit goes. */
    int why = errno;
    r.rlim_max = saved->rlim_max;
    r.rlim_cur = saved->rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0)
        r.rlim_cur = saved->rlim_cur;
    buf_printf(err, "open files (ulimit -n) %llu, EmailNG wants %llu (%s)", (unsigned long long)r.rlim_cur,
               (unsigned long long)want, strerror(why));
    return 1;
}
