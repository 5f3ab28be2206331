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
 * to that user (as root) once the log and the pid file are open. */
#include <errno.h>
#include <grp.h>
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
#include "daemon_log.h"
#include "drain.h"
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

/* Root only: become `user` (its group, no supplementary groups besides
 * its own). The password was read while still root. */
static int drop_privileges(const char *user, buf *err)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        buf_printf(err, "user %s does not exist", user);
        return -1;
    }
    if (geteuid() != 0) {
        if (geteuid() == pw->pw_uid)
            return 0;
        buf_printf(err, "must start as root to become %s", user);
        return -1;
    }
    if (initgroups(user, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        buf_printf(err, "cannot become %s: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {           /* fail closed if root could be regained */
        buf_printf(err, "still able to regain root after becoming %s", user);
        return -1;
    }
    return 0;
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

    long long now = clock_ms();
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
        if (fs_write_pid_file(cfg.pid_file, &err) != 0) {
            daemon_log("cannot write pid file: %s", buf_cstr(&err));
            buf_reset(&err);
        }
    }
    if (*cfg.user && drop_privileges(cfg.user, &err) != 0) {
        daemon_log("cannot start: %s", buf_cstr(&err));
        fprintf(stderr, "emailng-healthd: %s\n", buf_cstr(&err));
        if (*cfg.pid_file)
            unlink(cfg.pid_file);
        return 1;
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
    int *drained = xcalloc(nstores, sizeof(int));
    int *next_drained = xcalloc(nstores, sizeof(int));
    const char **state_names = xcalloc(nstores, sizeof(char *));
    buf status = BUF_INIT, last_status = BUF_INIT, drain_err = BUF_INIT, last_drain_err = BUF_INIT;
    buf unknown = BUF_INIT, last_unknown = BUF_INIT;

    probe *pr = xcalloc(nstores * 2, sizeof(*pr));
    buf why = BUF_INIT, detail = BUF_INIT;
    while (!stop_sig) {
        long long round = clock_ms();
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

        /* The administrator's drains (drain.h); an unreadable file keeps
         * the last answer, so a transient error never undrains a store. */
        if (*cfg.drain_file) {
            buf_reset(&drain_err);
            buf_reset(&unknown);
            if (drain_read(&cfg, next_drained, &unknown, &drain_err) != 0) {
                if (strcmp(buf_cstr(&drain_err), buf_cstr(&last_drain_err)) != 0)
                    daemon_log("cannot read the drain file (keeping the last one): %s", buf_cstr(&drain_err));
                memcpy(next_drained, drained, nstores * sizeof(int));
            } else if (unknown.len && strcmp(buf_cstr(&unknown), buf_cstr(&last_unknown)) != 0) {
                daemon_log("drain file %s: not a store of any pair (ignored): %s", cfg.drain_file,
                           buf_cstr(&unknown));
            }
            buf_reset(&last_drain_err);
            buf_append_str(&last_drain_err, buf_cstr(&drain_err));
            buf_reset(&last_unknown);
            buf_append_str(&last_unknown, buf_cstr(&unknown));
            for (size_t i = 0; i < nstores; i++) {
                store_rt *s = &st[i];
                if (next_drained[i] == drained[i])
                    continue;
                if (next_drained[i])
                    daemon_log("store %s (%s %s): %s -> down: drained by the administrator", s->addr,
                               cfg.pairs[s->pair].name, role_name(s->role), store_state_name(s->sm.state));
                else
                    daemon_log("store %s (%s %s): drain lifted; it serves again once it has recovered", s->addr,
                               cfg.pairs[s->pair].name, role_name(s->role));
                /* Drained or undrained: from down, so the normal recovery
                 * (probes, grace, catch-up) decides when it serves again. */
                store_sm_init(&s->sm, ST_DOWN, now);
                catchup_cancel(&s->job);
                s->caught_up = cfg.catchup_command == NULL;
                buf_reset(&s->last_catchup);
                drained[i] = next_drained[i];
            }
        }

        for (size_t i = 0; i < nstores; i++) {
            store_rt *s = &st[i];
            probe *l = &pr[2 * i], *m = &pr[2 * i + 1];
            if (drained[i])
                continue;
            int ok = l->ok && m->ok;
            buf_reset(&detail);
            buf_printf(&detail, "lmtp %s; imap %s", buf_cstr(&l->detail), buf_cstr(&m->detail));
            if (s->job.pid) {
                buf_reset(&why);
                int r = catchup_poll(&s->job, clock_ms(), &why);
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
                                  s->partner, cfg.catchup_secret, cfg.catchup_timeout_ms, now, &err) != 0)
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
        if (*cfg.status_file) {
            for (size_t i = 0; i < nstores; i++)
                state_names[i] = drained[i] ? "drained" : store_state_name(st[i].sm.state);
            buf_reset(&status);
            table_format_status(&cfg, active, state_names, &status);
            if (strcmp(buf_cstr(&status), buf_cstr(&last_status)) != 0) {
                buf_reset(&err);
                if (fs_write_file(cfg.status_file, status.data, status.len, 0644, &err) == 0) {
                    buf_reset(&last_status);
                    buf_append_str(&last_status, buf_cstr(&status));
                } else {
                    daemon_log("cannot write the status file (will retry): %s", buf_cstr(&err));
                }
            }
        }
        for (size_t i = 0; i < nstores * 2; i++)
            probe_free(&pr[i]);

        long long wait = round + cfg.interval_ms - clock_ms();
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
    free(drained);
    free(next_drained);
    free(state_names);
    buf_free(&status);
    buf_free(&last_status);
    buf_free(&drain_err);
    buf_free(&last_drain_err);
    buf_free(&unknown);
    buf_free(&last_unknown);
    buf_free(&why);
    buf_free(&detail);
    buf_free(&err);
    config_free(&cfg);
    return 0;
}
