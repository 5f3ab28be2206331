/* replication: what emailng adds to Dovecot's replication of a store pair
 * (templates/dovecot-store, docs/architecture.md "Replication").
 * replication_secret_ensure() makes the pair's doveadm password once:
 * STATE/secrets/doveadm-password (0600 root, in the 0700 secrets folder),
 * which the stores' Dovecot reads with "doveadm_password = <FILE".
 * replication_secret_rotate() replaces it with a new one in one rename
 * (`emailng deploy --rotate-secret doveadm`).
 * replication_status_parse() reads the values a doveadm server prints for
 * `replicator status '*'` (six per user: username, priority, fast sync,
 * full sync, success sync, failed; doveadm_client.h) into per-user entries,
 * and replication_pending() says whether a user still has a sync queued or
 * failed. Returns 0, or -1 with a one-line reason in err. */
#ifndef EMAILNG_REPLICATION_H
#define EMAILNG_REPLICATION_H

#include <stddef.h>

#include "buf.h"

int replication_secret_ensure(const char *state_dir, buf *err);
int replication_secret_rotate(const char *state_dir, buf *err);

/* The password file's path (caller frees). */
char *replication_secret_path(const char *state_dir);

struct replication_user {
    char *username;
    char *priority;      /* none, low, high, sync */
    char *fast_sync;     /* time since the last fast sync attempt ("02:03:52", "-") */
    char *full_sync;     /* time since the last full sync attempt */
    char *success_sync;  /* time since the last successful sync */
    int failed;          /* the last sync failed */
};

struct replication_status {
    struct replication_user *users;
    size_t n_users;
};

int replication_status_parse(char *const *fields, size_t n_fields, struct replication_status *st, buf *err);
void replication_status_free(struct replication_status *st);

/* 1 if the user has a sync queued (priority other than none) or its last
 * sync failed. */
int replication_pending(const struct replication_user *u);

#endif
