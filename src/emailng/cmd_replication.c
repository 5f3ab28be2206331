/* cmd_replication: replication status and the catch-up check; see
 * cmd_replication.h. */
#include "cmd_replication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_log.h"
#include "dedup.h"
#include "doveadm_client.h"
#include "fsutil.h"
#include "pair_dedup.h"
#include "password.h"
#include "process.h"
#include "render.h"
#include "replication.h"

#define DOVEADM_TIMEOUT_MS 30000

/* The replicator's own dsync parameters (replication_dsync_parameters; no
 * -N: shared and public folders travel with their owner's sync only). */
static const char *const sync_argv[] = {"sync", "-d", "-l", "30", "-U", "-T", "30", NULL};
static const char *const status_argv[] = {"replicator", "status", "*", NULL};

struct target_ctx {
    struct doveadm_target t;
    buf password;
    char *ca;
};

/* A store of the site by address or name. */
static const struct site_host *find_store(const struct site *site, const char *name)
{
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if ((h->roles & ROLE_STORE) && (strcmp(h->address, name) == 0 || strcmp(h->name, name) == 0))
            return h;
    }
    return NULL;
}

/* The secret given on standard input (--password-stdin), else none: then
 * it is read from STATE/secrets (root only). */
static buf given_secret = BUF_INIT;

static int target_init(struct target_ctx *tc, const struct site *site, const struct site_host *store,
                       const char *state_dir, buf *err)
{
    memset(tc, 0, sizeof *tc);
    struct render_context ctx = {0};
    int rc = render_context_for_host(site, store, state_dir, &ctx, err);
    char *secret = given_secret.len ? xstrdup("the secret on standard input") : replication_secret_path(state_dir);
    if (rc == 0 && given_secret.len)
        buf_append(&tc->password, given_secret.data, given_secret.len);
    else if (rc == 0)
        rc = fs_read_secret(secret, PASSWORD_MAX, &tc->password, err);
    if (rc == 0) {
        tc->ca = xstrdup(render_context_get(&ctx, "tls_ca"));
        tc->t.address = store->address;
        tc->t.port = atoi(render_context_get(&ctx, "port_doveadm"));
        tc->t.ca_file = tc->ca;
        tc->t.password = buf_cstr(&tc->password);
        tc->t.timeout_ms = DOVEADM_TIMEOUT_MS;
    }
    free(secret);
    render_context_free(&ctx);
    return rc;
}

static void target_free(struct target_ctx *tc)
{
    password_wipe(&tc->password);
    free(tc->ca);
}

static int fetch_status(const struct target_ctx *tc, struct replication_status *st, buf *err)
{
    struct doveadm_reply reply;
    if (doveadm_run(&tc->t, "", status_argv, &reply, err) != 0)
        return -1;
    int rc = 0;
    if (!reply.ok) {
        buf_printf(err, "replicator status on %s failed (%s)", tc->t.address, reply.code);
        rc = -1;
    }
    if (rc == 0)
        rc = replication_status_parse(reply.fields, reply.n_fields, st, err);
    doveadm_reply_free(&reply);
    return rc;
}

static int cmd_status(const struct site *site, const char *state_dir, const char *only)
{
    int rc = 0, any = 0;
    printf("%-8s %-32s %-8s %-10s %-10s %-12s %s\n", "STORE", "USER", "PRIORITY", "FAST SYNC", "FULL SYNC",
           "SUCCESS", "FAILED");
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!(h->roles & ROLE_STORE) || (only && h != find_store(site, only)))
            continue;
        any = 1;
        buf err = BUF_INIT;
        struct target_ctx tc;
        struct replication_status st = {0};
        if (target_init(&tc, site, h, state_dir, &err) != 0 || fetch_status(&tc, &st, &err) != 0) {
            fprintf(stderr, "emailng: replication status of %s (%s): %s\n", h->name, h->address, buf_cstr(&err));
            rc = 1;
        }
        for (size_t u = 0; u < st.n_users; u++) {
            const struct replication_user *r = &st.users[u];
            printf("%-8s %-32s %-8s %-10s %-10s %-12s %s\n", h->name, r->username, r->priority, r->fast_sync,
                   r->full_sync, r->success_sync, r->failed ? "yes" : "-");
            if (replication_pending(r))
                rc = 1;
        }
        replication_status_free(&st);
        target_free(&tc);
        buf_free(&err);
    }
    if (!any) {
        fprintf(stderr, "emailng: replication status: no such store %s\n", only ? only : "(the site has none)");
        return 2;
    }
    return rc;
}

