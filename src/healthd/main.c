/* emailng-healthd: the store health monitor. Probes every store of every
 * pair with real LMTP and IMAP dialogues each interval, runs the store and
 * pair state machines (monitor.h) and rewrites the active-store table the
 * proxies read whenever a pair changes. Runs in the foreground (emailng
 * starts it as a daemon). Usage: emailng-healthd -c CONFIG [-t]
 *   -t  check the configuration and the password file, then exit.
 * See docs/healthd.md.
 *
 * Its log (src/lib/daemon_log.h) has one line per event: every store
 * state change (store, pair, old -> new, reason, probe detail), every
 * change of a pair's active store, table writes that failed, start and
 * stop; appended to log_file (reopened on SIGHUP) or stderr for "-".
 *
 * Every round it also re-reads drain_file (drain.h): a drained store
 * counts as down until it is no longer listed, and then recovers like a
 * store that came back. status_file (table.h) is rewritten whenever a
 * store's state or a pair's active store changes. With `user`, it drops
 * to that user (as root) once the log and the pid file are open.
 *
 * With fast_fail (the default) it also holds one idle connection to every
 * store's IMAP port between rounds (watch.h) and waits on them instead of
 * sleeping: when a store's daemons die the connection closes, the
 * reconnect is refused, and the store goes down after refused_confirm_ms
 * of refusals (monitor.h) instead of at the next rounds after
 * fail_grace_ms; the table is rewritten at that moment. Events that
 * arrive during a probe round are handled when the round ends. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catchup.h"
#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "daemon_log.h"
#include "drain.h"
#include "fsutil.h"
#include "monitor.h"
#include "msg.h"
#include "probe.h"
#include "promtext.h"
#include "table.h"
#include "watch.h"

/* One store of one pair, and what the monitor keeps about it. */
typedef struct store_rt {
    size_t pair;                /* index into cfg.pairs */
    int role;                   /* 0 primary, 1 secondary */
    const char *addr;
    const char *partner;
    store_sm sm;
    int caught_up;
    long long away_since;       /* wall clock (s) when it last stopped serving; 0: not seen */
    catchup_job job;
    buf last_catchup;           /* last "not yet" detail, logged once */
    struct sockaddr_storage lmtp, imap;
    socklen_t lmtp_len, imap_len;
    watch w;                    /* held IMAP connection (fast_fail) */
} store_rt;

/* Everything one run keeps from round to round. Stores are numbered
 * 2 * pair + role; each has two probes, LMTP at 2 * store, IMAP after it. */
typedef struct healthd {
    hd_config cfg;
    store_policy policy;
    size_t nstores;
    store_rt *stores;
    probe *probes;
    int *active;                /* per pair: 0 primary, 1 secondary */
    int table_dirty;            /* the table differs from what was last written */
    int *drained, *next_drained;
    const char **state_names;   /* scratch for the status file */
    buf status, last_status;    /* the status file's text, and what was last written */
    unsigned long long *switches;   /* per pair and direction (table_format_metrics) */
    buf metrics, last_metrics;
    buf drain_err, last_drain_err, unknown, last_unknown;   /* each logged once */
    buf why, detail, err;       /* scratch */
} healthd;

static void usage(void)
{
    fprintf(stderr, "usage: emailng-healthd -c CONFIG [-t]\n");
    exit(2);
}

static const char *role_name(int role)
{
    return role ? "secondary" : "primary";
}

/* last := now, so a message repeated every round is logged only once. */
static void remember(buf *last, const buf *now)
{
    buf_reset(last);
    buf_append_str(last, buf_cstr((buf *)now));
}

static void parse_arguments(int argc, char **argv, const char **conf, int *test_only)
{
    int opt;
    while ((opt = getopt(argc, argv, "c:t")) != -1) {
        if (opt == 'c')
            *conf = optarg;
        else if (opt == 't')
            *test_only = 1;
        else
            usage();
    }
    if (!*conf || optind != argc)
        usage();
}

