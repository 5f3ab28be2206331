/* emailng-policyd: EmailNG's border policy server (Postfix SMTP access
 * policy delegation). Usage: emailng-policyd -c CONFIG [-f] [-t]
 *   -c CONFIG  the YAML configuration (rendered by emailng)
 *   -f         stay in the foreground
 *   -t         check the configuration and the table, then exit
 * See docs/policyd.md. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "engine.h"
#include "fsutil.h"
#include "log.h"
#include "msg.h"
#include "quotaclient.h"
#include "server.h"
#include "spfhelper.h"
#include "stats.h"
#include "store.h"
#include "table.h"

static struct {
    config cfg;
    struct event_base *base;
    engine eng;
    table *table;
    store *store;
    server *srv;
    quota_client *qc;
    spf_client *spf;
    pid_t spf_pid;
    struct stat table_st;
    int have_table_st;
    policy_stats stats;
    buf stats_text;
    int stats_error_logged;     /* a failing write is logged once until one works */
} G;

static void usage(void)
{
    fprintf(stderr, "usage: emailng-policyd -c CONFIG [-f] [-t]\n");
    exit(2);
}

static int load_table(int force)
{
    const char *path = G.cfg.table;
    if (!path || !*path)
        return 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (force || G.have_table_st)
            daemon_log("table %s: %s; keeping the table in use (%zu mailboxes)", path, strerror(errno),
                    G.table ? G.table->mailboxes.count : 0);
        G.have_table_st = 0;
        return -1;
    }
    if (!force && G.have_table_st && st.st_mtim.tv_sec == G.table_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == G.table_st.st_mtim.tv_nsec && st.st_ino == G.table_st.st_ino &&
        st.st_size == G.table_st.st_size)
        return 0;
    G.table_st = st;
    G.have_table_st = 1;
    table *t = xcalloc(1, sizeof(*t));
    table_init(t);
    buf err = BUF_INIT;
    if (table_load(t, path, &err) != 0) {
        daemon_log("table not loaded, keeping the one in use: %s", err.data);
        buf_free(&err);
        table_free(t);
        free(t);
        return -1;
    }
    buf_free(&err);
    table *old = G.table;
    G.table = t;
    G.eng.table = t;
    daemon_log("table %s loaded: %zu mailboxes, %zu alternates, %zu aliases, %zu limits", path,
            t->mailboxes.count, t->alternates.count, t->aliases.count, t->limits.count);
    if (old) {
        table_free(old);
        free(old);
    }
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        daemon_log_reopen_now();
        load_table(1);
        return;
    }
    daemon_log("stopping on signal %d (%ld connections open)", (int)sig, server_connections(G.srv));
    event_base_loopbreak(G.base);
}

/* The counters for emailng-metricsd (stats.h): rewritten when something
 * changed (and at exit), off the request path. */
static void write_metrics(int force)
{
    if (!G.cfg.metrics_file[0] || (!force && !G.stats.changed))
        return;
    buf_reset(&G.stats_text);
    stats_format(&G.stats, &G.stats_text);
    buf err = BUF_INIT;
    if (prom_file_write(G.cfg.metrics_file, &G.stats_text, &err) != 0) {
        G.stats.changed = 1;        /* try again next time */
        if (!G.stats_error_logged)
            daemon_log("cannot write the metrics file (will retry): %s", buf_cstr(&err));
        G.stats_error_logged = 1;
    } else {
        G.stats_error_logged = 0;
    }
    buf_free(&err);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    static long ticks;
    ticks++;
    store_sync(G.store);
    if (ticks % G.cfg.table_check_interval == 0)
        load_table(0);
    if (ticks % G.cfg.metrics_interval == 0)
        write_metrics(0);
    if (ticks % 60 == 0) {
        long n = store_expire(G.store, (int64_t)time(NULL), 10000);
        if (n > 0)
            daemon_log("expired %ld old records", n);
    }
}

