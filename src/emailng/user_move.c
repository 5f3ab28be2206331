/* user_move: see user_move.h. */
#include "user_move.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "clock.h"
#include "directory.h"
#include "directory_export.h"
#include "fabric.h"
#include "fsutil.h"
#include "move_acl.h"
#include "render.h"
#include "site_storage.h"
#include "store_pairs.h"
#include "user_pairs.h"
#include "user_store.h"

/* A copy round that brought fewer messages than this ends the online
 * phase: what is left is copied by the final sync after the switch. */
#define CATCH_UP_MESSAGES 50
#define MAX_COPY_ROUNDS 5
/* Tries of one sync that doveadm ends with "run dsync again" (exit 2). */
#define SYNC_TRIES 3
/* How long the target pair gets to replicate the moved mailbox. */
#define REPLICATION_TIMEOUT_MS (10 * 60 * 1000)

struct move {
    const struct site *site;
    const char *state_dir;
    const char *address;
    const char *ldap_uri;
    char *from, *to;                 /* pairs */
    char *phase;                     /* copying, switched, verified */
    const struct site_host *src, *dst;                  /* the pairs' active stores */
    const struct site_host *src_partner, *dst_partner;
    char *state_file;
};

static void move_free(struct move *m)
{
    free(m->from);
    free(m->to);
    free(m->phase);
    free(m->state_file);
}

/* ---- the state file: "from PAIR\nto PAIR\nphase PHASE\n" ---------------- */

static int state_write(struct move *m, const char *phase, buf *err)
{
    free(m->phase);
    m->phase = xstrdup(phase);
    char *dir = xasprintf("%s/moves", m->state_dir);
    int rc = fs_ensure_dir(dir, "root", "root", 0700, err);
    free(dir);
    if (rc != 0)
        return -1;
    buf text = BUF_INIT;
    buf_printf(&text, "from %s\nto %s\nphase %s\n", m->from, m->to, phase);
    rc = fs_write_file(m->state_file, text.data, text.len, 0600, err);
    buf_free(&text);
    return rc;
}

/* 1 with from, to and phase set when a move of the address is recorded,
 * 0 when none is, -1 on a file that cannot be read. */
static int state_read(struct move *m, buf *err)
{
    if (!fs_exists(m->state_file))
        return 0;
    buf text = BUF_INIT;
    if (fs_read_file(m->state_file, 4096, &text, err) != 0) {
        buf_free(&text);
        return -1;
    }
    static const char *const keys[] = {"from ", "to ", "phase "};
    char **slots[] = {&m->from, &m->to, &m->phase};
    char *line = text.data ? text.data : "";
    while (*line) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (strncmp(line, keys[k], strlen(keys[k])) == 0) {
                free(*slots[k]);
                *slots[k] = xstrdup(line + strlen(keys[k]));
            }
        line = end ? end + 1 : line + strlen(line);
    }
    buf_free(&text);
    if (!m->from || !m->to || !m->phase) {
        buf_printf(err, "%s is incomplete (from, to and phase expected)", m->state_file);
        return -1;
    }
    return 1;
}

/* ---- running doveadm on a store or proxy -------------------------------- */

/* doveadm -c HOST's dovecot.conf ARGS... inside the host's namespace (the
 * fabric) or here. Returns its exit status, or -1 (err). */
static int doveadm_on(const struct move *m, const struct site_host *h, const char *const *args, buf *out,
                      buf *err)
{
    return fabric_doveadm(m->state_dir, h->name, args, out, err);
}

/* The same, failing with doveadm's output in err unless it exits 0. */
static int doveadm_ok(const struct move *m, const struct site_host *h, const char *what, const char *const *args,
                      buf *out, buf *err)
{
    buf mine = BUF_INIT;
    int status = doveadm_on(m, h, args, &mine, err);
    if (status != 0 && status != -1)
        buf_printf(err, "%s on %s failed (doveadm exit %d): %s", what, h->name, status, buf_cstr(&mine));
    if (out)
        buf_append_str(out, buf_cstr(&mine));
    buf_free(&mine);
    return status == 0 ? 0 : -1;
}