/* Start from the table a previous run left, so a restart never flips a
 * pair; without one (or unreadable) every pair starts on its primary. */
static void read_previous_table(const hd_config *cfg, int *active)
{
    if (!*cfg->table)
        return;
    buf old = BUF_INIT, ignored = BUF_INIT;
    if (fs_read_file(cfg->table, 1024 * 1024, &old, &ignored) == 0)
        table_parse_active(cfg, buf_cstr(&old), active);
    buf_free(&old);
    buf_free(&ignored);
}

static void init_stores(healthd *h, long long now)
{
    hd_config *cfg = &h->cfg;
    for (size_t i = 0; i < h->nstores; i++) {
        store_rt *s = &h->stores[i];
        s->pair = i / 2;
        s->role = (int)(i % 2);
        s->addr = cfg->pairs[s->pair].host[s->role];
        s->partner = cfg->pairs[s->pair].host[!s->role];
        /* A primary that was not active when we started must prove it is
         * caught up before it takes its pair back. */
        store_state initial = (s->role == 0 && h->active[s->pair] == 1) ? ST_DOWN : ST_STARTING;
        store_sm_init(&s->sm, initial, now);
        s->caught_up = cfg->catchup_command == NULL;
        config_sockaddr(s->addr, cfg->lmtp_port, &s->lmtp, &s->lmtp_len);
        config_sockaddr(s->addr, cfg->imap_port, &s->imap, &s->imap_len);
        watch_init(&s->w, &s->imap, s->imap_len, now);
    }
}

/* The configuration, the previous table and the stores; no I/O besides
 * reading the old table. */
static void healthd_init(healthd *h)
{
    hd_config *cfg = &h->cfg;
    h->policy = (store_policy){cfg->fail_grace_ms, cfg->recover_grace_ms, (int)cfg->recover_probes,
                               cfg->fast_fail, cfg->refused_confirm_ms, cfg->busy_grace_ms};
    h->nstores = cfg->npairs * 2;
    h->active = xcalloc(cfg->npairs, sizeof(int));
    read_previous_table(cfg, h->active);
    h->stores = xcalloc(h->nstores, sizeof(*h->stores));
    init_stores(h, clock_ms());
    h->table_dirty = 1;         /* write it once at start, whatever was there */
    h->drained = xcalloc(h->nstores, sizeof(int));
    h->next_drained = xcalloc(h->nstores, sizeof(int));
    h->state_names = xcalloc(h->nstores, sizeof(char *));
    h->probes = xcalloc(h->nstores * 2, sizeof(*h->probes));
    h->switches = xcalloc(cfg->npairs * 2, sizeof(*h->switches));
}

static void healthd_free(healthd *h)
{
    for (size_t i = 0; i < h->nstores; i++) {
        catchup_cancel(&h->stores[i].job);
        watch_close(&h->stores[i].w);
        buf_free(&h->stores[i].last_catchup);
    }
    for (size_t i = 0; i < h->nstores * 2; i++)
        if (h->probes[i].pending)       /* the others were freed after their round */
            probe_free(&h->probes[i]);
    free(h->probes);
    free(h->stores);
    free(h->active);
    free(h->drained);
    free(h->next_drained);
    free(h->state_names);
    buf_free(&h->status);
    buf_free(&h->last_status);
    free(h->switches);
    buf_free(&h->metrics);
    buf_free(&h->last_metrics);
    buf_free(&h->drain_err);
    buf_free(&h->last_drain_err);
    buf_free(&h->unknown);
    buf_free(&h->last_unknown);
    buf_free(&h->why);
    buf_free(&h->detail);
    buf_free(&h->err);
    config_free(&h->cfg);
}

/* A pid file that cannot be written is logged, not fatal: the monitor
 * matters more than the file emailng uses to stop it. */
static void write_pid_file(const hd_config *cfg, buf *err)
{
    if (!*cfg->pid_file)
        return;
    if (daemon_pid_file_create(cfg->pid_file, err) != 0) {
        msg_warn("cannot write pid file: %s", buf_cstr(err));
        buf_reset(err);
    }
}

