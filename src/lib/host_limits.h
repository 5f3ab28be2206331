/* host_limits: the kernel and process limits Dovecot needs for many
 * concurrent sessions (issue 14; docs/admin-manual.md, "Tuning for many
 * clients"). `emailng up` raises them where the host allows it; `emailng
 * status` reports any that stay below what EmailNG wants. */
#ifndef EMAILNG_HOST_LIMITS_H
#define EMAILNG_HOST_LIMITS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>

#include "buf.h"

/* Descriptors for Dovecot's master and its children: an imap-login process
 * holds two per TLS session (client_limit 2500 in the templates: 5,016 with
 * Dovecot's own), so this leaves room to raise client_limit threefold.
 * Debian's default soft limit is 1024. */
#define HOST_NOFILE_WANT 16384

struct kernel_limit {
    const char *name;   /* sysctl name, e.g. fs.inotify.max_user_instances */
    const char *path;   /* below the /proc/sys directory */
    long want;
    const char *why;    /* what falls short below it */
};

extern const struct kernel_limit host_kernel_limits[];
extern const size_t host_n_kernel_limits;

/* The value of limit l under procsys (normally "/proc/sys"), or -1. */
long host_kernel_limit_read(const char *procsys, const struct kernel_limit *l);

/* Raises every limit below its wanted value (never lowers one). Returns
 * the number that stay below it; each is described in `shortfalls`, one
 * line each. */
int host_kernel_limits_raise(const char *procsys, buf *shortfalls);

/* Like raise, without writing: the number below their wanted value. */
int host_kernel_limits_check(const char *procsys, buf *shortfalls);

/* Prints each line of shortfalls to f as "emailng: warning: PREFIXline". */
void host_limits_warn(FILE *f, const char *prefix, const char *shortfalls);

/* Sets this process's RLIMIT_NOFILE to at least `want` (soft and hard; the
 * hard limit needs CAP_SYS_RESOURCE), keeping the old one in *saved for
 * setrlimit() after the daemon is started. Returns 0; 1 with err set when
 * the soft limit stays below want (it is raised as far as allowed); -1
 * with err set when the limit cannot be read (*saved is then unset). */
int host_nofile_raise(rlim_t want, struct rlimit *saved, buf *err);

#endif
