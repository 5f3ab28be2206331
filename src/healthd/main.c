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
 * stop; appended to log_file (reopened on SIGHUP) or stderr for "-". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catchup.h"
#include "config.h"
#include "daemon_log.h"
#include "fsutil.h"
#include "monitor.h"
#include "probe.h"
#include "table.h"

typedef struct store_rt {
    size_t pair;                /* index into cfg.pairs */
    int role;                   /* 0 primary, 1 secondary */
    const char *addr;
    const char *partner;
    store_sm sm;
    int caught_up;
    catchup_job job;
    buf last_catchup;           /* last "not yet" detail, logged once */
    struct sockaddr_storage lmtp, imap;
    socklen_t lmtp_len, imap_len;
} store_rt;

static volatile sig_atomic_t stop_sig, hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hup = 1;
    else
        stop_sig = sig;
}

static void usage(void)
{
    fprintf(stderr, "usage: emailng-healthd -c CONFIG [-t]\n");
    exit(2);
}

static const char *role_name(int role)
{
    return role ? "secondary" : "primary";
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    int test_only = 0;
    int opt;
    while ((opt = getopt(argc, argv, "c:t")) != -1) {
        if (opt == 'c')
            conf = optarg;
        else if (opt == 't')
            test_only = 1;
        else
            usage();
    }
    if (!conf || optind != argc)
        usage();

    hd_config cfg;
    config_defaults(&cfg);
    buf err = BUF_INIT;
    if (config_load(&cfg, conf, &err) != 0) {
        fprintf(stderr, "emailng-healthd: %s\n", buf_cstr(&err));
        return 1;
    }
    if (test_only) {
        printf("emailng-healthd: %s is valid (%zu pairs)\n", conf, cfg.npairs);
        config_free(&cfg);
        buf_free(&err);
        return 0;
    }
    if (daemon_log_open("emailng-healthd", cfg.log_file) != 0) {
        fprintf(stderr, "emailng-healthd: cannot open log %s: %s\n", cfg.log_file, strerror(errno));
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;      /* no SA_RESTART: sleeps end at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Start from the table a previous run left, so a restart never flips a pair. */
    int *active = xcalloc(cfg.npairs, sizeof(int));
    if (*cfg.table) {
        buf old = BUF_INIT, ignored = BUF_INIT;
        if (fs_read_file(cfg.table, 1024 * 1024, &old, &ignored) == 0)
            table_parse_active(&cfg, buf_cstr(&old), active);
        buf_free(&old);
        buf_free(&ignored);
    }

    long long now = monotonic_ms();
    size_t nstores = cfg.npairs * 2;
    store_rt *st = xcalloc(nstores, sizeof(*st));
    for (size_t i = 0; i < nstores; i++) {
        store_rt *s = &st[i];
        s->pair = i / 2;
        s->role = (int)(i % 2);
        s->addr = cfg.pairs[s->pair].host[s->role];
        s->partner = cfg.pairs[s->pair].host[!s->role];
        /* A primary that was not active when we started must prove it is
         * caught up before it takes its pair back. */
        store_state initial = (s->role == 0 && active[s->pair] == 1) ? ST_DOWN : ST_STARTING;
        store_sm_init(&s->sm, initial, now);
        s->caught_up = cfg.catchup_command == NULL;
        config_sockaddr(s->addr, cfg.lmtp_port, &s->lmtp, &s->lmtp_len);
        config_sockaddr(s->addr, cfg.imap_port, &s->imap, &s->imap_len);
    }
    if (*cfg.pid_file) {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (fs_write_file(cfg.pid_file, pid, (size_t)n, 0644, &err) != 0) {
            daemon_log("cannot write pid file: %s", buf_cstr(&err));
            buf_reset(&err);
        }
    }
    store_policy pol = {cfg.fail_grace_ms, cfg.recover_grace_ms, (int)cfg.recover_probes};
    daemon_log("started: %zu pairs, probes every %ld ms (deadline %ld ms), down after %ld ms, "
            "up after %ld good probes over %ld ms%s",
            cfg.npairs, cfg.interval_ms, cfg.timeout_ms, cfg.fail_grace_ms, cfg.recover_probes,
            cfg.recover_grace_ms, cfg.catchup_command ? " and the catch-up check" : "");
    for (size_t i = 0; i < cfg.npairs; i++)
        daemon_log("pair %s: active %s (%s)", cfg.pairs[i].name, cfg.pairs[i].host[active[i]],
                role_name(active[i]));
    int dirty = 1;

    probe *pr = xcalloc(nstores * 2, sizeof(*pr));
    buf why = BUF_INIT, detail = BUF_INIT;
    while (!stop_sig) {
        long long round = monotonic_ms();
        if (hup) {
            hup = 0;
            if (daemon_log_reopen() != 0)
                daemon_log("cannot reopen the log: %s", strerror(errno));
        }
        for (size_t i = 0; i < nstores; i++) {
            probe_init(&pr[2 * i], PROBE_LMTP, &st[i].lmtp, st[i].lmtp_len, NULL, NULL);
            probe_init(&pr[2 * i + 1], PROBE_IMAP, &st[i].imap, st[i].imap_len,
                       cfg.probe_user, cfg.probe_password);
        }
        probe_run(pr, nstores * 2, cfg.timeout_ms);
        /* Rounds start every interval exactly; judging them by their start
         * keeps the graces exact (not shifted by how long a probe took). */
        now = round;

        for (size_t i = 0; i < nstores; i++) {
            store_rt *s = &st[i];
            probe *l = &pr[2 * i], *m = &pr[2 * i + 1];
            int ok = l->ok && m->ok;
            buf_reset(&detail);
            buf_printf(&detail, "lmtp %s; imap %s", buf_cstr(&l->detail), buf_cstr(&m->detail));
            if (s->job.pid) {
                buf_reset(&why);
                int r = catchup_poll(&s->job, monotonic_ms(), &why);
                if (r >= 0)
                    s->caught_up = r;
                if (r == 0 && strcmp(buf_cstr(&why), buf_cstr(&s->last_catchup)) != 0) {
                    daemon_log("store %s (%s %s): %s", s->addr, cfg.pairs[s->pair].name,
                            role_name(s->role), buf_cstr(&why));
                    buf_reset(&s->last_catchup);
                    buf_append_str(&s->last_catchup, buf_cstr(&why));
                }
            }
            store_state old = s->sm.state;
            buf_reset(&why);
            if (store_sm_feed(&s->sm, &pol, ok, s->caught_up, now, &why)) {
                daemon_log("store %s (%s %s): %s -> %s: %s; %s", s->addr, cfg.pairs[s->pair].name,
                        role_name(s->role), store_state_name(old), store_state_name(s->sm.state),
                        buf_cstr(&why), buf_cstr(&detail));
                if (cfg.catchup_command && s->sm.state != ST_RECOVERING) {
                    catchup_cancel(&s->job);
                    s->caught_up = 0;
                    buf_reset(&s->last_catchup);
                }
            }
            if (cfg.catchup_command && !s->caught_up && s->job.pid == 0 &&
                store_sm_wants_catchup(&s->sm, &pol, now)) {
                buf_reset(&err);
                if (catchup_start(&s->job, cfg.catchup_command, cfg.pairs[s->pair].name, s->addr,
                                  s->partner, cfg.catchup_timeout_ms, now, &err) != 0)
                    daemon_log("store %s: cannot start the catch-up check: %s", s->addr, buf_cstr(&err));
            }
        }
        for (size_t i = 0; i < cfg.npairs; i++) {
            buf_reset(&why);
            int next = pair_decide(st[2 * i].sm.state, st[2 * i + 1].sm.state, active[i], &why);
            if (next != active[i]) {
                daemon_log("pair %s: active %s (%s) -> %s (%s): %s", cfg.pairs[i].name,
                        cfg.pairs[i].host[active[i]], role_name(active[i]), cfg.pairs[i].host[next],
                        role_name(next), buf_cstr(&why));
                active[i] = next;
                dirty = 1;
            }
        }
        if (dirty) {
            buf_reset(&err);
            if (table_write(&cfg, active, &err) == 0)
                dirty = 0;
            else
                daemon_log("cannot write the table (will retry): %s", buf_cstr(&err));
        }
        for (size_t i = 0; i < nstores * 2; i++)
            probe_free(&pr[i]);

        long long wait = round + cfg.interval_ms - monotonic_ms();
        if (wait > 0 && !stop_sig) {
            struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    daemon_log("stopping (signal %d)", (int)stop_sig);
    for (size_t i = 0; i < nstores; i++) {
        catchup_cancel(&st[i].job);
        buf_free(&st[i].last_catchup);
    }
    if (*cfg.pid_file)
        unlink(cfg.pid_file);
    free(pr);
    free(st);
    free(active);
    buf_free(&why);
    buf_free(&detail);
    buf_free(&err);
    config_free(&cfg);
    return 0;
}