static void log_start(const healthd *h)
{
    const hd_config *cfg = &h->cfg;
    daemon_log("started: %zu pairs, probes every %ld ms (deadline %ld ms, connects %ld ms), down after %ld ms "
            "(busy: %ld ms, a greeted probe kept open %ld ms), up after %ld good probes over %ld ms%s; refused connections: %s",
            cfg->npairs, cfg->interval_ms, cfg->timeout_ms, cfg->connect_timeout_ms, cfg->fail_grace_ms,
            cfg->busy_grace_ms, cfg->probe_patience_ms, cfg->recover_probes,
            cfg->recover_grace_ms, cfg->catchup_command ? " and the catch-up check" : "",
            cfg->fast_fail ? "down after refused_confirm_ms (held connections watch every store)"
                           : "like any failed probe (fast_fail off)");
    for (size_t i = 0; i < cfg->npairs; i++)
        daemon_log("pair %s: active %s (%s)", cfg->pairs[i].name, cfg->pairs[i].host[h->active[i]],
                role_name(h->active[i]));
}

static void reopen_log_if_asked(void)
{
    if (daemon_signal_hup())
        daemon_log_reopen_now();
}

/* Both dialogues with every store, all at once, under one deadline; a
 * dialogue the last round left pending (a greeted store still working on
 * it) goes on instead of a new one, so a login storm that makes every
 * login slower than a round still lets the probe's login finish and show
 * that the store serves (probe.h, probe_patience_ms). */
static void run_probes(healthd *h)
{
    for (size_t i = 0; i < h->nstores; i++) {
        store_rt *s = &h->stores[i];
        probe *lmtp = &h->probes[2 * i], *imap = &h->probes[2 * i + 1];
        if (!lmtp->pending)
            probe_init(lmtp, PROBE_LMTP, &s->lmtp, s->lmtp_len, NULL, NULL);
        if (!imap->pending)
            probe_init(imap, PROBE_IMAP, &s->imap, s->imap_len, h->cfg.probe_user, h->cfg.probe_password);
        lmtp->patience_ms = imap->patience_ms = h->cfg.probe_patience_ms;
    }
    probe_run(h->probes, h->nstores * 2, h->cfg.timeout_ms, h->cfg.connect_timeout_ms);
}

/* After a round: every finished probe; pending ones go on next round. */
static void free_probes(healthd *h)
{
    for (size_t i = 0; i < h->nstores * 2; i++)
        if (!h->probes[i].pending)
            probe_free(&h->probes[i]);
}

/* Reads the administrator's drains (drain.h) into next_drained; an
 * unreadable file keeps the last answer, so a transient error never
 * undrains a store. Each error and each list of unknown addresses is
 * logged once, not every round. */
static void read_drains(healthd *h)
{
    hd_config *cfg = &h->cfg;
    buf_reset(&h->drain_err);
    buf_reset(&h->unknown);
    if (drain_read(cfg, h->next_drained, &h->unknown, &h->drain_err) != 0) {
        if (strcmp(buf_cstr(&h->drain_err), buf_cstr(&h->last_drain_err)) != 0)
            daemon_log("cannot read the drain file (keeping the last one): %s", buf_cstr(&h->drain_err));
        memcpy(h->next_drained, h->drained, h->nstores * sizeof(int));
    } else if (h->unknown.len && strcmp(buf_cstr(&h->unknown), buf_cstr(&h->last_unknown)) != 0) {
        daemon_log("drain file %s: not a store of any pair (ignored): %s", cfg->drain_file,
                   buf_cstr(&h->unknown));
    }
    remember(&h->last_drain_err, &h->drain_err);
    remember(&h->last_unknown, &h->unknown);
}

/* Drained or undrained: the store restarts from down, so the normal
 * recovery (probes, grace, catch-up) decides when it serves again. */