/* A copy saved up to this long before the replicator's last successful
 * sync of the user may still be one its sync did not carry (the times are
 * whole seconds, and a sync takes its snapshot when it starts). */
#define DEDUP_WINDOW_MARGIN_S 60

/* After a successful sync of a user the partner held back, the partner
 * (which served the pair) has both stores' copies: remove the second
 * copies of messages the failover let through twice (pair_dedup.h), then
 * sync again so that the returning store loses them too before it takes
 * the pair back (2.3.19 does not announce doveadm's expunges to the
 * replicator). A failure is reported and does not hold the pair back: a
 * duplicate left is better than a store kept from its users. */
static void remove_duplicates(const struct target_ctx *tc, const struct site_host *partner,
                              const struct site_host *store, const struct replication_user *u, long long now)
{
    long long age = dedup_age_seconds(u->success_sync);
    long long window_start = age < 0 ? now - DEDUP_PERIOD_S : now - age - DEDUP_WINDOW_MARGIN_S;
    buf err = BUF_INIT;
    int n = pair_dedup_user(&tc->t, partner->name, u->username, window_start, &err);
    if (n < 0) {
        printf("  duplicates of %s on %s: %s\n", u->username, partner->name, buf_cstr(&err));
        daemon_log("duplicates of %s on %s not removed: %s", u->username, partner->name, buf_cstr(&err));
    } else if (n > 0) {
        struct doveadm_reply reply;
        buf_reset(&err);
        if (doveadm_run(&tc->t, u->username, sync_argv, &reply, &err) != 0) {
            printf("  sync of %s by %s after removing duplicates: %s\n", u->username, partner->name,
                   buf_cstr(&err));
        } else {
            printf("  sync of %s by %s with %s after removing %d duplicate(s): %s%s\n", u->username,
                   partner->name, store->name, n, reply.ok ? "done" : "failed ", reply.ok ? "" : reply.code);
            doveadm_reply_free(&reply);
        }
    }
    buf_free(&err);
}

/* Users the partner still has to sync; -1 if it does not answer. */
static int count_pending(const struct target_ctx *partner, struct replication_status *st, buf *err)
{
    if (fetch_status(partner, st, err) != 0)
        return -1;
    int n = 0;
    for (size_t i = 0; i < st->n_users; i++)
        n += replication_pending(&st->users[i]);
    return n;
}