/* The log is buffered (src/lib/daemon_log.h) and written once per pass of
 * the event loop, after every answer of the pass: the first line of a pass
 * activates this event, which libevent runs after the callbacks already
 * active. Also written when 64 KiB are waiting, before a reopen, at exit. */
#define LOG_BUFFER (64 * 1024)

static struct event *log_flush_ev;

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    (void)daemon_log_flush();       /* a failed write loses the lines, as an unbuffered one did */
}

static void log_pending(void *arg)
{
    (void)arg;
    event_active(log_flush_ev, EV_TIMEOUT, 1);
}

/* -t: the configuration (and the table it names) parse; nothing starts. */
static int check_configuration(const char *conf)
{
    buf err = BUF_INIT;
    if (G.cfg.table[0]) {
        table t;
        table_init(&t);
        if (table_load(&t, G.cfg.table, &err) != 0)
            msg_fatal("%s", err.data);
        table_free(&t);
    }
    buf_free(&err);
    printf("emailng-policyd: %s is valid\n", conf);
    return 0;
}

/* The log, written by the daemon after it drops to its user. */
static struct passwd *open_log_for_user(void)
{
    if (daemon_log_open("emailng-policyd", G.cfg.log_file) != 0)
        msg_fatal("cannot open the log %s: %s", G.cfg.log_file, strerror(errno));
    struct passwd *pw = getpwnam(G.cfg.user);
    if (!pw)
        msg_fatal("the system user \"%s\" does not exist", G.cfg.user);
    if (getuid() == 0 && strcmp(G.cfg.log_file, "-") != 0 && fchown(daemon_log_fd(), pw->pw_uid, pw->pw_gid) != 0)
        msg_fatal("cannot hand the log to %s: %s", G.cfg.user, strerror(errno));
    return pw;
}

/* Room for max_connections connections, or fewer connections. */
static void raise_file_limit(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)G.cfg.max_connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    if (rl.rlim_max < want)
        rl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        return;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_cur - 256 < G.cfg.max_connections) {
        G.cfg.max_connections = (long)rl.rlim_cur - 256;
        msg_warn("the file limit is %lu; max_connections lowered to %ld", (unsigned long)rl.rlim_cur,
                 G.cfg.max_connections);
    }
}

/* Who may use the unix sockets: socket_group owns them, peer_users (and
 * root) are answered. Names are resolved now: an unknown one is fatal. */
static gid_t socket_group(const struct passwd *pw)
{
    gid_t gid = pw->pw_gid;
    if (G.cfg.socket_group[0]) {
        struct group *gr = getgrnam(G.cfg.socket_group);
        if (!gr)
            msg_fatal("socket_group: the group \"%s\" does not exist", G.cfg.socket_group);
        gid = gr->gr_gid;
    }
    return getuid() != 0 ? (gid_t)-1 : gid;     /* tests as a user: the socket keeps the user's group */
}

static uid_t *peer_uids(void)
{
    uid_t *peers = xcalloc(G.cfg.peer_users.n + 1, sizeof(uid_t));
    for (size_t i = 0; i < G.cfg.peer_users.n; i++) {
        struct passwd *p = getpwnam(G.cfg.peer_users.items[i]);
        if (!p)
            msg_fatal("peer_users: the user \"%s\" does not exist", G.cfg.peer_users.items[i]);
        peers[i] = p->pw_uid;
    }
    return peers;
}

static int *open_listeners(gid_t sock_gid)
{
    buf err = BUF_INIT;
    int *fds = xcalloc(G.cfg.listen.n, sizeof(int));
    for (size_t i = 0; i < G.cfg.listen.n; i++) {
        fds[i] = listen_on(G.cfg.listen.items[i], sock_gid, &err);
        if (fds[i] < 0)
            msg_fatal("%s", err.data);
    }
    buf_free(&err);
    return fds;
}

/* The metrics file's folder, made as root for the user the daemon becomes
 * (it replaces the file there); readable by all: the counters are no
 * secret and metricsd runs as its own user. */
