/* emailng-syncwatch: ends dsync runs that Dovecot 2.3.19 leaves stuck
 * before they start, on a store of a replicated pair, and asks the
 * partner's replicator to sync that user again at once.
 *
 * Why: two syncs of one user, one started by each store, can leave each
 * partner's dsync-server waiting for a handshake its master never sends
 * (seen under load, docs/architecture.md "Replication"). No -T or -l
 * timeout covers that phase; Dovecot ends it only after the slave's fixed
 * 10-minute I/O timeout, and the replicator syncs nothing else for that
 * user meanwhile. Every `interval` seconds this program reads the process
 * titles of its store's Dovecot (stall.h); a doveadm-server that has
 * waited for a handshake for `stall` seconds is killed (SIGKILL). Its
 * master on the partner then fails; when
 * the title names the partner, `replicator replicate -p high USER` goes to
 * the partner's doveadm server (TLS, the pair's secret), so that failed
 * sync is retried at once instead of after the replicator's 5 minutes.
 *
 * It stays root: the doveadm-server processes it ends keep root as their
 * real user. It reads the secret once at start and opens nothing else but
 * /proc, its log and the partner's doveadm port.
 *
 * Usage: emailng-syncwatch --prefix NAME --partner ADDRESS --port N
 *            --ca FILE --secret-file FILE [--stall-seconds N]
 *            [--interval-seconds N] [--log FILE] [--pid-file FILE]
 *            [--metrics-file FILE] [-t]
 *   -t  check the arguments and the secret file, then exit.
 * --metrics-file: its counters for emailng-metricsd (counters.h).
 * One log line per decision: stalled-dsync action="end" (pid, waited_s,
 * partner, user, result) and action="retry" (partner, user, result). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "counters.h"
#include "daemon.h"
#include "daemon_log.h"
#include "doveadm_client.h"
#include "fsutil.h"
#include "msg.h"
#include "netaddr.h"
#include "password.h"
#include "process.h"
#include "promtext.h"
#include "stall.h"

#define SECRET_MAX 1024
#define TITLE_MAX 4096
#define RETRY_TIMEOUT_MS 10000

struct options {
    const char *prefix, *partner, *ca, *secret_file, *log, *pid_file, *metrics_file;
    long port, stall, interval;
    int check;
};

static int parse_long(const char *name, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "emailng-syncwatch: --%s: \"%s\" is not a whole number from %ld to %ld\n", name, s,
                min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"prefix", required_argument, NULL, 'p'},      {"partner", required_argument, NULL, 'P'},
        {"port", required_argument, NULL, 'o'},        {"ca", required_argument, NULL, 'a'},
        {"secret-file", required_argument, NULL, 's'}, {"stall-seconds", required_argument, NULL, 'S'},
        {"interval-seconds", required_argument, NULL, 'i'}, {"log", required_argument, NULL, 'l'},
        {"pid-file", required_argument, NULL, 'f'},    {"metrics-file", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->stall = 60;
    o->interval = 5;
    o->log = "-";
    o->pid_file = "";
    o->metrics_file = "";
    int c;
    while ((c = getopt_long(argc, argv, "t", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'p': o->prefix = optarg; break;
        case 'P': o->partner = optarg; break;
        case 'o': rc = parse_long("port", optarg, 1, 65535, &o->port); break;
        case 'a': o->ca = optarg; break;
        case 's': o->secret_file = optarg; break;
        case 'S': rc = parse_long("stall-seconds", optarg, 1, 3600, &o->stall); break;
        case 'i': rc = parse_long("interval-seconds", optarg, 1, 3600, &o->interval); break;
        case 'l': o->log = optarg; break;
        case 'f': o->pid_file = optarg; break;
        case 'm': o->metrics_file = optarg; break;
        case 't': o->check = 1; break;
        default: return -1;
        }
        if (rc != 0)
            return -1;
    }
    const char *missing = !o->prefix ? "--prefix" : !o->partner ? "--partner" : !o->port ? "--port"
                        : !o->ca ? "--ca" : !o->secret_file ? "--secret-file" : NULL;
    if (optind != argc || missing) {
        fprintf(stderr, "emailng-syncwatch: %s%s\nusage: emailng-syncwatch --prefix NAME --partner ADDRESS "
                "--port N --ca FILE --secret-file FILE [--stall-seconds N] [--interval-seconds N] "
                "[--log FILE] [--pid-file FILE] [--metrics-file FILE] [-t]\n",
                missing ? missing : "unexpected argument ", missing ? " is required" : argv[optind]);
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t len;
    if (netaddr_sockaddr(o->partner, 1, &sa, &len) != 0) {
        fprintf(stderr, "emailng-syncwatch: --partner: \"%s\" is not a numeric IPv4 or IPv6 address\n",
                o->partner);
        return -1;
    }
    if (*o->prefix == '\0' || strchr(o->prefix, '/') || strchr(o->prefix, ' ')) {
        fprintf(stderr, "emailng-syncwatch: --prefix: \"%s\" is not a Dovecot process name prefix "
                "(expected e.g. dovecot-emailng-store1)\n", o->prefix);
        return -1;
    }
    return 0;
}

/* Seconds since boot, the clock /proc/PID/stat start times count in. */
static double boot_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void log_decision(const char *action, long pid, long age, const struct stall_title *t, const char *result)
{
    buf line = BUF_INIT, num = BUF_INIT;
    daemon_log_begin(&line);
    buf_append_str(&line, "stalled-dsync");
    daemon_log_field(&line, "action", action);
    if (pid > 0) {
        buf_printf(&num, "%ld", pid);
        daemon_log_field(&line, "pid", buf_cstr(&num));
    }
    if (age >= 0) {
        buf_reset(&num);
        buf_printf(&num, "%ld", age);
        daemon_log_field(&line, "waited_s", buf_cstr(&num));
    }
    daemon_log_field(&line, "partner", buf_cstr((buf *)&t->client));
    daemon_log_field(&line, "user", buf_cstr((buf *)&t->user));
    if (result)
        daemon_log_field(&line, "result", result);
    daemon_log_end(&line);
    buf_free(&num);
}

