/* emailng-tlspolicy: the relays' outbound TLS policy table (issue 11, S2):
 * a Postfix socketmap server (socketmap_table(5)) that Postfix's
 * smtp_tls_policy_maps asks instead of mta-sts-daemon, so that DANE takes
 * precedence over MTA-STS where a domain has both (RFC 8461 2): for a
 * domain whose MX hosts all publish DNSSEC-validated TLSA records it
 * answers "OK dane", for any other key it passes mta-sts-daemon's answer
 * on unchanged, and "TEMP" when that cannot be asked (decide.h).
 *
 *   emailng-tlspolicy -s SOCKET -m MTASTS_SOCKET -u USER -p PIDFILE
 *                     [-n MAPNAME] [-w WORKERS] [-T CACHE_SECONDS] [-t]
 *
 * It drops to USER (postfix: the smtp client's own user, which may also
 * open mta-sts-daemon's socket) before it creates SOCKET (0600: only that
 * user and root, and SO_PEERCRED checks it again), writes PIDFILE, and
 * logs on stderr, one line per answer. -t checks the arguments and exits. */
#include <event2/event.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "daemon_log.h"
#include "msg.h"
#include "server.h"

static void usage(void)
{
    fprintf(stderr, "usage: emailng-tlspolicy -s SOCKET -m MTASTS_SOCKET -u USER -p PIDFILE "
                    "[-n MAPNAME] [-w WORKERS] [-T CACHE_SECONDS] [-t]\n");
    exit(2);
}

static long number(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        msg_fatal("-%s %s: expected a number from %ld to %ld", opt, s, lo, hi);
    return v;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    msg_info("signal %d: stopping", (int)sig);
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    const char *opt_socket = NULL, *opt_mtasts = NULL, *opt_user = NULL, *opt_pidfile = NULL, *opt_map = "postfix";
    long workers = 16, ttl = 60;
    int test = 0, opt;
    while ((opt = getopt(argc, argv, "s:m:u:p:n:w:T:t")) != -1) {
        switch (opt) {
        case 's': opt_socket = optarg; break;
        case 'm': opt_mtasts = optarg; break;
        case 'u': opt_user = optarg; break;
        case 'p': opt_pidfile = optarg; break;
        case 'n': opt_map = optarg; break;
        case 'w': workers = number("w", optarg, 1, 256); break;
        case 'T': ttl = number("T", optarg, 1, 3600); break;
        case 't': test = 1; break;
        default: usage();
        }
    }
    if (optind != argc || !opt_socket || !opt_mtasts || !opt_user || !opt_pidfile)
        usage();
    if (opt_socket[0] != '/' || strlen(opt_socket) > 100 || opt_mtasts[0] != '/' || strlen(opt_mtasts) > 100)
        msg_fatal("-s %s / -m %s: expected absolute paths of unix sockets (at most 100 bytes)", opt_socket,
                  opt_mtasts);
    struct passwd *pw = getpwnam(opt_user);
    if (pw == NULL)
        msg_fatal("-u %s: no such user", opt_user);
    uid_t peer = pw->pw_uid;
    if (test)
        return 0;
    (void)daemon_log_open("emailng-tlspolicy", "-");   /* stderr: emailng sends it to the log */
    buf err = BUF_INIT;
    if (daemon_drop_privileges(opt_user, &err) != 0)
        msg_fatal("%s", buf_cstr(&err));
    umask(077);
    /* a peer that goes away must not kill us with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    int fd = server_listen_unix(opt_socket, &err);
    if (fd < 0)
        msg_fatal("%s", buf_cstr(&err));
    struct event_base *base = event_base_new();
    if (base == NULL)
        msg_fatal("cannot set up libevent");
    struct server_config cfg = {
        .listen_fd = fd,
        .map_name = opt_map,
        .mtasts_socket = opt_mtasts,
        .mtasts_timeout_ms = 10000,        /* its own HTTPS fetch times out after 4 s (mta-sts-daemon.yml) */
        .workers = (int)workers,
        .max_pending = 1024,
        .max_connections = 4096,
        .cache_entries = 10000,
        .cache_ttl = ttl,
        .idle_timeout = 300,
        .peers = &peer,
        .npeers = 1,
    };
    if (server_new(base, &cfg, &err) == NULL)
        msg_fatal("%s", buf_cstr(&err));
    struct event *term = evsignal_new(base, SIGTERM, on_stop, base);
    struct event *intr = evsignal_new(base, SIGINT, on_stop, base);
    if (term == NULL || intr == NULL || event_add(term, NULL) != 0 || event_add(intr, NULL) != 0)
        msg_fatal("cannot catch SIGTERM/SIGINT");
    signal(SIGHUP, SIG_IGN);    /* its log is stderr, rotated by copytruncate */
    if (daemon_pid_file_create(opt_pidfile, &err) != 0)
        msg_fatal("%s", buf_cstr(&err));
    msg_info("listening on %s for map %s; other answers from %s; %ld workers, answers kept %ld s", opt_socket,
             opt_map, opt_mtasts, workers, ttl);
    event_base_dispatch(base);
    msg_info("stopped");
    unlink(opt_socket);
    /* the workers may be inside a DNS lookup: exit() does not wait for them */
    exit(0);
}