static void ensure_metrics_folder(void)
{
    if (!G.cfg.metrics_file[0] || getuid() != 0)
        return;
    buf err = BUF_INIT;
    char *dir = xstrdup(G.cfg.metrics_file);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_ensure_dir(dir, G.cfg.user, NULL, 0755, &err) != 0)
            msg_fatal("metrics_file: %s", buf_cstr(&err));
    }
    free(dir);
    buf_free(&err);
}

/* Without -f: fork, the parent waits until the child says it is ready
 * ('R' on the pipe: listening, table loaded) and exits 0, or 1 if the
 * child died first. Returns the child's end of the pipe, or -1 (-f). */
static int detach(void)
{
    int ready[2];
    if (pipe(ready) != 0)
        msg_fatal("pipe: %s", strerror(errno));
    pid_t p = fork();
    if (p < 0)
        msg_fatal("fork: %s", strerror(errno));
    if (p > 0) {
        close(ready[1]);
        char c;
        ssize_t n = read(ready[0], &c, 1);
        if (n == 1 && c == 'R')
            exit(0);
        fprintf(stderr, "emailng-policyd: did not start; see %s\n",
                strcmp(G.cfg.log_file, "-") ? G.cfg.log_file : "the messages above");
        exit(1);
    }
    close(ready[0]);
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        if (strcmp(G.cfg.log_file, "-") != 0)
            dup2(daemon_log_fd(), 2);
        close(devnull);
    }
    return ready[1];
}

/* Root's part: the pid file and the SPF helper (which keeps a root parent
 * to unshare its resolv.conf); then the daemon becomes its user. */
static int start_as_root_then_drop(void)
{
    buf err = BUF_INIT;
    if (G.cfg.pid_file[0] && daemon_pid_file_create(G.cfg.pid_file, &err) != 0)
        msg_fatal("%s", err.data);
    int spf_fd = -1;
    if (G.cfg.spf.enabled) {
        spf_fd = spf_helper_start(&G.cfg, &G.spf_pid, &err);
        if (spf_fd < 0)
            msg_fatal("cannot start the SPF helper: %s", err.data);
    }
    if (daemon_drop_privileges(G.cfg.user, &err) != 0)
        msg_fatal("%s", err.data);
    if (store_open(&G.store, G.cfg.state_dir, (size_t)G.cfg.lmdb_map_mb, &err) != 0)
        msg_fatal("%s", err.data);
    buf_free(&err);
    return spf_fd;
}

static void log_started(void)
{
    msg_info("started: listening on %s%s, user %s, quota %s, send limits %s, SPF %s, greylisting %s",
             G.cfg.listen.items[0], G.cfg.listen.n > 1 ? " and more" : "", G.cfg.user,
             G.cfg.quota.enabled ? "on" : "off", G.cfg.ratelimit.enabled ? "on" : "off",
             G.cfg.spf.enabled ? (G.cfg.spf.reject_fail ? "on (fail refused)" : "on (headers only)") : "off",
             G.cfg.greylist.enabled ? "on" : (G.cfg.greylist.domains.n ? "on for some domains" : "off"));
    for (size_t i = 0; i < G.cfg.listen.n; i++)
        if (!listen_unix_path(G.cfg.listen.items[i]))
            msg_warn("listening on TCP %s: every local user can reach it (peer_users holds only on unix "
                     "sockets); for tests and benchmarks", G.cfg.listen.items[i]);
}