static struct sw_counters counters;

/* After a round that changed them (and at start): metricsd's user reads
 * the file; a failed write is logged once and tried again. */
static void write_metrics(const struct options *o, int force)
{
    static int failing;
    if (!*o->metrics_file || (!force && !counters.changed))
        return;
    buf text = BUF_INIT, err = BUF_INIT;
    sw_format(&counters, &text);
    if (prom_file_write(o->metrics_file, &text, &err) != 0) {
        counters.changed = 1;
        if (!failing)
            daemon_log("cannot write the metrics file (will retry): %s", buf_cstr(&err));
        failing = 1;
    } else {
        failing = 0;
    }
    buf_free(&text);
    buf_free(&err);
}

static void retry_at_partner(const struct options *o, const char *secret, const struct stall_title *t)
{
    struct doveadm_target target = {o->partner, (int)o->port, o->ca, secret, RETRY_TIMEOUT_MS};
    const char *argv[] = {"replicator", "replicate", "-p", "high", buf_cstr((buf *)&t->user), NULL};
    struct doveadm_reply reply = {0};
    buf err = BUF_INIT, result = BUF_INIT;
    int ok = 0;
    if (doveadm_run(&target, "", argv, &reply, &err) != 0)
        buf_printf(&result, "failed: %s", buf_cstr(&err));
    else if (!reply.ok)
        buf_printf(&result, "failed: the partner answered -%s", reply.code ? reply.code : "");
    else {
        ok = 1;
        buf_append_str(&result, "requested");
    }
    sw_count(&counters, ok ? SW_RETRY_REQUESTED : SW_RETRY_FAILED);
    log_decision("retry", 0, -1, t, buf_cstr(&result));
    doveadm_reply_free(&reply);
    buf_free(&err);
    buf_free(&result);
}

/* A process's command line (its title, NUL bytes and all); at most
 * TITLE_MAX bytes. 0, or -1 if it is gone or longer. */
static int read_title(const char *path, buf *title)
{
    buf_reset(title);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char chunk[1024];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0)
            buf_append(title, chunk, (size_t)n);
        if (title->len > TITLE_MAX)
            break;
    }
    close(fd);
    return n == 0 && title->len <= TITLE_MAX ? 0 : -1;
}