/* ---- the stores ---------------------------------------------------------- */

static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text (after the first when skip_header), sorted, into out. */
static size_t sorted_lines(char *text, int skip_header, buf *out)
{
    size_t n = 0, cap = 64;
    char **lines = xcalloc(cap, sizeof *lines);
    char *p = text;
    if (skip_header) {
        p = strchr(text, '\n');
        p = p ? p + 1 : text + strlen(text);
    }
    while (*p) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        if (*p) {
            if (n == cap)
                lines = xrealloc(lines, (cap *= 2) * sizeof *lines);
            lines[n++] = p;
        }
        p = eol ? eol + 1 : p + strlen(p);
    }
    qsort(lines, n, sizeof *lines, compare_lines);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s\n", lines[i]);
    free(lines);
    return n;
}

/* "mailbox<TAB>guid" lines of every message of the user on a store,
 * sorted; *n_messages gets their number. */
static int message_list(const struct move *m, const struct site_host *h, buf *out, size_t *n_messages, buf *err)
{
    const char *args[] = {"-f", "tab", "fetch", "-u", m->address, "mailbox guid", "ALL", NULL};
    buf text = BUF_INIT;
    int rc = doveadm_ok(m, h, "listing the messages", args, &text, err);
    if (rc == 0)
        *n_messages = sorted_lines(text.data ? text.data : (char *)"", 1, out);
    buf_free(&text);
    return rc;
}

/* Every line of want is in have (both sorted, one merge pass); the first
 * missing one in missing. */
static int list_covers(const char *have, const char *want, buf *missing)
{
    const char *h = have, *w = want;
    while (*w) {
        size_t wl = strcspn(w, "\n");
        int cmp = 1;
        while (*h) {
            size_t hl = strcspn(h, "\n");
            size_t n = hl < wl ? hl : wl;
            cmp = strncmp(h, w, n);
            if (cmp == 0)
                cmp = hl < wl ? -1 : hl > wl ? 1 : 0;
            if (cmp >= 0)
                break;
            h += hl + (h[hl] == '\n');
        }
        if (cmp != 0) {
            buf_printf(missing, "%.*s", (int)wl, w);
            return 0;
        }
        w += wl + (w[wl] == '\n');
    }
    return 1;
}

/* What a user has besides messages: Sieve scripts (name and which is
 * active) and subscriptions, sorted. */