/* The event loop until SIGTERM/SIGINT, with the log buffered per pass. */
static void run(void)
{
    struct event *sigs[4];
    int signums[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    /* Without these events the daemon could not be stopped, reloaded or
     * keep its store synced: it does not run half-built. */
    for (int i = 0; i < 4; i++) {
        sigs[i] = evsignal_new(G.base, signums[i], on_signal, NULL);
        if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
            msg_fatal("cannot watch signal %d", signums[i]);
    }
    struct event *tick = event_new(G.base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval one = {1, 0};
    if (tick == NULL || event_add(tick, &one) != 0)
        msg_fatal("cannot set the one-second timer");
    log_flush_ev = event_new(G.base, -1, 0, on_log_flush, NULL);
    if (!log_flush_ev || daemon_log_buffer(LOG_BUFFER, log_pending, NULL) != 0)
        msg_warn("cannot buffer the log (%s); writing every line at once", strerror(errno));
    event_base_dispatch(G.base);
    if (daemon_log_buffer(0, NULL, NULL) != 0)     /* flushes; from here on, at once */
        msg_error("cannot write the log: %s", strerror(errno));
    if (log_flush_ev)
        event_free(log_flush_ev);
    event_free(tick);
    for (int i = 0; i < 4; i++)
        event_free(sigs[i]);
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    int foreground = 0, check_only = 0, opt;
    while ((opt = getopt(argc, argv, "c:ft")) != -1) {
        switch (opt) {
        case 'c': conf = optarg; break;
        case 'f': foreground = 1; break;
        case 't': check_only = 1; break;
        default: usage();
        }
    }
    if (!conf || optind != argc)
        usage();
    (void)daemon_log_open("emailng-policyd", "-");     /* stderr until the log is open */
    buf err = BUF_INIT;
    config_defaults(&G.cfg);
    if (config_load(&G.cfg, conf, &err) != 0)
        msg_fatal("%s", err.data);
    if (check_only)
        return check_configuration(conf);
    signal(SIGPIPE, SIG_IGN);
    struct passwd *pw = open_log_for_user();
    raise_file_limit();
    gid_t sock_gid = socket_group(pw);
    uid_t *peers = peer_uids();
    int *fds = open_listeners(sock_gid);
    if (getuid() == 0 && fs_ensure_dir(G.cfg.state_dir, G.cfg.user, NULL, 0700, &err) != 0)
        msg_fatal("%s", err.data);
    ensure_metrics_folder();
    int ready = foreground ? -1 : detach();
    int spf_fd = start_as_root_then_drop();

    G.table = xcalloc(1, sizeof(*G.table));
    table_init(G.table);
    G.base = event_base_new();
    if (G.base == NULL)
        msg_fatal("cannot create the event loop");
    G.qc = quota_client_new(G.base, &G.cfg, daemon_log_str);
    engine_init(&G.eng, &G.cfg, G.table, G.store, quota_client_lookup, G.qc);
    struct timespec started;
    clock_gettime(CLOCK_REALTIME, &started);
    stats_init(&G.stats, (double)started.tv_sec + (double)started.tv_nsec / 1e9);
    G.eng.stats = &G.stats;
    write_metrics(1);           /* zeros from the start: the families exist before the first mail */
    load_table(1);
    if (spf_fd >= 0) {
        G.spf = spf_client_new(G.base, spf_fd, G.cfg.spf.timeout_ms, daemon_log_str);
        if (G.spf == NULL)
            msg_fatal("cannot talk to the SPF helper: out of memory");
        G.eng.spf = G.spf;
    }
    G.srv = server_new(G.base, &G.cfg, &G.eng, fds, G.cfg.listen.n, peers, G.cfg.peer_users.n);
    if (G.srv == NULL)
        msg_fatal("cannot listen: out of memory");
    log_started();
    if (ready >= 0) {
        (void)!write(ready, "R", 1);
        close(ready);
    }
    run();
    write_metrics(1);

    server_free(G.srv);
    spf_client_free(G.spf);
    engine_free(&G.eng);
    quota_client_free(G.qc);
    store_close(G.store);
    if (G.spf_pid > 0)
        waitpid(G.spf_pid, NULL, 0);
    event_base_free(G.base);
    table_free(G.table);
    free(G.table);
    stats_free(&G.stats);
    buf_free(&G.stats_text);
    config_free(&G.cfg);
    free(fds);
    free(peers);
    buf_free(&err);
    msg_info("stopped");
    return 0;
}