static void apply_drains(healthd *h, long long now)
{
    if (!*h->cfg.drain_file)
        return;
    read_drains(h);
    for (size_t i = 0; i < h->nstores; i++) {
        store_rt *s = &h->stores[i];
        if (h->next_drained[i] == h->drained[i])
            continue;
        if (h->next_drained[i])
            daemon_log("store %s (%s %s): %s -> down: drained by the administrator", s->addr,
                       h->cfg.pairs[s->pair].name, role_name(s->role), store_state_name(s->sm.state));
        else
            daemon_log("store %s (%s %s): drain lifted; it serves again once it has recovered", s->addr,
                       h->cfg.pairs[s->pair].name, role_name(s->role));
        if (store_serves(s->sm.state))
            s->away_since = (long long)time(NULL);
        store_sm_init(&s->sm, ST_DOWN, now);
        catchup_cancel(&s->job);
        s->caught_up = h->cfg.catchup_command == NULL;
        buf_reset(&s->last_catchup);
        h->drained[i] = h->next_drained[i];
    }
}

/* Collects the answer of a running catch-up check, if it has one; a
 * "not yet" is logged when it differs from the last one. */
static void poll_catchup(healthd *h, store_rt *s)
{
    if (s->job.pid == 0)
        return;
    buf_reset(&h->why);
    int r = catchup_poll(&s->job, clock_ms(), &h->why);
    if (r >= 0)
        s->caught_up = r;
    if (r == 0 && strcmp(buf_cstr(&h->why), buf_cstr(&s->last_catchup)) != 0) {
        daemon_log("store %s (%s %s): %s", s->addr, h->cfg.pairs[s->pair].name,
                role_name(s->role), buf_cstr(&h->why));
        remember(&s->last_catchup, &h->why);
    }
}

/* Feeds one verdict to a store's state machine, logs a change, and starts
 * the catch-up check when the machine asks for it. A change away from
 * recovering voids any earlier catch-up answer. 1 if the state changed. */
static int feed_store(healthd *h, size_t i, int verdict, const char *detail, long long now)
{
    hd_config *cfg = &h->cfg;
    store_rt *s = &h->stores[i];
    int changed = 0;
    poll_catchup(h, s);
    store_state old = s->sm.state;
    buf_reset(&h->why);
    if (store_sm_feed(&s->sm, &h->policy, verdict, s->caught_up, now, &h->why)) {
        changed = 1;
        if (store_serves(old) && !store_serves(s->sm.state))
            s->away_since = (long long)time(NULL);
        daemon_log("store %s (%s %s): %s -> %s: %s; %s", s->addr, cfg->pairs[s->pair].name,
                role_name(s->role), store_state_name(old), store_state_name(s->sm.state),
                buf_cstr(&h->why), detail);
        if (cfg->catchup_command && s->sm.state != ST_RECOVERING) {
            catchup_cancel(&s->job);
            s->caught_up = 0;
            buf_reset(&s->last_catchup);
        }
    }
    if (cfg->catchup_command && !s->caught_up && s->job.pid == 0 &&
        store_sm_wants_catchup(&s->sm, &h->policy, now)) {
        buf_reset(&h->err);
        if (catchup_start(&s->job, cfg->catchup_command, cfg->pairs[s->pair].name, s->addr,
                          s->partner, cfg->catchup_secret, s->away_since, daemon_log_fd(),
                          cfg->catchup_timeout_ms, now, &h->err) != 0)
            daemon_log("store %s: cannot start the catch-up check: %s", s->addr, buf_cstr(&h->err));
    }
    return changed;
}

/* One store's round: good if both dialogues passed; refused if either
 * connect was refused (nothing listens); busy if what failed only ran
 * out of time after the store's greeting; otherwise bad. */
static void judge_store(healthd *h, size_t i, long long now)
{
    probe *lmtp = &h->probes[2 * i], *imap = &h->probes[2 * i + 1];
    int verdict = lmtp->ok && imap->ok ? VERDICT_GOOD
                : lmtp->refused || imap->refused ? VERDICT_REFUSED
                : (lmtp->ok || lmtp->slow) && (imap->ok || imap->slow) ? VERDICT_BUSY : VERDICT_BAD;
    buf_reset(&h->detail);
    buf_printf(&h->detail, "lmtp %s; imap %s", buf_cstr(&lmtp->detail), buf_cstr(&imap->detail));
    feed_store(h, i, verdict, buf_cstr(&h->detail), now);
}

