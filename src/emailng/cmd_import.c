/* cmd_import: `emailng import run|rollback|status`; see cmd_import.h. */
#include "cmd_import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>

#include "clock.h"
#include "directory.h"
#include "fabric.h"
#include "fsutil.h"
#include "import_list.h"
#include "import_report.h"
#include "password.h"
#include "render.h"
#include "user_store.h"

#define LIST_MAX (64u << 20)
#define STATE_FILE_MAX (1u << 20)
#define DOVEADM "/usr/bin/doveadm"
/* doveadm sync exits 2 when the mailbox changed under it ("run dsync
 * again"): a busy legacy mailbox gets this many tries. */
#define SYNC_TRIES 3
#define EX_NOUSER 67
/* --jobs: users imported at once. Each is one doveadm sync that reads the
 * legacy server and writes the store; more than a few only queue on the
 * store's disk and the legacy server (bench/import/). */
#define JOBS_MAX 16

struct run_args {
    const char *list_file;
    const char *imap_host;
    int imap_port;
    const char *imap_tls;       /* imaps, starttls, none */
    const char *imap_ca;
    const char *only_user;
    int final, restart;
    int jobs;                   /* users at once, 1..JOBS_MAX */
    int rollback;               /* `import rollback`: EmailNG -> the source */
    long long cutover;          /* rollback: mail received since (unix time) */
};

/* Where a listed user's mail goes: the active store of the user's pair
 * (user_store.h); replication copies what doveadm writes there to the
 * partner. Looked up for every user of the list before the pass starts. */
struct user_target {
    const struct site_host *store;  /* NULL: why is in error */
    char *main_conf;                /* the store's dovecot.conf */
    char *error;
};

struct import_ctx {
    const struct options *o;
    const struct site_host *store;  /* the user's store, in a user's copy of the context */
    const struct run_args *a;
    char *dir;                  /* STATE/import */
    char *main_conf;            /* the user's store's dovecot.conf, likewise */
    const char *store_error;    /* why the user has no store */
    const struct import_list *list;
    struct user_target *targets;    /* one per entry of list */
    unsigned long pass;
    const char *phase;
};

static int usage(const char *why, const char *arg)
{
    if (arg) {
        char *q = cli_quoted(arg);
        fprintf(stderr, "emailng: import: %s: %s\n", why, q);
        free(q);
    } else {
        fprintf(stderr, "emailng: import: %s\n", why);
    }
    fputs("usage: emailng import run LIST [--imap-host HOST] [--imap-port N] [--imap-tls imaps|starttls|none]\n"
          "                              [--imap-ca FILE] [--final] [--restart] [--user ADDRESS] [--jobs N]\n"
          "       emailng import rollback LIST --cutover TIME [--imap-host HOST ...] [--user ADDRESS] [--jobs N]\n"
          "       emailng import status\n", stderr);
    return EXIT_USAGE;
}

static char *user_state_path(const struct import_ctx *c, const char *address)
{
    return xasprintf("%s/users/%s", c->dir, address);
}

/* ---- doveadm on the store ----------------------------------------------------- */

static int doveadm(const struct import_ctx *c, const char *const argv[], buf *out)
{
    buf err = BUF_INIT;
    int status = fabric_run_on_host(c->o->state_dir, c->store->name, argv, out, &err);
    if (status < 0)
        buf_printf(out, "emailng: Error: cannot run doveadm: %s\n", buf_cstr(&err));
    buf_free(&err);
    return status;
}

static int totals(const struct import_ctx *c, const char *conf, const char *location, const char *address,
                  struct import_totals *t, buf *errors)
{
    char *o_location = location ? xasprintf("mail_location=%s", location) : NULL;
    const char *argv_here[] = {DOVEADM, "-c", conf, "-f", "tab", "mailbox", "status", "-u", address,
                               "messages vsize", "*", NULL};
    const char *argv_source[] = {DOVEADM, "-c", conf, "-o", o_location, "-f", "tab", "mailbox", "status", "-u",
                                 address, "messages vsize", "*", NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int status = doveadm(c, location ? argv_source : argv_here, &out);
    int rc = 0;
    if (status == EX_NOUSER) {
        buf_printf(errors, "%s is not a user of this site (emailng user add it first)", address);
        rc = -1;
    } else if (status != 0 || import_mailbox_totals(buf_cstr(&out), t, &err) != 0) {
        buf_reset(&err);
        import_error_lines(buf_cstr(&out), &err);
        buf_printf(errors, "%s: mailbox status failed (doveadm exit %d)%s%s", location ? "source" : "here", status,
                   err.len ? ": " : "", buf_cstr(&err));
        rc = -1;
    }
    buf_free(&out);
    buf_free(&err);
    free(o_location);
    return rc;
}

/* ---- the source: a configuration for imapc, or a maildir location ---------- */

/* A value for a Dovecot configuration file: quoted, with \ and " escaped.
 * imapc_password is not %-expanded; imapc_user is, so % is doubled there. */
static void conf_value(buf *out, const char *value, int doubles_percent)
{
    buf_append_char(out, '"');
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            buf_append_char(out, '\\');
        if (*p == '%' && doubles_percent)
            buf_append_char(out, '%');
        buf_append_char(out, *p);
    }
    buf_append_char(out, '"');
}

