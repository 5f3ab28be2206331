/* replication: the pair's doveadm secret and the replicator's status; see
 * replication.h. */
#include "replication.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "password.h"

char *replication_secret_path(const char *state_dir)
{
    return xasprintf("%s/secrets/doveadm-password", state_dir);
}

int replication_secret_ensure(const char *state_dir, buf *err)
{
    /* Two generated passwords: 32 characters, about 185 bits. */
    char *file = replication_secret_path(state_dir);
    int rc = password_file_ensure(file, 2, 0, err);
    free(file);
    return rc;
}

int replication_secret_rotate(const char *state_dir, buf *err)
{
    /* Made beside it, then renamed over it: the file is never missing or
     * half written, and the folder's 0700 covers the new one too. */
    char *file = replication_secret_path(state_dir);
    char *next = xasprintf("%s.new", file);
    int rc = 0;
    if (unlink(next) != 0 && errno != ENOENT) {
        buf_printf(err, "cannot remove %s: %s", next, strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        rc = password_file_ensure(next, 2, 0, err);
    if (rc == 0 && rename(next, file) != 0) {
        buf_printf(err, "cannot rename %s to %s: %s", next, file, strerror(errno));
        rc = -1;
    }
    free(next);
    free(file);
    return rc;
}

enum { STATUS_COLUMNS = 6 };

void replication_status_free(struct replication_status *st)
{
    for (size_t i = 0; i < st->n_users; i++) {
        struct replication_user *u = &st->users[i];
        free(u->username);
        free(u->priority);
        free(u->fast_sync);
        free(u->full_sync);
        free(u->success_sync);
    }
    free(st->users);
    memset(st, 0, sizeof *st);
}

static int known_priority(const char *p)
{
    static const char *const names[] = {"none", "low", "high", "sync"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(p, names[i]) == 0)
            return 1;
    return 0;
}

int replication_status_parse(char *const *fields, size_t n_fields, struct replication_status *st, buf *err)
{
    memset(st, 0, sizeof *st);
    if (n_fields % STATUS_COLUMNS != 0) {
        buf_printf(err, "the replicator status has %zu values, not %d per user", n_fields, STATUS_COLUMNS);
        return -1;
    }
    for (size_t i = 0; i < n_fields; i += STATUS_COLUMNS) {
        char *const *f = fields + i;
        if (f[0][0] == '\0' || !known_priority(f[1]) || (strcmp(f[5], "y") != 0 && strcmp(f[5], "-") != 0)) {
            buf_printf(err, "the replicator status of user %zu is malformed (priority \"%s\", failed \"%s\")",
                       i / STATUS_COLUMNS + 1, f[1], f[5]);
            replication_status_free(st);
            return -1;
        }
        st->users = xrealloc(st->users, (st->n_users + 1) * sizeof *st->users);
        struct replication_user *u = &st->users[st->n_users++];
        u->username = xstrdup(f[0]);
        u->priority = xstrdup(f[1]);
        u->fast_sync = xstrdup(f[2]);
        u->full_sync = xstrdup(f[3]);
        u->success_sync = xstrdup(f[4]);
        u->failed = strcmp(f[5], "y") == 0;
    }
    return 0;
}

int replication_pending(const struct replication_user *u)
{
    return u->failed || strcmp(u->priority, "none") != 0;
}