/* A drained store is down by decree: its probes do not count. */
static void judge_stores(healthd *h, long long now)
{
    for (size_t i = 0; i < h->nstores; i++)
        if (!h->drained[i])
            judge_store(h, i, now);
}

static void decide_pairs(healthd *h)
{
    hd_config *cfg = &h->cfg;
    for (size_t i = 0; i < cfg->npairs; i++) {
        buf_reset(&h->why);
        int next = pair_decide(h->stores[2 * i].sm.state, h->stores[2 * i + 1].sm.state, h->active[i], &h->why);
        if (next == h->active[i])
            continue;
        daemon_log("pair %s: active %s (%s) -> %s (%s): %s", cfg->pairs[i].name,
                cfg->pairs[i].host[h->active[i]], role_name(h->active[i]), cfg->pairs[i].host[next],
                role_name(next), buf_cstr(&h->why));
        h->active[i] = next;
        h->switches[2 * i + (size_t)next]++;
        h->table_dirty = 1;
    }
}

/* A failed write stays dirty and is retried next round. */
static void write_table_if_dirty(healthd *h)
{
    if (!h->table_dirty)
        return;
    buf_reset(&h->err);
    if (table_write(&h->cfg, h->active, &h->err) == 0)
        h->table_dirty = 0;
    else
        daemon_log("cannot write the table (will retry): %s", buf_cstr(&h->err));
}

/* Rewritten only when its text changes; a failed write is retried. */
static void write_status_if_changed(healthd *h)
{
    if (!*h->cfg.status_file)
        return;
    for (size_t i = 0; i < h->nstores; i++)
        h->state_names[i] = h->drained[i] ? "drained" : store_state_name(h->stores[i].sm.state);
    buf_reset(&h->status);
    table_format_status(&h->cfg, h->active, h->state_names, &h->status);
    if (strcmp(buf_cstr(&h->status), buf_cstr(&h->last_status)) == 0)
        return;
    buf_reset(&h->err);
    if (fs_write_file(h->cfg.status_file, h->status.data, h->status.len, 0644, &h->err) == 0)
        remember(&h->last_status, &h->status);
    else
        daemon_log("cannot write the status file (will retry): %s", buf_cstr(&h->err));
}

/* The counters for emailng-metricsd, like the status file: rewritten only
 * when their text changes (a switch), a failed write retried. */
static void write_metrics_if_changed(healthd *h)
{
    if (!*h->cfg.metrics_file)
        return;
    buf_reset(&h->metrics);
    table_format_metrics(&h->cfg, h->switches, &h->metrics);
    if (strcmp(buf_cstr(&h->metrics), buf_cstr(&h->last_metrics)) == 0)
        return;
    buf_reset(&h->err);
    if (prom_file_write(h->cfg.metrics_file, &h->metrics, &h->err) == 0)
        remember(&h->last_metrics, &h->metrics);
    else
        daemon_log("cannot write the metrics file (will retry): %s", buf_cstr(&h->err));
}