/* The legacy password: a regular file of root's that only root may read
 * (0600 or 0400), one line. */
static int read_password(const char *path, buf *password, buf *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        buf_printf(err, "password file %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0) {
        buf_printf(err, "password file %s must be a regular file of root's with mode 0600 or 0400 "
                        "(it is %s, owner uid %u, mode %04o)", path, S_ISREG(st.st_mode) ? "a file" : "not a file",
                   (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return fs_read_secret(path, PASSWORD_MAX, password, err);
}

/* STATE/import/run/ADDRESS.conf: the store's configuration plus imapc's
 * settings, password included, root's and 0600 in a 0700 folder; doveadm
 * reads it with -c, so the password is on no command line. */
static char *write_imapc_conf(const struct import_ctx *c, const struct import_entry *e, buf *err)
{
    buf password = BUF_INIT, text = BUF_INIT;
    if (read_password(e->password_file, &password, err) != 0)
        return NULL;
    int imaps = strcmp(c->a->imap_tls, "imaps") == 0, starttls = strcmp(c->a->imap_tls, "starttls") == 0;
    buf_printf(&text, "# Written by emailng import for %s; removed after its run.\n!include %s\n", e->address,
               c->main_conf);
    buf_append_str(&text, "imapc_host = ");
    conf_value(&text, c->a->imap_host, 1);
    buf_printf(&text, "\nimapc_port = %d\nimapc_ssl = %s\nimapc_ssl_verify = yes\n", c->a->imap_port,
               imaps ? "imaps" : starttls ? "starttls" : "no");
    if (c->a->imap_ca) {
        buf_append_str(&text, "ssl_client_ca_file = ");
        conf_value(&text, c->a->imap_ca, 0);
        buf_append_char(&text, '\n');
    }
    buf_append_str(&text, "imapc_user = ");
    conf_value(&text, e->login, 1);
    buf_append_str(&text, "\nimapc_password = ");
    conf_value(&text, buf_cstr(&password), 0);
    /* Dovecot's migration advice: sizes and headers in FETCH, several mails fetched at once;
     * modseq (CONDSTORE, used only if the server offers it) lets a run with a state ask for
     * the changes alone: 2.8 s instead of 13.9 s for an unchanged 5,000-message mailbox. */
    buf_append_str(&text, "\nimapc_features = rfc822.size fetch-headers modseq\nmail_prefetch_count = 20\n");
    char *path = xasprintf("%s/run/%s.conf", c->dir, e->address);
    if (fs_write_file(path, text.data, text.len, 0600, err) != 0) {
        free(path);
        path = NULL;
    }
    password_wipe(&password);
    password_wipe(&text);
    return path;
}

static char *source_location(const struct import_entry *e, buf *err)
{
    if (e->source == IMPORT_IMAP)
        return xstrdup("imapc:");
    struct stat st;
    if (stat(e->maildir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        buf_printf(err, "maildir %s: %s", e->maildir, errno ? strerror(errno) : "not a folder");
        return NULL;
    }
    return strcmp(e->layout, "fs") == 0 ? xasprintf("maildir:%s:LAYOUT=fs", e->maildir)
                                        : xasprintf("maildir:%s", e->maildir);
}

/* ---- rollback: what arrived on EmailNG since the cut-over goes back ----------- */

/* The user's mailbox on EmailNG as a location doveadm import can read: the
 * store's mail_location with the user's %d, %n and %u put in. */
static int emailng_location(const struct import_ctx *c, const char *address, buf *location, buf *errors)
{
    const char *argv[] = {DOVEADM, "-c", c->main_conf, "config", "-h", "mail_location", NULL};
    buf out = BUF_INIT;
    int rc = doveadm(c, argv, &out) == 0 ? 0 : -1;
    const char *at = strchr(address, '@');
    const char *p = buf_cstr(&out);
    for (; rc == 0 && *p && *p != '\n'; p++) {
        if (*p != '%') {
            buf_append_char(location, *p);
            continue;
        }
        switch (*++p) {
        case 'd': buf_append_str(location, at ? at + 1 : ""); break;
        case 'n': buf_printf(location, "%.*s", at ? (int)(at - address) : (int)strlen(address), address); break;
        case 'u': buf_append_str(location, address); break;
        case '%': buf_append_char(location, '%'); break;
        default:  rc = -1;
        }
    }
    if (rc != 0 || location->len == 0)
        buf_printf(errors, "the store's mail_location (%s) is not one emailng can expand", buf_cstr(&out));
    buf_free(&out);
    return location->len && rc == 0 ? 0 : -1;
}

/* Copies back to the source (the legacy IMAP server through imapc, or the
 * maildir tree) every message saved on EmailNG since the cut-over whose
 * INTERNALDATE is since the cut-over too: mail delivered to EmailNG or
 * saved there by the user. The final import's messages were saved after
 * the cut-over as well, but they arrived on the old server before it
 * (their INTERNALDATE, kept by the import, says so): they are not copied
 * again. doveadm import runs as the user with the source as its mail
 * location and EmailNG's mailbox as the source of the copy; it creates
 * missing folders and keeps flags and INTERNALDATE. */
static int rollback_user(const struct import_ctx *c, const struct import_entry *e, struct import_user_state *s,
                         buf *errors)
{
    struct import_totals before = {0};
    char *conf = NULL, *location = source_location(e, errors);
    buf here = BUF_INIT, out = BUF_INIT;
    int rc = location ? 0 : -1;
    if (rc == 0)
        conf = e->source == IMPORT_IMAP ? write_imapc_conf(c, e, errors) : xstrdup(c->main_conf);
    if (rc == 0 && conf == NULL)
        rc = -1;
    if (rc == 0)
        rc = emailng_location(c, e->address, &here, errors);
    if (rc == 0)
        rc = totals(c, conf, location, e->address, &before, errors);
    char *o_location = location ? xasprintf("mail_location=%s", location) : NULL;
    char *since = xasprintf("%lld", c->a->cutover);
    const char *argv[] = {DOVEADM, "-c", conf, "-o", o_location, "import", "-u", e->address, buf_cstr(&here), "",
                          "SAVEDSINCE", since, "SINCE", since, NULL};
    if (rc == 0) {
        int status = doveadm(c, argv, &out);
        s->errors += import_error_lines(buf_cstr(&out), errors);
        if (status != 0) {
            buf_printf(errors, "%sdoveadm import failed (exit %d)", errors->len ? "; " : "", status);
            rc = -1;
        }
    }
    /* the source afterwards; the report's "here" is EmailNG as always */
    if (rc == 0)
        rc = totals(c, conf, location, e->address, &s->source, errors);
    if (rc == 0)
        rc = totals(c, c->main_conf, NULL, e->address, &s->here, errors);
    if (rc == 0) {
        s->new_messages = s->source.messages > before.messages ? s->source.messages - before.messages : 0;
        s->new_bytes = s->source.bytes > before.bytes ? s->source.bytes - before.bytes : 0;
    }
    if (conf && e->source == IMPORT_IMAP)
        unlink(conf);
    free(since);
    free(o_location);
    free(conf);
    free(location);
    buf_free(&here);
    buf_free(&out);
    return rc;
}

/* ---- one user ------------------------------------------------------------------ */

static void utc_now(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
}

static int import_user(const struct import_ctx *c, const struct import_entry *e, const char *prev_dsync_state,
                       struct import_user_state *s)
{
    long long start = clock_ms();
    buf errors = BUF_INIT, out = BUF_INIT;
    struct import_totals before = {0};
    char *conf = NULL, *location = NULL;
    int rc = 0;
    if (c->store == NULL) {
        buf_append_str(&errors, c->store_error ? c->store_error : "no store");
        rc = -1;
    }
    if (c->a->rollback) {
        if (rc == 0)
            rc = rollback_user(c, e, s, &errors);
        s->quota_limit_kib = -1;
        s->pass = c->pass;
        s->phase = xstrdup(c->phase);
        s->result = xstrdup(rc != 0 ? "failed" : "done");
        /* The import's state stays: a migration taken up again goes on from it. */
        s->dsync_state = xstrdup(prev_dsync_state);
        s->seconds = (double)(clock_ms() - start) / 1000.0;
        char stamp[32];
        utc_now(stamp, sizeof stamp);
        s->finished = xstrdup(stamp);
        s->error = buf_steal(&errors);
        buf_free(&out);
        return rc;
    }
    if (rc == 0 && strcmp(c->phase, "final") == 0 && prev_dsync_state[0] == '\0') {
        buf_printf(&errors, "no earlier import of %s: the final run needs the state of a run before the cut-over "
                            "(without it a one-way sync would bring back mail deleted on EmailNG)", e->address);
        rc = -1;
    }
    if (rc == 0)
        rc = totals(c, c->main_conf, NULL, e->address, &before, &errors);
    if (rc == 0 && (location = source_location(e, &errors)) == NULL)
        rc = -1;
    if (rc == 0)
        conf = e->source == IMPORT_IMAP ? write_imapc_conf(c, e, &errors) : xstrdup(c->main_conf);
    if (rc == 0 && conf == NULL)
        rc = -1;
    if (rc == 0)
        rc = totals(c, conf, location, e->address, &s->source, &errors);
    char *new_state = NULL;
    for (int try = 0; rc == 0 && try < SYNC_TRIES; try++) {
        const char *argv[] = {DOVEADM, "-c", conf, "sync", "-1", "-R", "-s", prev_dsync_state, "-u", e->address,
                              location, NULL};
        buf_reset(&out);
        int status = doveadm(c, argv, &out);
        s->errors += import_error_lines(buf_cstr(&out), &errors);
        if (status == 2 && try + 1 < SYNC_TRIES)
            continue;
        free(new_state);
        new_state = import_dsync_state(buf_cstr(&out));
        if (status != 0 || new_state == NULL) {
            buf_printf(&errors, "%sdoveadm sync failed (exit %d%s)", errors.len ? "; " : "", status,
                       new_state ? "" : ", no state");
            rc = -1;
        }
        break;
    }
    if (conf && e->source == IMPORT_IMAP)
        unlink(conf);
    if (rc == 0)
        rc = totals(c, c->main_conf, NULL, e->address, &s->here, &errors);
    if (rc == 0) {
        s->new_messages = s->here.messages > before.messages ? s->here.messages - before.messages : 0;
        s->new_bytes = s->here.bytes > before.bytes ? s->here.bytes - before.bytes : 0;
        const char *argv[] = {DOVEADM, "-c", c->main_conf, "-f", "tab", "quota", "get", "-u", e->address, NULL};
        buf err = BUF_INIT;
        buf_reset(&out);
        if (doveadm(c, argv, &out) != 0
            || import_quota_storage(buf_cstr(&out), &s->quota_used_kib, &s->quota_limit_kib, &err) != 0) {
            buf_printf(&errors, "quota: %s", err.len ? buf_cstr(&err) : "doveadm quota get failed");
            rc = -1;
        }
        buf_free(&err);
    }
    int over = rc == 0 && s->quota_limit_kib >= 0 && s->quota_used_kib > s->quota_limit_kib;
    s->pass = c->pass;
    s->phase = xstrdup(c->phase);
    s->result = xstrdup(rc != 0 ? "failed" : over ? "over-quota" : "done");
    /* A failed run keeps the state of the last good one: the next run starts there. */
    s->dsync_state = rc == 0 && new_state ? xstrdup(new_state) : xstrdup(prev_dsync_state);
    s->seconds = (double)(clock_ms() - start) / 1000.0;
    char stamp[32];
    utc_now(stamp, sizeof stamp);
    s->finished = xstrdup(stamp);
    s->error = buf_steal(&errors);
    free(new_state);
    free(conf);
    free(location);
    buf_free(&out);
    buf_free(&errors);
    return rc != 0 ? -1 : over ? 1 : 0;
}

/* ---- the pass: STATE/import/pass is "N PHASE running|complete" ----------------- */

static int read_pass(const struct import_ctx *c, unsigned long *n, char *phase, char *state)
{
    char *path = xasprintf("%s/pass", c->dir);
    buf text = BUF_INIT, err = BUF_INIT;
    int rc = 0;
    *n = 0;
    strcpy(phase, "pre");
    strcpy(state, "complete");
    if (fs_exists(path)
        && (fs_read_file(path, 256, &text, &err) != 0 || sscanf(buf_cstr(&text), "%lu %15s %11s", n, phase, state) != 3)) {
        fprintf(stderr, "emailng: import: %s: unreadable (%s); remove it to start a new pass\n", path,
                err.len ? buf_cstr(&err) : "expected N PHASE STATE");
        rc = -1;
    }
    free(path);
    buf_free(&text);
    buf_free(&err);
    return rc;
}

static int write_pass(const struct import_ctx *c, const char *state)
{
    char *path = xasprintf("%s/pass", c->dir);
    char *text = xasprintf("%lu %s %s\n", c->pass, c->phase, state);
    buf err = BUF_INIT;
    int rc = fs_write_file(path, text, strlen(text), 0600, &err);
    if (rc != 0)
        cli_fail("import", &err);
    free(path);
    free(text);
    buf_free(&err);
    return rc;
}

static int load_user_state(const struct import_ctx *c, const char *address, struct import_user_state *s)
{
    char *path = user_state_path(c, address);
    buf text = BUF_INIT, err = BUF_INIT;
    int rc = 0;
    memset(s, 0, sizeof *s);
    if (!fs_exists(path)) {
        s->dsync_state = xstrdup("");
    } else if (fs_read_file(path, STATE_FILE_MAX, &text, &err) != 0
               || import_user_state_parse(buf_cstr(&text), s, &err) != 0) {
        fprintf(stderr, "emailng: import: %s: %s\n", path, buf_cstr(&err));
        rc = -1;
    } else if (s->dsync_state == NULL) {
        s->dsync_state = xstrdup("");
    }
    free(path);
    buf_free(&text);
    buf_free(&err);
    return rc;
}

static int save_user_state(const struct import_ctx *c, const char *address, const struct import_user_state *s)
{
    char *path = user_state_path(c, address);
    buf text = BUF_INIT, err = BUF_INIT;
    import_user_state_format(s, &text);
    int rc = fs_write_file(path, text.data, text.len, 0600, &err);
    if (rc != 0)
        cli_fail("import", &err);
    free(path);
    buf_free(&text);
    buf_free(&err);
    return rc;
}

static void print_report(size_t i, size_t n, const char *address, const struct import_user_state *s)
{
    buf line = BUF_INIT;
    import_user_state_summary(s, &line);
    const char *label = strcmp(s->result, "done") == 0 ? "done" : strcmp(s->result, "over-quota") == 0
                            ? "OVER QUOTA (every message was imported; the user is over quota)" : "FAILED";
    printf("[%zu/%zu] %s: %s: %s\n", i, n, address, label, buf_cstr(&line));
    if (s->error && s->error[0])
        printf("[%zu/%zu] %s: errors: %s\n", i, n, address, s->error);
    fflush(stdout);
    buf_free(&line);
}

/* One user of the pass: its import, report and state. 0 done, 1 over
 * quota, -1 failed. */
static int run_user(const struct import_ctx *all, const struct import_entry *e, size_t k, size_t n,
                    const struct import_user_state *prev)
{
    struct import_ctx uc = *all;
    const struct import_ctx *c = &uc;
    const struct user_target *t = &all->targets[e - all->list->entries];
    uc.store = t->store;
    uc.main_conf = t->main_conf;
    uc.store_error = t->error;
    char *where = t->store ? xasprintf(" on store %s", t->store->name) : xstrdup("");
    if (e->source == IMPORT_IMAP)
        printf("[%zu/%zu] %s: %s %s at %s:%d (%s)%s ...\n", k, n, e->address, c->a->rollback ? "back to" : "from",
               e->login, c->a->imap_host, c->a->imap_port, c->a->imap_tls, where);
    else
        printf("[%zu/%zu] %s: %s maildir %s (%s)%s ...\n", k, n, e->address, c->a->rollback ? "back to" : "from",
               e->maildir, e->layout, where);
    free(where);
    fflush(stdout);
    struct import_user_state now = {0};
    int rc = import_user(c, e, prev->dsync_state, &now);
    print_report(k, n, e->address, &now);
    if (save_user_state(c, e->address, &now) != 0)
        rc = -1;
    import_user_state_free(&now);
    return rc;
}

/* The users of a pass at once (--jobs N > 1): one child process each, at
 * most N alive. A child writes its own user's state file and prints its
 * lines whole (each a single write), so the report and resumption are
 * those of a sequential pass; the order of the lines is the order users
 * finish. A child dies with the pass (PR_SET_PDEATHSIG): an interrupted
 * pass leaves no import running behind the next one's back. */
struct pool {
    pid_t *pids;
    size_t alive, max;
    size_t done, over, failed;
};

static void pool_reap_one(struct pool *p)
{
    int status;
    pid_t pid;
    while ((pid = wait(&status)) < 0 && errno == EINTR)
        ;
    if (pid < 0)
        return;
    for (size_t i = 0; i < p->alive; i++)
        if (p->pids[i] == pid) {
            p->pids[i] = p->pids[--p->alive];
            break;
        }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
    p->done += code == 0;
    p->over += code == 1;
    p->failed += code != 0 && code != 1;
}

/* 0 when the user runs in a child, -1 when no child could be made (the
 * user then runs here). */
static int pool_start(struct pool *p, const struct import_ctx *c, const struct import_entry *e, size_t k, size_t n,
                      const struct import_user_state *prev)
{
    while (p->alive >= p->max)
        pool_reap_one(p);
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(2);
        int rc = run_user(c, e, k, n, prev);
        fflush(stdout);
        _exit(rc < 0 ? 2 : rc);
    }
    p->pids[p->alive++] = pid;
    return 0;
}

/* "store1" or "store1, store3": the stores of the users of this run, each
 * once, in list order ("none" if no user has one). */
static void target_stores(const struct import_ctx *c, buf *out)
{
    size_t named = 0;
    for (size_t i = 0; i < c->list->n; i++) {
        const struct site_host *h = c->targets[i].store;
        if (h == NULL || (c->a->only_user && strcmp(c->list->entries[i].address, c->a->only_user) != 0))
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = c->targets[j].store == h
                   && !(c->a->only_user && strcmp(c->list->entries[j].address, c->a->only_user) != 0);
        if (!seen)
            buf_printf(out, "%s%s", named++ ? ", " : "", h->name);
    }
    if (named == 0)
        buf_append_str(out, "none");
}

static int run_list(struct import_ctx *c, const struct import_list *list)
{
    unsigned long last;
    char phase[16], state[12];
    if (read_pass(c, &last, phase, state) != 0)
        return EXIT_FAILED;
    int resume = !c->a->restart && c->a->only_user == NULL && strcmp(state, "running") == 0
                 && strcmp(phase, c->phase) == 0;
    c->pass = resume || c->a->only_user ? (last ? last : 1) : last + 1;
    if (c->a->only_user == NULL && write_pass(c, "running") != 0)
        return EXIT_FAILED;
    size_t n = c->a->only_user ? 1 : list->n;
    int jobs = c->a->jobs > 1 && n > 1 ? c->a->jobs : 1;
    buf stores = BUF_INIT;
    target_stores(c, &stores);
    printf("import pass %lu (%s)%s: %zu user(s) from %s %s %s", c->pass,
           c->a->rollback ? "rollback: mail since the cut-over goes back to the source"
           : strcmp(c->phase, "final") == 0 ? "final, after the cut-over" : "before the cut-over",
           resume ? ", resumed: users done in it are skipped" : "", n, c->a->list_file,
           strchr(buf_cstr(&stores), ',') ? "on stores" : "into store", buf_cstr(&stores));
    buf_free(&stores);
    printf(jobs > 1 ? ", %d at once\n" : "\n", jobs);
    fflush(stdout);
    /* Line-buffered: each line of a job is one write, whole among the others'. */
    if (jobs > 1)
        setvbuf(stdout, NULL, _IOLBF, 0);
    struct pool pool = {.pids = xcalloc((size_t)jobs, sizeof(pid_t)), .max = (size_t)jobs};
    size_t skipped = 0, unreadable = 0;
    for (size_t i = 0, k = 0; i < list->n; i++) {
        const struct import_entry *e = &list->entries[i];
        if (c->a->only_user && strcmp(e->address, c->a->only_user) != 0)
            continue;
        k++;
        struct import_user_state prev;
        if (load_user_state(c, e->address, &prev) != 0) {
            unreadable++;
            continue;
        }
        if (c->a->rollback && prev.phase && strcmp(prev.phase, "rollback") == 0 && prev.result
            && strcmp(prev.result, "done") == 0) {
            /* Copying again would put each message twice on the source. */
            printf("[%zu/%zu] %s: skipped, rolled back already (%s)\n", k, n, e->address,
                   prev.finished ? prev.finished : "");
            skipped++;
        } else if (resume && prev.pass == c->pass && prev.result && strcmp(prev.result, "failed") != 0) {
            printf("[%zu/%zu] %s: skipped, %s in this pass already (%s)\n", k, n, e->address, prev.result,
                   prev.finished ? prev.finished : "");
            skipped++;
        } else if (jobs == 1 || pool_start(&pool, c, e, k, n, &prev) != 0) {
            int rc = run_user(c, e, k, n, &prev);
            pool.failed += rc < 0;
            pool.over += rc > 0;
            pool.done += rc == 0;
        }
        import_user_state_free(&prev);
    }
    while (pool.alive)
        pool_reap_one(&pool);
    free(pool.pids);
    size_t done = pool.done, over = pool.over, failed = pool.failed + unreadable;
    if (c->a->only_user && n == 1 && done + over + failed + skipped == 0) {
        fprintf(stderr, "emailng: import: %s is not in %s\n", c->a->only_user, c->a->list_file);
        return EXIT_FAILED;
    }
    if (c->a->only_user == NULL && write_pass(c, "complete") != 0)
        return EXIT_FAILED;
    printf("import pass %lu: %zu done, %zu over quota, %zu failed, %zu skipped\n", c->pass, done, over, failed,
           skipped);
    return over || failed ? EXIT_FAILED : EXIT_DONE;
}

/* ---- import status -------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int import_status(struct import_ctx *c)
{
    char *users = xasprintf("%s/users", c->dir);
    DIR *d = opendir(users);
    if (d == NULL) {
        printf("no import has run yet (%s)\n", users);
        free(users);
        return EXIT_DONE;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int rc = EXIT_DONE;
    for (size_t i = 0; i < n; i++) {
        struct import_user_state s;
        if (load_user_state(c, names[i], &s) != 0) {
            rc = EXIT_FAILED;
        } else {
            buf line = BUF_INIT;
            import_user_state_summary(&s, &line);
            printf("%s pass=%lu phase=%s result=%s finished=%s %s\n", names[i], s.pass, s.phase ? s.phase : "-",
                   s.result ? s.result : "-", s.finished ? s.finished : "-", buf_cstr(&line));
            if (s.error && s.error[0])
                printf("%s errors: %s\n", names[i], s.error);
            if (s.result == NULL || strcmp(s.result, "done") != 0)
                rc = EXIT_FAILED;
            buf_free(&line);
        }
        import_user_state_free(&s);
        free(names[i]);
    }
    free(names);
    free(users);
    return rc;
}

/* ---- the command ------------------------------------------------------------------ */

/* The cut-over time: ISO 8601 in UTC (as `import status` prints times) or
 * seconds since 1970; -1 on anything else. */
static int parse_cutover(const char *text, long long *out)
{
    struct tm tm = {0};
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end && *end == '\0') {
        time_t t = timegm(&tm);
        *out = (long long)t;
        return t == (time_t)-1 ? -1 : 0;
    }
    char *num_end;
    long long n = strtoll(text, &num_end, 10);
    if (*text == '\0' || *num_end || n <= 0)
        return -1;
    *out = n;
    return 0;
}

static int parse_run_args(int argc, char **argv, struct run_args *a, int rollback)
{
    memset(a, 0, sizeof *a);
    a->rollback = rollback;
    a->imap_tls = "imaps";
    a->jobs = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--final") == 0)
            a->final = 1;
        else if (strcmp(arg, "--restart") == 0)
            a->restart = 1;
        else if (strcmp(arg, "--imap-host") == 0 && val && (i++, 1))
            a->imap_host = val;
        else if (strcmp(arg, "--imap-port") == 0 && val && (i++, 1)) {
            char *end;
            long port = strtol(val, &end, 10);
            if (*end || port < 1 || port > 65535)
                return usage("--imap-port: not a port", val);
            a->imap_port = (int)port;
        } else if (strcmp(arg, "--imap-tls") == 0 && val && (i++, 1)) {
            if (strcmp(val, "imaps") && strcmp(val, "starttls") && strcmp(val, "none"))
                return usage("--imap-tls must be imaps, starttls or none", val);
            a->imap_tls = val;
        } else if (strcmp(arg, "--imap-ca") == 0 && val && (i++, 1))
            a->imap_ca = val;
        else if (strcmp(arg, "--user") == 0 && val && (i++, 1))
            a->only_user = val;
        else if (strcmp(arg, "--cutover") == 0 && val && a->rollback && (i++, 1)) {
            if (parse_cutover(val, &a->cutover) != 0)
                return usage("--cutover: YYYY-MM-DDTHH:MM:SSZ (UTC) or seconds since 1970", val);
        } else if (strcmp(arg, "--jobs") == 0 && val && (i++, 1)) {
            char *end;
            long jobs = strtol(val, &end, 10);
            if (*end || end == val || jobs < 1 || jobs > JOBS_MAX)
                return usage("--jobs: a number from 1 to 16", val);
            a->jobs = (int)jobs;
        }
        else if (arg[0] != '-' && a->list_file == NULL)
            a->list_file = arg;
        else
            return usage("unexpected argument", arg);
    }
    if (a->list_file == NULL)
        return usage("which LIST file?", NULL);
    if (rollback && (a->final || a->cutover == 0))
        return usage(a->final ? "rollback takes no --final" : "rollback needs --cutover TIME", NULL);
    if (a->imap_port == 0)
        a->imap_port = strcmp(a->imap_tls, "imaps") == 0 ? 993 : 143;
    if (a->imap_ca && a->imap_ca[0] != '/')
        return usage("--imap-ca must be an absolute path", a->imap_ca);
    return 0;
}

/* One import at a time per state directory: two would share the pass file
 * and each other's run/ folder. STATE/import/lock is held (flock) until
 * the process ends; *lock_fd is left open for that. */
static int prepare_dirs(const struct import_ctx *c, int *lock_fd)
{
    buf err = BUF_INIT;
    char *users = xasprintf("%s/users", c->dir), *run = xasprintf("%s/run", c->dir);
    char *lock = xasprintf("%s/lock", c->dir);
    int rc = fs_ensure_dir(c->dir, "root", "root", 0700, &err);
    if (rc == 0 && ((*lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0
                    || flock(*lock_fd, LOCK_EX | LOCK_NB) != 0)) {
        buf_printf(&err, "%s: %s", lock, errno == EWOULDBLOCK ? "another emailng import is running" : strerror(errno));
        rc = -1;
    }
    /* run/ holds configuration files with passwords: a run killed half-way
     * leaves one behind, so the folder is emptied first. */
    if (rc == 0)
        rc = fs_ensure_dir(users, "root", "root", 0700, &err) == 0 && fs_remove_tree(run, &err) == 0
             && fs_ensure_dir(run, "root", "root", 0700, &err) == 0 ? 0 : -1;
    if (rc != 0)
        cli_fail("import", &err);
    free(users);
    free(run);
    free(lock);
    buf_free(&err);
    return rc;
}

/* Each listed user's store (struct user_target), from the directory. A
 * user the directory does not know, or whose pair the site file lacks,
 * fails alone when its turn comes; a directory that cannot be read stops
 * the run before anything moves. */
static int find_targets(struct import_ctx *c, const struct site *site)
{
    buf err = BUF_INIT;
    const struct site_host *dir_host = site_host_with_role(site, ROLE_DIRECTORY);
    struct render_context rctx = {0};
    struct directory *d = NULL;
    int rc = 0;
    if (site_host_with_role(site, ROLE_STORE) == NULL) {
        buf_printf(&err, "site %s has no store", site->name);
        rc = -1;
    } else if (dir_host == NULL) {
        buf_printf(&err, "site %s has no directory host (the users' store pairs are there)", site->name);
        rc = -1;
    } else if (render_context_for_host(site, dir_host, c->o->state_dir, &rctx, &err) != 0
               || directory_open(&d, render_context_get(&rctx, "ldap_uri"), site->ldap_base, &err) != 0) {
        rc = -1;
    }
    c->targets = xcalloc(c->list->n ? c->list->n : 1, sizeof *c->targets);
    for (size_t i = 0; rc == 0 && i < c->list->n; i++) {
        const char *address = c->list->entries[i].address;
        struct user_target *t = &c->targets[i];
        if (c->a->only_user && strcmp(address, c->a->only_user) != 0)
            continue;
        buf why = BUF_INIT;
        if (user_store_find(site, c->o->state_dir, d, address, &t->store, &why) == 0) {
            t->main_conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", c->o->state_dir, t->store->name);
        } else if (strncmp(buf_cstr(&why), "no such user", 12) == 0) {
            t->error = xasprintf("%s is not a user of this site (emailng user add it first)", address);
        } else {
            t->error = buf_steal(&why);
        }
        buf_free(&why);
    }
    if (rc != 0)
        cli_fail("import", &err);
    directory_close(d);
    render_context_free(&rctx);
    buf_free(&err);
    return rc;
}

int cmd_import_run(const struct options *o, int argc, char **argv)
{
    if (argc < 1)
        return usage("which action (run, status)?", NULL);
    int is_rollback = strcmp(argv[0], "rollback") == 0;
    int is_run = strcmp(argv[0], "run") == 0 || is_rollback, is_status = strcmp(argv[0], "status") == 0;
    if (!is_run && !is_status)
        return usage("unknown action", argv[0]);
    struct run_args a = {0};
    if (is_status && argc > 1)
        return usage("unexpected argument", argv[1]);
    if (is_run && parse_run_args(argc, argv, &a, is_rollback) != 0)
        return EXIT_USAGE;
    struct import_ctx c = {.o = o, .a = &a, .phase = is_rollback ? "rollback" : a.final ? "final" : "pre"};
    c.dir = xasprintf("%s/import", o->state_dir);
    if (is_status) {
        int rc = import_status(&c);
        free(c.dir);
        return rc;
    }
    /* The list first: every bad line is reported before anything moves. */
    buf text = BUF_INIT, err = BUF_INIT;
    struct import_list list = {0};
    int rc = EXIT_DONE;
    if (fs_read_file(a.list_file, LIST_MAX, &text, &err) != 0) {
        cli_fail("import", &err);
        rc = EXIT_USAGE;
    } else if (import_list_parse(a.list_file, text.data ? text.data : "", text.len, &list, &err) > 0) {
        fputs(buf_cstr(&err), stderr);
        rc = EXIT_USAGE;
    }
    int needs_imap = 0;
    for (size_t i = 0; i < list.n; i++)
        needs_imap |= list.entries[i].source == IMPORT_IMAP;
    if (rc == EXIT_DONE && needs_imap && a.imap_host == NULL) {
        fprintf(stderr, "emailng: import: %s has imap lines: name the legacy server with --imap-host\n", a.list_file);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_DONE && a.only_user && import_list_find(&list, a.only_user) == NULL) {
        char *q = cli_quoted(a.only_user);
        fprintf(stderr, "emailng: import: --user %s is not in %s\n", q, a.list_file);
        free(q);
        rc = EXIT_USAGE;
    }
    struct site site;
    int site_loaded = 0;
    if (rc == EXIT_DONE) {
        if (cli_load_site(o, &site, 1) != 0)
            rc = EXIT_FAILED;
        else
            site_loaded = 1;
    }
    c.list = &list;
    if (rc == EXIT_DONE && find_targets(&c, &site) != 0)
        rc = EXIT_FAILED;
    if (rc == EXIT_DONE) {
        int lock_fd = -1;
        rc = prepare_dirs(&c, &lock_fd) == 0 ? run_list(&c, &list) : EXIT_FAILED;
        if (lock_fd >= 0) {
            char *run = xasprintf("%s/run", c.dir);
            buf_reset(&err);
            fs_remove_tree(run, &err);
            free(run);
            close(lock_fd);
        }
    }
    for (size_t i = 0; c.targets && i < list.n; i++) {
        free(c.targets[i].main_conf);
        free(c.targets[i].error);
    }
    free(c.targets);
    if (site_loaded)
        site_free(&site);
    import_list_free(&list);
    buf_free(&text);
    buf_free(&err);
    free(c.dir);
    return rc;
}
