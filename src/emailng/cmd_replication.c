/* cmd_replication: replication status and the catch-up check; see
 * cmd_replication.h. */
#include "cmd_replication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon_log.h"
#include "doveadm_client.h"
#include "fsutil.h"
#include "healthd_service.h"
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

/* A copy saved up to this long before the store stopped serving (as a
 * proxy's monitor saw it) may still be a failover's second copy: the
 * monitor's clock and the stores' are not the same, and the monitor sees a
 * failure up to its grace after it began. */
#define DEDUP_WINDOW_MARGIN_S 60

/* emailng-healthd kills a check that runs past its catchup_timeout_ms
 * (10 s, templates/healthd/healthd.yaml); the removals stop looking at
 * further users this long after the check began, so that the check ends
 * by itself (and releases its lock). Two fetches per user: a pair of a few
 * hundred users fits. */
#define DEDUP_BUDGET_MS 7000

/* Once the store has everything the partner held back, the copies that the
 * failover let through to both stores are removed (pair_dedup.h), for
 * every user the partner's replicator knows (not only those it held back:
 * its own retry or the store's start-up sync may have synced a user
 * already), by one of the two proxies' checks (the lock on the partner).
 * A failure is reported and does not hold the pair back: a duplicate left
 * is better than a store kept from its users. */
static void remove_duplicates(const struct site *site, const struct target_ctx *store_tc,
                              const struct site_host *store, const struct target_ctx *partner_tc,
                              const struct site_host *partner, const struct replication_status *st,
                              long long down_since, long long deadline_ms)
{
    buf err = BUF_INIT, lock_user = BUF_INIT;
    int locked = healthd_probe_address(site, &lock_user, &err) == 0
                     ? pair_dedup_lock(&partner_tc->t, buf_cstr(&lock_user), store->store_pair, (long long)time(NULL),
                                       &err)
                     : -1;
    if (locked == 0) {
        printf("duplicates: another check is removing them (emailng-dedup-%s of %s on %s; if that check died,\n"
               "  the lock is taken over after %d s)\n", store->store_pair, buf_cstr(&lock_user), partner->name,
               PAIR_DEDUP_LOCK_STALE_S);
        buf_free(&lock_user);
        buf_free(&err);
        return;
    }
    if (locked < 0) {
        /* Removing twice removes nothing more (pair_dedup.h): go on. */
        printf("duplicates: no lock (%s); removing them anyway\n", buf_cstr(&err));
        daemon_log("duplicates of %s: no lock on %s (%s); removing them anyway", store->store_pair, partner->name,
                   buf_cstr(&err));
    }
    const struct pair_dedup_store stores[2] = {{&partner_tc->t, partner->name}, {&store_tc->t, store->name}};
    long long window_start = down_since - DEDUP_WINDOW_MARGIN_S;
    int total = 0;
    size_t i = 0;
    for (; i < st->n_users && clock_ms() < deadline_ms; i++) {
        buf_reset(&err);
        int n = pair_dedup_user(stores, st->users[i].username, window_start, &err);
        if (n < 0) {
            printf("  duplicates of %s: not looked for: %s\n", st->users[i].username, buf_cstr(&err));
            daemon_log("duplicates of %s on %s and %s not removed: %s", st->users[i].username, partner->name,
                       store->name, buf_cstr(&err));
        } else {
            total += n;
        }
    }
    printf("duplicates: %d removed among %zu of %zu users (copies saved since %lld less a day)\n", total, i,
           st->n_users, window_start);
    if (i < st->n_users)
        daemon_log("duplicates of %s: time spent after %zu of %zu users; the others were not looked at",
                   store->store_pair, i, st->n_users);
    buf_reset(&err);
    if (locked == 1 && pair_dedup_unlock(&partner_tc->t, buf_cstr(&lock_user), store->store_pair, &err) != 0)
        daemon_log("duplicates of %s: cannot release the lock on %s (%s); it goes stale after %d s",
                   store->store_pair, partner->name, buf_cstr(&err), PAIR_DEDUP_LOCK_STALE_S);
    buf_free(&lock_user);
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

/* A Unix time given as the failover's start; -1 if it is not one. */
static long long parse_unix_time(const char *text)
{
    if (text == NULL || *text == '\0' || strlen(text) > 12 || strspn(text, "0123456789") != strlen(text))
        return -1;
    long long t = strtoll(text, NULL, 10);
    return t > 0 ? t : -1;
}

static int cmd_caught_up(const struct site *site, const char *state_dir, const char *store_name,
                         const char *partner_name, const char *since_arg)
{
    long long down_since = 0;
    if (since_arg) {
        down_since = parse_unix_time(since_arg);
        if (down_since < 0) {
            fprintf(stderr, "emailng: replication caught-up: --since %s is not a Unix time\n", since_arg);
            return 2;
        }
    } else if (getenv("HEALTHD_DOWN_SINCE")) {
        /* A bad value from the monitor costs the duplicate search, never
         * the store's return. */
        down_since = parse_unix_time(getenv("HEALTHD_DOWN_SINCE"));
        if (down_since < 0) {
            fprintf(stderr, "emailng: replication caught-up: HEALTHD_DOWN_SINCE=%s is not a Unix time\n",
                    getenv("HEALTHD_DOWN_SINCE"));
            down_since = 0;
        }
    }
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
    long long started_ms = clock_ms();
    buf err = BUF_INIT;
    struct target_ctx tc;
    struct replication_status st = {0};
    int rc = 1;
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
                doveadm_reply_free(&reply);
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
    if (rc == 0 && down_since > 0) {
        struct target_ctx store_tc;
        buf_reset(&err);
        if (target_init(&store_tc, site, store, state_dir, &err) == 0)
            remove_duplicates(site, &store_tc, store, &tc, partner, &st, down_since, started_ms + DEDUP_BUDGET_MS);
        else
            printf("duplicates: not looked for: %s\n", buf_cstr(&err));
        target_free(&store_tc);
    } else if (rc == 0) {
        printf("duplicates: not looked for (the failover's start is not known: HEALTHD_DOWN_SINCE or --since)\n");
    }
    replication_status_free(&st);
    target_free(&tc);
    buf_free(&err);
    return rc;
}

int cmd_replication(const struct site *site, const char *state_dir, int argc, char **argv)
{
    const char *store = NULL, *partner = NULL, *since = NULL;
    int password_stdin = 0, rc = 2;
    if (argc < 1)
        goto usage;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            store = argv[++i];
        else if (strcmp(argv[i], "--partner") == 0 && i + 1 < argc)
            partner = argv[++i];
        else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
            since = argv[++i];
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
    if (strcmp(argv[0], "status") == 0 && partner == NULL && since == NULL)
        rc = cmd_status(site, state_dir, store);
    else if (strcmp(argv[0], "caught-up") == 0)
        rc = cmd_caught_up(site, state_dir, store, partner, since);
    else
        goto usage;
    password_wipe(&given_secret);
    return rc;
usage:
    fputs("usage: emailng replication status [--store ADDR|NAME] [--password-stdin]\n"
          "       emailng replication caught-up [--store ADDR --partner ADDR] [--since UNIXTIME]\n"
          "                                     [--password-stdin]\n"
          "         (or HEALTHD_STORE, HEALTHD_PARTNER, HEALTHD_DOWN_SINCE; --since: when the store\n"
          "          stopped serving, to remove the duplicates the failover let through;\n"
          "          --password-stdin: the pair's doveadm secret\n"
          "          as one line on standard input, else STATE/secrets/doveadm-password)\n",
          stderr);
    password_wipe(&given_secret);
    return 2;
}