/* Until the next round's start; a signal ends the sleep at once. */
static void sleep_until_next_round(const healthd *h, long long round_start)
{
    long long wait = round_start + h->cfg.interval_ms - clock_ms();
    if (wait > 0 && !daemon_signal_stop()) {
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* A watch found a store refusing connections: feed it now and, if a pair
 * changes, write the table now rather than at the end of the next round.
 * A drained store is down by decree and is not fed. */
static void watch_refused(healthd *h, size_t i, long long now)
{
    if (h->drained[i])
        return;
    if (!feed_store(h, i, VERDICT_REFUSED, "watch: connect to the IMAP port refused", now))
        return;
    decide_pairs(h);
    write_table_if_dirty(h);
    write_status_if_changed(h);
    write_metrics_if_changed(h);
}

/* While refusals go on, the next connect comes after refused_confirm_ms
 * (at least 50 ms), so the confirmation is quick; once the store is down
 * (or was never up) one connect a round is enough. */
static long watch_retry_ms(const healthd *h, const store_rt *s)
{
    if (s->sm.state == ST_DOWN || s->sm.state == ST_RECOVERING)
        return h->cfg.interval_ms;
    return h->cfg.refused_confirm_ms > 50 ? h->cfg.refused_confirm_ms : 50;
}

/* Instead of sleeping: poll every store's watch until the next round;
 * at least once, so a round that overran its interval (a slow store)
 * does not starve the watches. */
static void watch_until_next_round(healthd *h, long long round_start)
{
    long long until = round_start + h->cfg.interval_ms;
    struct pollfd *pfd = xcalloc(h->nstores, sizeof(*pfd));
    for (int pass = 0; !daemon_signal_stop(); pass++) {
        long long now = clock_ms(), wake = until;
        if (now >= until && pass > 0)
            break;
        for (size_t i = 0; i < h->nstores; i++) {
            watch_pollfd(&h->stores[i].w, &pfd[i]);
            long long t = watch_next_ms(&h->stores[i].w);
            if (t >= 0 && t < wake)
                wake = t;
        }
        int rc = poll(pfd, h->nstores, wake > now ? (int)(wake - now) : 0);
        if (rc < 0 && errno != EINTR) {
            daemon_log("poll: %s; sleeping until the next round", strerror(errno));
            sleep_until_next_round(h, round_start);
            break;
        }
        now = clock_ms();
        for (size_t i = 0; i < h->nstores; i++) {
            store_rt *s = &h->stores[i];
            short re = rc > 0 ? pfd[i].revents : 0;
            if (watch_step(&s->w, re, now, watch_retry_ms(h, s), h->cfg.interval_ms,
                           h->cfg.connect_timeout_ms) == WATCH_REFUSED)
                watch_refused(h, i, now);
        }
    }
    free(pfd);
}

/* One round: probe, drains, stores, pairs, then the files. Rounds start
 * every interval exactly; judging them by their start keeps the graces
 * exact (not shifted by how long a probe took). */
static void run_round(healthd *h, long long round_start)
{
    run_probes(h);
    apply_drains(h, round_start);
    judge_stores(h, round_start);
    decide_pairs(h);
    write_table_if_dirty(h);
    write_status_if_changed(h);
    write_metrics_if_changed(h);
    free_probes(h);
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    int test_only = 0;
    parse_arguments(argc, argv, &conf, &test_only);

    healthd h = {0};
    (void)daemon_log_open("emailng-healthd", "-");     /* stderr until the log is open */
    config_defaults(&h.cfg);
    if (config_load(&h.cfg, conf, &h.err) != 0)
        msg_fatal("%s", buf_cstr(&h.err));
    if (test_only) {
        printf("emailng-healthd: %s is valid (%zu pairs)\n", conf, h.cfg.npairs);
        healthd_free(&h);
        return 0;
    }
    if (daemon_log_open("emailng-healthd", h.cfg.log_file) != 0)
        msg_fatal("cannot open log %s: %s", h.cfg.log_file, strerror(errno));
    daemon_signals_catch();
    healthd_init(&h);
    /* Log and pid file are opened as root, before the drop. */
    write_pid_file(&h.cfg, &h.err);
    if (*h.cfg.user && daemon_drop_privileges(h.cfg.user, &h.err) != 0)
        msg_fatal("cannot start: %s", buf_cstr(&h.err));
    log_start(&h);

    while (!daemon_signal_stop()) {
        long long round_start = clock_ms();
        reopen_log_if_asked();
        run_round(&h, round_start);
        if (h.cfg.fast_fail)
            watch_until_next_round(&h, round_start);
        else
            sleep_until_next_round(&h, round_start);
    }

    msg_info("stopping (signal %d)", daemon_signal_stop());
    healthd_free(&h);
    return 0;
}
