/* mailbox_remote: a user's mailbox put away by a store's doveadm server;
 * see mailbox_remote.h. */
#include "mailbox_remote.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doveadm_client.h"
#include "fsutil.h"
#include "password.h"
#include "render.h"
#include "replication.h"
#include "store_mailbox.h"

/* Each command: connect, and each read or write. A copy is a link() on
 * the store, a delete of a big tree takes longer. */
#define REMOTE_TIMEOUT_MS 30000
/* Folders nest; a tree deeper than this is not a mailbox of ours. */
#define TREE_DEPTH_MAX 64

struct store_conn {
    const struct site_host *store;
    struct doveadm_target t;
    buf password;
    char *ca;
};

static int conn_init(struct store_conn *c, const struct site *site, const struct site_host *store,
                     const char *state_dir, buf *err)
{
    memset(c, 0, sizeof *c);
    c->store = store;
    struct render_context ctx = {0};
    char *secret = replication_secret_path(state_dir);
    int rc = render_context_for_host(site, store, state_dir, &ctx, err);
    if (rc == 0 && fs_read_secret(secret, PASSWORD_MAX, &c->password, err) != 0) {
        buf_printf(err, " (the doveadm secret, which `emailng deploy` puts on the directory host)");
        rc = -1;
    }
    if (rc == 0) {
        c->ca = xstrdup(render_context_get(&ctx, "tls_ca"));
        c->t.address = store->address;
        c->t.port = atoi(render_context_get(&ctx, "port_doveadm"));
        c->t.ca_file = c->ca;
        c->t.password = buf_cstr(&c->password);
        c->t.timeout_ms = REMOTE_TIMEOUT_MS;
    }
    free(secret);
    render_context_free(&ctx);
    return rc;
}

static void conn_free(struct store_conn *c)
{
    password_wipe(&c->password);
    free(c->ca);
}

/* One command; -1 only when the store did not answer (err says why). */
static int run(const struct store_conn *c, const char *const argv[], struct doveadm_reply *reply, buf *err)
{
    buf why = BUF_INIT;
    int rc = doveadm_run(&c->t, "", argv, reply, &why);
    if (rc != 0)
        buf_printf(err, "the doveadm server of store %s (%s:%d) does not answer: %s", c->store->name,
                   c->t.address, c->t.port, buf_cstr(&why));
    buf_free(&why);
    return rc;
}

/* A doveadm command that ran and failed. */
static void failed(const struct store_conn *c, const char *what, const char *path, const struct doveadm_reply *r,
                   buf *err)
{
    buf_printf(err, "store %s: %s %s failed (%s)", c->store->name, what, path, r->code ? r->code : "");
}

static int presence(const struct store_conn *c, const char *path, enum store_mailbox_presence *p, buf *err)
{
    const char *argv[] = {"fs", "stat", "posix", "", path, NULL};
    struct doveadm_reply r;
    if (run(c, argv, &r, err) != 0)
        return -1;
    *p = store_mailbox_presence(&r);
    if (*p == STORE_MAILBOX_UNKNOWN)
        failed(c, "fs stat of", path, &r, err);
    doveadm_reply_free(&r);
    return *p == STORE_MAILBOX_UNKNOWN ? -1 : 0;
}

/* The names in dir: files (fs iter) or folders (fs iter-dirs). */
static int list(const struct store_conn *c, const char *dir, int dirs, struct doveadm_reply *r, buf *err)
{
    char *slashed = xasprintf("%s/", dir);
    const char *argv[] = {"fs", dirs ? "iter-dirs" : "iter", "posix", "", slashed, NULL};
    int rc = run(c, argv, r, err);
    if (rc == 0 && !r->ok) {
        failed(c, dirs ? "fs iter-dirs of" : "fs iter of", dir, r, err);
        doveadm_reply_free(r);
        rc = -1;
    }
    free(slashed);
    return rc;
}

/* Every file below src to the same name below dst (folders made on the
 * way by the posix driver, root's, 0700). */