/* One look at every process. */
static void round_once(const struct options *o, const char *secret)
{
    long *pids;
    size_t npids;
    if (process_pids(&pids, &npids) != 0) {
        daemon_log("cannot read /proc: %s", strerror(errno));
        return;
    }
    double now = boot_seconds();
    long ticks = sysconf(_SC_CLK_TCK);
    struct stall_title t = {BUF_INIT, BUF_INIT};
    buf title = BUF_INIT, path = BUF_INIT;
    for (size_t i = 0; i < npids; i++) {
        long pid = pids[i];
        buf_reset(&path);
        buf_printf(&path, "/proc/%ld/cmdline", pid);
        if (read_title(buf_cstr(&path), &title) != 0)
            continue;                   /* gone, or a title too long to be Dovecot's */
        if (!stall_parse_title(title.data ? title.data : "", title.len, o->prefix, &t))
            continue;
        /* Only our host's: another host on this machine (the test fabric,
         * a site deployed twice) can have a Dovecot of the same name. */
        if (!process_in_our_network_namespace(pid))
            continue;
        long ppid;
        unsigned long long start;
        if (process_stat_start(pid, &ppid, &start) != 0 || ticks <= 0)
            continue;
        /* service doveadm has service_count = 1: the process was started
         * for this connection, so its age is how long the sync has run. */
        long age = (long)(now - (double)start / (double)ticks);
        if (age < o->stall)
            continue;
        /* SIGKILL at once: SIGTERM does not end a doveadm-server in this
         * state, and it has changed nothing yet (before the handshake it
         * holds no lock and has opened no mailbox). */
        if (kill((pid_t)pid, SIGKILL) != 0) {
            log_decision("end", pid, age, &t, strerror(errno));
            sw_count(&counters, SW_END_FAILED);
            continue;
        }
        log_decision("end", pid, age, &t, "SIGKILL");
        sw_count(&counters, SW_END_KILLED);
        if (strcmp(buf_cstr(&t.client), o->partner) == 0) {
            retry_at_partner(o, secret, &t);
        } else {
            log_decision("retry", 0, -1, &t, "skipped: the client is not the partner");
            sw_count(&counters, SW_RETRY_SKIPPED);
        }
    }
    free(pids);
    stall_title_free(&t);
    buf_free(&title);
    buf_free(&path);
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    (void)daemon_log_open("emailng-syncwatch", "-");   /* stderr until the log is open */
    buf secret = BUF_INIT, err = BUF_INIT;
    /* Root to the end (the stalled processes keep root as their real
     * uid), but the pair's secret stays out of core dumps and ptrace. */
    if (daemon_forbid_core_dumps(&err) != 0)
        msg_fatal("%s", buf_cstr(&err));
    if (fs_read_secret(o.secret_file, SECRET_MAX, &secret, &err) != 0)
        msg_fatal("%s", buf_cstr(&err));
    if (!fs_exists(o.ca))
        msg_fatal("--ca: %s does not exist", o.ca);
    if (o.check) {
        password_wipe(&secret);
        return 0;
    }
    if (daemon_log_open("emailng-syncwatch", o.log) != 0)
        msg_fatal("cannot open log %s: %s", o.log, strerror(errno));
    daemon_signals_catch();
    if (*o.pid_file && daemon_pid_file_create(o.pid_file, &err) != 0) {
        msg_warn("cannot write pid file: %s", buf_cstr(&err));
        buf_reset(&err);
    }
    daemon_log("started: watching %s/doveadm-server for dsync runs waiting over %ld s for their handshake, "
               "every %ld s; retries go to %s:%ld", o.prefix, o.stall, o.interval, o.partner, o.port);
    write_metrics(&o, 1);       /* zeros from the start */
    while (!daemon_signal_stop()) {
        if (daemon_signal_hup())
            daemon_log_reopen_now();
        round_once(&o, buf_cstr(&secret));
        write_metrics(&o, 0);
        struct timespec ts = {o.interval, 0};
        while (!daemon_signal_pending() && nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    msg_info("stopping (signal %d)", daemon_signal_stop());
    password_wipe(&secret);
    buf_free(&err);
    daemon_log_close();
    return 0;
}