static int cmd_caught_up(const struct site *site, const char *state_dir, const char *store_name,
                         const char *partner_name)
{
    const char *pair = getenv("HEALTHD_PAIR");
    if (store_name == NULL)
        store_name = getenv("HEALTHD_STORE");
    if (partner_name == NULL)
        partner_name = getenv("HEALTHD_PARTNER");
    if (store_name == NULL || partner_name == NULL) {
        fputs("emailng: replication caught-up: --store and --partner (or HEALTHD_STORE and HEALTHD_PARTNER) "
              "are required\n", stderr);
        return 2;
    }
    const struct site_host *store = find_store(site, store_name);
    const struct site_host *partner = find_store(site, partner_name);
    if (store == NULL || partner == NULL || site_store_partner(site, store) != partner
        || (pair && *pair && strcmp(pair, store->store_pair) != 0)) {
        fprintf(stderr, "emailng: replication caught-up: %s and %s are not the two stores of %s%s of site %s\n",
                store_name, partner_name, pair && *pair ? "pair " : "a pair", pair && *pair ? pair : "",
                site->name);
        return 2;
    }
    /* Standard error is emailng-healthd's log when it runs the check:
     * pair_dedup logs each removal there. */
    (void)daemon_log_open("emailng-catchup", "-");
    buf err = BUF_INIT;
    struct target_ctx tc;
    struct replication_status st = {0};
    int rc = 1;
    long long now = (long long)time(NULL);
    int pending = target_init(&tc, site, partner, state_dir, &err) == 0 ? count_pending(&tc, &st, &err) : -1;
    if (pending < 0) {
        printf("not yet: the partner %s does not answer: %s\n", partner->name, buf_cstr(&err));
    } else if (pending == 0) {
        printf("caught up: %s has nothing queued or failed for %s (%zu users)\n", partner->name, store->name,
               st.n_users);
        rc = 0;
    } else {
        /* Sync now what the partner holds back (its replicator retries a
         * failed user only every 5 minutes); dsync merges both ways. */
        int failed = 0;
        for (size_t i = 0; i < st.n_users; i++) {
            if (!replication_pending(&st.users[i]))
                continue;
            struct doveadm_reply reply;
            buf_reset(&err);
            if (doveadm_run(&tc.t, st.users[i].username, sync_argv, &reply, &err) != 0) {
                printf("  sync of %s by %s: %s\n", st.users[i].username, partner->name, buf_cstr(&err));
                failed++;
            } else {
                printf("  sync of %s by %s with %s: %s%s\n", st.users[i].username, partner->name, store->name,
                       reply.ok ? "done" : "failed ", reply.ok ? "" : reply.code);
                failed += !reply.ok;
                int synced = reply.ok;
                doveadm_reply_free(&reply);
                if (synced)
                    remove_duplicates(&tc, partner, store, &st.users[i], now);
            }
        }
        /* The replicator of 2.3.19 keeps a user marked failed after a
         * sync it did not run itself (doveadm's -U notice does not clear
         * the mark): ask it to sync them too, and wait a little for that. */
        for (size_t i = 0; !failed && i < st.n_users; i++) {
            if (!replication_pending(&st.users[i]))
                continue;
            const char *argv[] = {"replicator", "replicate", "-p", "high", st.users[i].username, NULL};
            struct doveadm_reply reply;
            buf_reset(&err);
            if (doveadm_run(&tc.t, "", argv, &reply, &err) != 0) {
                printf("  replicator replicate %s on %s: %s\n", st.users[i].username, partner->name, buf_cstr(&err));
                failed++;
            } else {
                failed += !reply.ok;
                doveadm_reply_free(&reply);
            }
        }
        /* Every user the partner held back has now been synced to the
         * store by a dsync run that finished: the store has all that the
         * partner took while it was away. Not "the queue is empty": under
         * steady mail the partner always has something queued, and what
         * arrives from here on follows by the normal replication (dsync
         * merges both ways if a message is still in flight at the switch). */
        if (failed) {
            printf("not yet: %d sync(s) failed\n", failed);
        } else {
            printf("caught up: %d user(s) synced from %s to %s\n", pending, partner->name, store->name);
            rc = 0;
        }
    }
    replication_status_free(&st);
    target_free(&tc);
    buf_free(&err);
    return rc;
}

int cmd_replication(const struct site *site, const char *state_dir, int argc, char **argv)
{
    const char *store = NULL, *partner = NULL;
    int password_stdin = 0, rc = 2;
    if (argc < 1)
        goto usage;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            store = argv[++i];
        else if (strcmp(argv[i], "--partner") == 0 && i + 1 < argc)
            partner = argv[++i];
        else if (strcmp(argv[i], "--password-stdin") == 0)
            password_stdin = 1;
        else
            goto usage;
    }
    /* emailng-healthd runs the check unprivileged and hands it the secret,
     * which it read as root, on a pipe: never argv, never the environment. */
    if (password_stdin) {
        buf err = BUF_INIT;
        if (password_read(NULL, 1, &given_secret, &err) != 0 || given_secret.len == 0) {
            fprintf(stderr, "emailng: replication: no secret on standard input%s%s\n", err.len ? ": " : "",
                    buf_cstr(&err));
            buf_free(&err);
            return 2;
        }
        buf_free(&err);
    }
    if (strcmp(argv[0], "status") == 0 && partner == NULL)
        rc = cmd_status(site, state_dir, store);
    else if (strcmp(argv[0], "caught-up") == 0)
        rc = cmd_caught_up(site, state_dir, store, partner);
    else
        goto usage;
    password_wipe(&given_secret);
    return rc;
usage:
    fputs("usage: emailng replication status [--store ADDR|NAME] [--password-stdin]\n"
          "       emailng replication caught-up [--store ADDR --partner ADDR] [--password-stdin]\n"
          "         (or HEALTHD_STORE, HEALTHD_PARTNER; --password-stdin: the pair's doveadm secret\n"
          "          as one line on standard input, else STATE/secrets/doveadm-password)\n",
          stderr);
    password_wipe(&given_secret);
    return 2;
}