static int copy_tree(const struct store_conn *c, const char *src, const char *dst, int depth, size_t *n_files,
                     buf *err)
{
    if (depth > TREE_DEPTH_MAX) {
        buf_printf(err, "store %s: %s nests deeper than %d folders", c->store->name, src, TREE_DEPTH_MAX);
        return -1;
    }
    struct doveadm_reply files, dirs;
    if (list(c, src, 0, &files, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < files.n_fields; i++) {
        char *from = xasprintf("%s/%s", src, files.fields[i]);
        char *to = xasprintf("%s/%s", dst, files.fields[i]);
        const char *argv[] = {"fs", "copy", "posix", "", from, to, NULL};
        struct doveadm_reply r;
        rc = run(c, argv, &r, err);
        if (rc == 0) {
            if (r.ok) {
                (*n_files)++;
            } else if (store_mailbox_presence(&r) != STORE_MAILBOX_ABSENT) {
                failed(c, "fs copy of", from, &r, err);   /* ABSENT: gone since the listing (a lock file) */
                rc = -1;
            }
            doveadm_reply_free(&r);
        }
        free(from);
        free(to);
    }
    doveadm_reply_free(&files);
    if (rc == 0 && list(c, src, 1, &dirs, err) == 0) {
        for (size_t i = 0; rc == 0 && i < dirs.n_fields; i++) {
            char *from = xasprintf("%s/%s", src, dirs.fields[i]);
            char *to = xasprintf("%s/%s", dst, dirs.fields[i]);
            rc = copy_tree(c, from, to, depth + 1, n_files, err);
            free(from);
            free(to);
        }
        doveadm_reply_free(&dirs);
    } else {
        rc = -1;
    }
    return rc;
}

/* DATA/STORE/archive/DOMAIN/LOCAL.STAMP[-N] that the store does not have. */
static int free_archive_path(const struct store_conn *c, const char *state_dir, const char *address, char **path,
                             buf *err)
{
    const char *at = strchr(address, '@');
    time_t now = time(NULL);
    *path = NULL;
    for (int n = 1; n < 100; n++) {
        char *leaf = store_mailbox_archive_leaf(address, now, n);
        char *candidate = xasprintf("%s/data/%s/archive/%s/%s", state_dir, c->store->name, at + 1, leaf);
        free(leaf);
        enum store_mailbox_presence p;
        if (presence(c, candidate, &p, err) != 0) {
            free(candidate);
            return -1;
        }
        if (p == STORE_MAILBOX_ABSENT) {
            *path = candidate;
            return 0;
        }
        free(candidate);
    }
    buf_printf(err, "store %s: no free archive name for %s", c->store->name, address);
    return -1;
}

static int delete_tree(const struct store_conn *c, const char *mailbox, buf *err)
{
    /* "dirs": the posix driver removes the folders too, not only files. */
    char *slashed = xasprintf("%s/", mailbox);
    const char *argv[] = {"fs", "delete", "-R", "posix", "dirs", slashed, NULL};
    struct doveadm_reply r;
    int rc = run(c, argv, &r, err);
    if (rc == 0) {
        if (!r.ok && store_mailbox_presence(&r) != STORE_MAILBOX_ABSENT) {
            failed(c, "fs delete -R of", mailbox, &r, err);
            rc = -1;
        }
        doveadm_reply_free(&r);
    }
    enum store_mailbox_presence p = STORE_MAILBOX_PRESENT;
    if (rc == 0 && presence(c, mailbox, &p, err) == 0 && p != STORE_MAILBOX_ABSENT) {
        buf_printf(err, "store %s: %s is still there after its removal", c->store->name, mailbox);
        rc = -1;
    } else if (rc == 0 && p != STORE_MAILBOX_ABSENT) {
        rc = -1;
    }
    free(slashed);
    return rc;
}

/* Sessions ended, the replicator told to forget the user: a failure of
 * either is reported, not fatal (no session, not queued); a store that
 * does not answer is. */
static int quiet_user(const struct store_conn *c, const char *address, int kick, buf *report, buf *err)
{
    const char *forget[] = {"replicator", "remove", address, NULL};
    const char *end[] = {"kick", address, NULL};
    struct doveadm_reply r;
    if (run(c, forget, &r, err) != 0)
        return -1;
    doveadm_reply_free(&r);
    if (!kick)
        return 0;
    if (run(c, end, &r, err) != 0)
        return -1;
    if (!r.ok && store_mailbox_presence(&r) != STORE_MAILBOX_ABSENT)   /* NOTFOUND: no session */
        buf_printf(report, "%s: could not end the sessions of %s (doveadm kick: %s)\n", c->store->name, address,
                   r.code ? r.code : "");
    doveadm_reply_free(&r);
    return 0;
}

int mailbox_remote_put_away(const struct site *site, const char *state_dir, const struct site_host *store,
                            const char *address, int purge, int kick, const char *absent_text, buf *report,
                            buf *err)
{
    struct store_conn c;
    char *mailbox = store_mailbox_path(state_dir, store, address);
    char *archive = NULL;
    enum store_mailbox_presence p = STORE_MAILBOX_UNKNOWN;
    size_t n_files = 0;
    int deleting = 0;
    int rc = conn_init(&c, site, store, state_dir, err);
    if (rc == 0)
        rc = quiet_user(&c, address, kick, report, err);
    if (rc == 0)
        rc = presence(&c, mailbox, &p, err);
    if (rc == 0 && p == STORE_MAILBOX_ABSENT) {
        if (absent_text)
            buf_printf(report, "%s: %s\n", store->name, absent_text);
    } else if (rc == 0 && purge) {
        deleting = 1;
        rc = delete_tree(&c, mailbox, err);
        if (rc == 0)
            buf_printf(report, "%s: mailbox removed\n", store->name);
    } else if (rc == 0) {
        rc = free_archive_path(&c, state_dir, address, &archive, err);
        if (rc == 0)
            rc = copy_tree(&c, mailbox, archive, 0, &n_files, err);
        /* Only a complete copy lets the tree go: else it stays for a retry
         * (the partial archive beside it is harmless, a retry takes a new name). */
        if (rc == 0) {
            deleting = 1;
            rc = delete_tree(&c, mailbox, err);
        }
        if (rc == 0 && n_files == 0)
            buf_printf(report, "%s: the mailbox folder held no file: removed\n", store->name);
        else if (rc == 0)
            buf_printf(report, "%s: mailbox archived in %s (%zu files, by its doveadm server)\n", store->name,
                       archive, n_files);
    }
    if (rc != 0 && p == STORE_MAILBOX_PRESENT)
        buf_printf(err, " (the mailbox on %s %s)", store->name,
                   !deleting ? "is where it was"
                   : purge   ? "may be partly removed"
                             : "may be partly removed; its archive is complete");
    free(archive);
    free(mailbox);
    conn_free(&c);
    return rc;
}