static int extras(const struct move *m, const struct site_host *h, buf *out, buf *err)
{
    const char *sieve[] = {"sieve", "list", "-u", m->address, NULL};
    const char *subs[] = {"mailbox", "list", "-s", "-u", m->address, NULL};
    buf text = BUF_INIT, sieve_text = BUF_INIT;
    int rc = doveadm_ok(m, h, "listing the Sieve scripts", sieve, &sieve_text, err);
    if (rc == 0)
        rc = doveadm_ok(m, h, "listing the subscriptions", subs, &text, err);
    /* one list: "sieve NAME [ACTIVE]" and "subscribed MAILBOX" lines */
    buf both = BUF_INIT;
    for (const char *p = buf_cstr(&sieve_text); rc == 0 && *p;) {
        size_t len = strcspn(p, "\n");
        if (len)
            buf_printf(&both, "sieve %.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
    }
    for (const char *p = buf_cstr(&text); rc == 0 && *p;) {
        size_t len = strcspn(p, "\n");
        if (len)
            buf_printf(&both, "subscribed %.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
    }
    if (rc == 0 && both.len)
        sorted_lines(both.data, 0, out);
    buf_free(&both);
    buf_free(&text);
    buf_free(&sieve_text);
    return rc;
}

/* doveadm sync of the user from the source's active store to the target's
 * (two-way: what reached either side stays). */
static int sync_once(const struct move *m, buf *err)
{
    struct render_context ctx = {0};
    if (render_context_for_host(m->site, m->dst, m->state_dir, &ctx, err) != 0) {
        render_context_free(&ctx);
        return -1;
    }
    char *dest = xasprintf("tcps:%s:%s", m->dst->address, render_context_get(&ctx, "port_doveadm"));
    render_context_free(&ctx);
    /* -l 60: wait for the user's lock while the replicator syncs it. */
    const char *args[] = {"sync", "-l", "60", "-u", m->address, dest, NULL};
    int rc = -1;
    /* Exit 2: mail arrived on either side during the sync ("run dsync
     * again"); what was synced stays, the next try brings the rest. */
    for (int attempt = 1; attempt <= SYNC_TRIES; attempt++) {
        buf out = BUF_INIT;
        int status = doveadm_on(m, m->src, args, &out, err);
        if (status == 0)
            rc = 0;
        else if (status > 0 && (status != 2 || attempt == SYNC_TRIES))
            buf_printf(err, "dsync to the target pair on %s failed (doveadm exit %d): %s", m->src->name, status,
                       buf_cstr(&out));
        buf_free(&out);
        if (status != 2)
            break;
    }
    free(dest);
    return rc;
}

/* The number and size of the user's messages on a store. */
static void mailbox_totals(const struct move *m, const struct site_host *h, size_t *messages,
                           unsigned long long *bytes)
{
    /* -t: one line of totals over every mailbox */
    const char *args[] = {"-f", "tab", "mailbox", "status", "-t", "-u", m->address, "messages vsize", "*", NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    *messages = 0;
    *bytes = 0;
    if (doveadm_on(m, h, args, &out, &err) == 0 && out.len) {
        const char *p = strchr(out.data, '\n');
        while (p && *++p) {
            char *end;
            unsigned long long n = strtoull(p, &end, 10);
            unsigned long long v = *end == '\t' ? strtoull(end + 1, &end, 10) : 0;
            *messages += (size_t)n;
            *bytes += v;
            p = strchr(p, '\n');
        }
    }
    buf_free(&out);
    buf_free(&err);
}

/* ---- the phases ---------------------------------------------------------- */

static int phase_copy(struct move *m, buf *err)
{
    for (int round = 1; round <= MAX_COPY_ROUNDS; round++) {
        size_t had = 0, now = 0;
        unsigned long long had_bytes = 0, bytes = 0;
        /* Not before the first round: a status would create an empty
         * INBOX on the target, another mailbox GUID than the source's. */
        if (round > 1)
            mailbox_totals(m, m->dst, &had, &had_bytes);
        long long r0 = clock_ms();
        if (sync_once(m, err) != 0)
            return -1;
        double s = (double)(clock_ms() - r0) / 1000;
        mailbox_totals(m, m->dst, &now, &bytes);
        size_t added = now > had ? now - had : 0;
        printf("  copy round %d: %s -> %s, %zu message(s) on the target (%zu new) in %.1f s\n", round,
               m->src->name, m->dst->name, now, added, s);
        /* The rate of the bulk copy: the first round's. */
        if (round == 1 && s > 0)
            printf("  copied %zu message(s), %.1f MB in %.1f s: %.0f messages/s, %.2f MB/s\n", now,
                   (double)bytes / 1e6, s, (double)now / s, (double)bytes / 1e6 / s);
        if (added < CATCH_UP_MESSAGES)
            break;
    }
    return 0;
}

/* The user's sessions ended on every proxy and on the source stores:
 * clients reconnect, now to the target pair. */
static void kick_everywhere(const struct move *m)
{
    for (size_t i = 0; i < m->site->n_hosts; i++) {
        const struct site_host *h = &m->site->hosts[i];
        const char *proxy_args[] = {"proxy", "kick", m->address, NULL};
        const char *store_args[] = {"kick", m->address, NULL};
        const char *const *args = NULL;
        if (h->roles == ROLE_PROXY)
            args = proxy_args;
        else if (h == m->src || h == m->src_partner)
            args = store_args;
        if (args == NULL)
            continue;
        buf out = BUF_INIT, err = BUF_INIT;
        int status = doveadm_on(m, h, args, &out, &err);
        /* 68 (EX_NOUSER): no session to end */
        if (status != 0 && status != 68)
            printf("  warning: %s: could not end the sessions of %s (doveadm exit %d)\n", h->name, m->address,
                   status);
        buf_free(&out);
        buf_free(&err);
    }
}

static int phase_switch(struct move *m, struct directory *d, buf *err)
{
    if (directory_user_set_mail_host(d, m->address, m->to, err) != 0)
        return -1;
    if (state_write(m, "switched", err) != 0)
        return -1;
    printf("  %s now belongs to %s (emailngMailHost)\n", m->address, m->to);
    /* The relays' tables name the pair (quota checks). */
    buf export_err = BUF_INIT;
    if (directory_export(m->site, m->state_dir, m->ldap_uri, &export_err) != 0)
        printf("  warning: the relays' tables were not exported again (%s); run `emailng up`\n",
               buf_cstr(&export_err));
    buf_free(&export_err);
    kick_everywhere(m);
    return 0;
}

static int phase_verify(struct move *m, buf *err)
{
    /* Final sync: what reached the source until the switch. Twice: a
     * delivery that was under way on the source during the first. */
    long long t0 = clock_ms();
    for (int i = 0; i < 2; i++)
        if (sync_once(m, err) != 0)
            return -1;
    printf("  final sync in %.1f s\n", (double)(clock_ms() - t0) / 1000);
    /* The shares: dsync brought them to the target's active store; both
     * target stores get them (and their dictionaries) now, not at the
     * partner's next replication, before the old copy goes. */
    struct move_acls acls;
    if (move_acl_collect(m->state_dir, m->src, m->address, &acls, err) != 0)
        return -1;
    int rc = move_acl_apply(m->state_dir, m->dst, m->address, &acls, err) == 0
             && move_acl_apply(m->state_dir, m->dst_partner, m->address, &acls, err) == 0 ? 0 : -1;
    if (rc == 0 && acls.n)
        printf("  %zu share(s) (ACL entries) set on %s and %s\n", acls.n, m->dst->name, m->dst_partner->name);
    move_acls_free(&acls);
    if (rc != 0)
        return -1;
    buf want = BUF_INIT, want_extras = BUF_INIT;
    size_t n_want = 0;
    rc = message_list(m, m->src, &want, &n_want, err);
    if (rc == 0)
        rc = extras(m, m->src, &want_extras, err);
    /* The target's replicator syncs the user to the partner now, not at
     * its next full sync (dsync's own writes trigger no replication). */
    const char *replicate[] = {"replicator", "replicate", "-f", m->address, NULL};
    if (rc == 0)
        rc = doveadm_ok(m, m->dst, "asking the replicator", replicate, NULL, err);
    const struct site_host *targets[] = {m->dst, m->dst_partner};
    long long deadline = clock_ms() + REPLICATION_TIMEOUT_MS;
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        for (;;) {
            buf have = BUF_INIT, have_extras = BUF_INIT, missing = BUF_INIT, why = BUF_INIT;
            size_t n_have = 0;
            /* At least what the source had: the user works on the
             * target already (new mail, a new folder subscribed). */
            int ok = message_list(m, targets[i], &have, &n_have, &why) == 0
                     && extras(m, targets[i], &have_extras, &why) == 0
                     && list_covers(buf_cstr(&have), buf_cstr(&want), &missing)
                     && list_covers(buf_cstr(&have_extras), buf_cstr(&want_extras), &missing);
            if (!ok && clock_ms() > deadline) {
                buf_printf(err, "%s does not hold the whole mailbox after %d s (%s%s); the old copy on %s is kept, "
                                "run the move again to go on",
                           targets[i]->name, REPLICATION_TIMEOUT_MS / 1000,
                           missing.len ? "missing " : "", missing.len ? buf_cstr(&missing) : buf_cstr(&why), m->from);
                rc = -1;
            }
            buf_free(&have);
            buf_free(&have_extras);
            buf_free(&missing);
            buf_free(&why);
            if (ok) {
                printf("  %s holds all %zu message(s), the Sieve scripts and subscriptions\n", targets[i]->name,
                       n_want);
                break;
            }
            if (rc != 0)
                break;
            usleep(500 * 1000);
        }
    }
    buf_free(&want);
    buf_free(&want_extras);
    if (rc == 0)
        rc = state_write(m, "verified", err);
    return rc;
}

/* The user's mailbox tree on store, and its ALT tree (NULL if no ALT). */
static void copy_paths(const struct move *m, const struct site_host *store, char *paths[2])
{
    const char *at = strchr(m->address, '@');
    char *alt = site_storage_alt_dir(m->site, store);
    paths[0] = xasprintf("%s/data/%s/mail/%s/%.*s", m->state_dir, store->name, at + 1, (int)(at - m->address),
                         m->address);
    paths[1] = alt ? xasprintf("%s/%s/%.*s", alt, at + 1, (int)(at - m->address), m->address) : NULL;
    free(alt);
}

/* Tell store to leave the user alone: out of its replication queue, its
 * sessions (and a dsync server still closing) ended. */
static void quiet_user(const struct move *m, const struct site_host *store)
{
    const char *forget[] = {"replicator", "remove", m->address, NULL};
    const char *kick[] = {"kick", m->address, NULL};
    buf out = BUF_INIT, ignored = BUF_INIT;
    (void)doveadm_on(m, store, forget, &out, &ignored);      /* not queued: nothing to forget */
    (void)doveadm_on(m, store, kick, &out, &ignored);
    buf_free(&out);
    buf_free(&ignored);
}

/* Remove the user's mailbox (and ALT files) on both stores of pair. Both
 * stores are quieted first: a replication between them that was under way
 * would otherwise open the mailbox on one store while it goes on the
 * other and create it again. A tree that comes back is removed again. */
static int remove_copies(const struct move *m, const struct site_host *a, const struct site_host *b, buf *err)
{
    const struct site_host *stores[] = {a, b};
    int gone = 0;
    for (int round = 1; !gone && round <= 10; round++) {
        for (size_t i = 0; i < 2; i++)
            quiet_user(m, stores[i]);
        for (size_t i = 0; i < 2; i++) {
            char *paths[2];
            copy_paths(m, stores[i], paths);
            int rc = 0;
            for (size_t k = 0; k < 2 && rc == 0; k++) {
                for (int attempt = 1; paths[k] && fs_exists(paths[k]); attempt++) {
                    buf why = BUF_INIT;
                    rc = fs_remove_tree(paths[k], &why);
                    if (rc != 0 && attempt >= 20)
                        buf_append_str(err, buf_cstr(&why));
                    buf_free(&why);
                    if (rc == 0 || attempt >= 20)
                        break;
                    /* The tree grew behind our back (ENOTEMPTY). */
                    usleep(250 * 1000);
                }
            }
            free(paths[0]);
            free(paths[1]);
            if (rc != 0)
                return -1;
        }
        /* A replication that was already running ends within a moment. */
        usleep(1000 * 1000);
        gone = 1;
        for (size_t i = 0; i < 2; i++) {
            char *paths[2];
            copy_paths(m, stores[i], paths);
            gone = gone && !fs_exists(paths[0]) && !(paths[1] && fs_exists(paths[1]));
            free(paths[0]);
            free(paths[1]);
        }
    }
    if (!gone) {
        buf_printf(err, "the copies of %s on %s and %s keep coming back (replication between them?)", m->address,
                   a->name, b->name);
        return -1;
    }
    for (size_t i = 0; i < 2; i++)
        printf("  %s: the copy of %s removed\n", stores[i]->name, m->address);
    return 0;
}

/* ---- the command --------------------------------------------------------- */

static int fail_move(const char *address, buf *err)
{
    fprintf(stderr, "emailng: user move: %s: %s\n", address, buf_cstr(err));
    return 1;
}

static int set_stores(struct move *m, buf *err)
{
    m->src = pair_active_store(m->site, m->state_dir, m->from);
    m->dst = pair_active_store(m->site, m->state_dir, m->to);
    m->src_partner = m->src ? site_store_partner(m->site, m->src) : NULL;
    m->dst_partner = m->dst ? site_store_partner(m->site, m->dst) : NULL;
    if (!m->src || !m->dst || !m->src_partner || !m->dst_partner) {
        buf_printf(err, "the pairs %s and %s need two stores each in the site file", m->from, m->to);
        return -1;
    }
    return 0;
}

/* A share joins an owner's mailbox and its readers' sessions on one store:
 * owner and readers must be on the same pair (`share grant` checks it).
 * A move that would part them is refused, naming them, unless
 * --split-shares: then those shares stop working until the others are on
 * the target pair too (a team moved one by one); the ACLs travel with the
 * owner either way. */
static int check_shares(struct move *m, struct directory *d, int split, buf *err)
{
    struct move_acls acls;
    if (move_acl_collect(m->state_dir, m->src, m->address, &acls, err) != 0)
        return -1;
    buf crossing = BUF_INIT;
    int n = move_acl_crossing(m->site, m->state_dir, m->src, d, m->address, m->to, &acls, &crossing, err);
    move_acls_free(&acls);
    int rc = n < 0 ? -1 : 0;
    if (n > 0 && !split) {
        buf_printf(err, "on %s it would be parted from users of another store pair; it\n%s"
                        "move them together (owner and readers on one pair), revoke those shares, or move it "
                        "anyway with --split-shares (those shares stop working until all are on %s)",
                   m->to, buf_cstr(&crossing), m->to);
        rc = -1;
    } else if (n > 0) {
        printf("warning: %s: these shares stop working until the other users are on %s too:\n%s", m->address,
               m->to, buf_cstr(&crossing));
    }
    buf_free(&crossing);
    return rc;
}

int cmd_user_move(int argc, char **argv, const struct directory_target *t)
{
    signal(SIGPIPE, SIG_IGN);
    const char *words[2] = {NULL, NULL};
    int n_words = 0, abort_move = 0, split_shares = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--abort") == 0)
            abort_move = 1;
        else if (strcmp(argv[i], "--split-shares") == 0)
            split_shares = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "emailng: user move: unknown option %s\nusage: emailng user move ADDRESS PAIR [--abort | --split-shares]\n",
                    argv[i]);
            return 2;
        } else if (n_words < 2)
            words[n_words++] = argv[i];
        else
            n_words++;
    }
    if (n_words != 2) {
        fputs("emailng: user move: ADDRESS and PAIR expected\nusage: emailng user move ADDRESS PAIR [--abort | --split-shares]\n",
              stderr);
        return 2;
    }
    buf address = BUF_INIT, err = BUF_INIT;
    if (address_normalize(words[0], t->primary_domain, &address, &err) < 0) {
        int rc = fail_move(words[0], &err);
        buf_free(&err);
        buf_free(&address);
        return rc;
    }
    struct move m = {.site = t->site, .state_dir = t->state_dir, .address = buf_cstr(&address),
                     .ldap_uri = t->ldap_uri};
    m.state_file = xasprintf("%s/moves/%s", t->state_dir, m.address);
    struct directory *d = NULL;
    struct directory_user u = {0};
    int rc = -1;
    if (!store_pairs_has(t->site, words[1])) {
        buf_printf(&err, "\"%s\" is not a store pair of this site (", words[1]);
        user_pairs_names(t->site, &err);
        buf_append_str(&err, ")");
        goto out;
    }
    if (strchr(m.address, '/')) {
        buf_append_str(&err, "an address with '/' cannot be moved");
        goto out;
    }
    if (directory_open(&d, t->ldap_uri, t->base, &err) < 0 || directory_user_get(d, m.address, &u, &err) < 0)
        goto out;
    int recorded = state_read(&m, &err);
    if (recorded < 0)
        goto out;
    if (recorded && strcmp(m.to, words[1]) != 0) {
        buf_printf(&err, "a move to %s is under way (%s, phase %s): finish it with `emailng user move %s %s`%s",
                   m.to, m.state_file, m.phase, m.address, m.to,
                   strcmp(m.phase, "copying") == 0 ? " or roll it back with --abort" : "");
        goto out;
    }
    if (!recorded) {
        if (abort_move) {
            buf_printf(&err, "no move of %s is under way", m.address);
            goto out;
        }
        m.from = xstrdup(u.mail_host[0] ? u.mail_host : "");
        m.to = xstrdup(words[1]);
        if (strcmp(m.from, m.to) == 0) {
            printf("%s is on %s already; nothing to move\n", m.address, m.to);
            rc = 0;
            goto out;
        }
        if (!store_pairs_has(t->site, m.from)) {
            buf_printf(&err, "its store pair \"%s\" is not in the site file", m.from);
            goto out;
        }
    }
    if (set_stores(&m, &err) != 0)
        goto out;
    if (abort_move) {
        if (strcmp(m.phase, "copying") != 0) {
            buf_printf(&err, "the move is past the switch (phase %s): %s lives on %s now; finish it with "
                             "`emailng user move %s %s`, then move it back",
                       m.phase, m.address, m.to, m.address, m.to);
            goto out;
        }
        printf("rolling back the move of %s to %s (it stays on %s)\n", m.address, m.to, m.from);
        if (remove_copies(&m, m.dst, m.dst_partner, &err) != 0)
            goto out;
        if (unlink(m.state_file) != 0) {
            buf_printf(&err, "cannot remove %s: %s", m.state_file, strerror(errno));
            goto out;
        }
        printf("move of %s rolled back\n", m.address);
        rc = 0;
        goto out;
    }
    if (!recorded && check_shares(&m, d, split_shares, &err) != 0)
        goto out;
    printf("moving %s from %s (%s) to %s (%s)%s\n", m.address, m.from, m.src->name, m.to, m.dst->name,
           recorded ? " (taking up the recorded move)" : "");
    long long t0 = clock_ms();
    if (!recorded && state_write(&m, "copying", &err) != 0)
        goto out;
    if (strcmp(m.phase, "copying") == 0) {
        /* A switch may have happened just before an interruption. */
        if (strcmp(u.mail_host, m.to) != 0 && phase_copy(&m, &err) != 0)
            goto out;
        if (phase_switch(&m, d, &err) != 0)
            goto out;
    }
    if (strcmp(m.phase, "switched") == 0 && phase_verify(&m, &err) != 0)
        goto out;
    if (remove_copies(&m, m.src, m.src_partner, &err) != 0)
        goto out;
    /* Readers left on the old pair must no longer see the user's folders
     * there: opening them would create the mailbox again. */
    if (move_acl_forget_owner(m.site, m.state_dir, m.src, m.address, &err) != 0
        || move_acl_forget_owner(m.site, m.state_dir, m.src_partner, m.address, &err) != 0)
        goto out;
    if (unlink(m.state_file) != 0) {
        buf_printf(&err, "cannot remove %s: %s", m.state_file, strerror(errno));
        goto out;
    }
    printf("user %s moved to %s in %.1f s\n", m.address, m.to, (double)(clock_ms() - t0) / 1000);
    rc = 0;
out:
    if (rc != 0)
        fail_move(m.address, &err);
    directory_user_clear(&u);
    directory_close(d);
    move_free(&m);
    buf_free(&address);
    buf_free(&err);
    return rc == 0 ? 0 : 1;
}
