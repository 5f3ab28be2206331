/* emailng-autodiscover: the answer to Outlook's autodiscover POST (issue
 * 13, C4). nginx hands it each POST /autodiscover/autodiscover.xml over
 * FastCGI (Debian's libfcgi: no HTTP of our own) on a unix socket only
 * root and nginx's workers (group www-data) may open. It reads the body
 * (at most AUTODISCOVER_BODY_MAX bytes) and answers:
 *   - a well-formed POX request for an address of one of the site's
 *     domains (request.h): 200 and the settings document `emailng`
 *     rendered from the site (--settings, read once at start: the same
 *     for every address, no LoginName, nothing of the request in it);
 *   - anything else (not XML, a DTD or entities, another domain, no or a
 *     bad address, another response schema, too large, not a POST): a
 *     4xx with a fixed POX error body.
 * The request is never echoed: no answer holds a byte of it. One log line
 * per request (verdict, status, the address if it was one, size, client).
 * Root opens the log and the socket, then the process drops to --user
 * (no secrets, no files but its pid file and socket folder) and serves
 * one request at a time, each within IO_TIMEOUT_SECONDS (SIGALRM ends a
 * read or write that hangs).
 *
 * Usage: emailng-autodiscover --socket PATH --group GROUP --user USER
 *            --settings FILE --domain DOMAIN [--domain DOMAIN ...]
 *            [--log FILE] [--pid-file FILE] [-t]
 *   -t  check the arguments, the user, the group and the settings file,
 *       then exit. */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "daemon.h"
#include "daemon_log.h"
#include "fsutil.h"
#include "process.h"
#include "request.h"

#define IO_TIMEOUT_SECONDS 10
#define SETTINGS_MAX (64 * 1024)
#define BACKLOG 64

struct options {
    const char *socket, *group, *user, *settings, *log, *pid_file;
    char **domains;                 /* lower case */
    size_t n_domains;
    int check;
};

static void usage_exit(void)
{
    fprintf(stderr, "usage: emailng-autodiscover --socket PATH --group GROUP --user USER --settings FILE "
                    "--domain DOMAIN [--domain DOMAIN ...] [--log FILE] [--pid-file FILE] [-t]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},   {"group", required_argument, NULL, 'g'},
        {"user", required_argument, NULL, 'u'},     {"settings", required_argument, NULL, 'S'},
        {"domain", required_argument, NULL, 'd'},   {"log", required_argument, NULL, 'l'},
        {"pid-file", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->log = "-";
    o->pid_file = "";
    o->domains = xcalloc((size_t)argc + 1, sizeof *o->domains);
    int c;
    while ((c = getopt_long(argc, argv, "t", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o->socket = optarg; break;
        case 'g': o->group = optarg; break;
        case 'u': o->user = optarg; break;
        case 'S': o->settings = optarg; break;
        case 'l': o->log = optarg; break;
        case 'p': o->pid_file = optarg; break;
        case 't': o->check = 1; break;
        case 'd': {
            buf domain = BUF_INIT, err = BUF_INIT;
            if (domain_normalize(optarg, &domain, &err) != 0) {
                fprintf(stderr, "emailng-autodiscover: --domain: %s\n", buf_cstr(&err));
                exit(2);
            }
            o->domains[o->n_domains++] = buf_steal(&domain);
            buf_free(&err);
            break;
        }
        default: usage_exit();
        }
    }
    if (optind != argc || !o->socket || !o->group || !o->user || !o->settings || o->n_domains == 0)
        usage_exit();
}

/* ---- one request ------------------------------------------------------------ */

static void log_decision(FCGX_Request *req, enum autodiscover_verdict v, buf *address, long bytes)
{
    const char *client = FCGX_GetParam("REMOTE_ADDR", req->envp);
    buf line = BUF_INIT;
    char size[32];
    snprintf(size, sizeof size, "%ld", bytes);
    daemon_log_begin(&line);
    daemon_log_field(&line, "verdict", autodiscover_verdict_name(v));
    char status[8];
    snprintf(status, sizeof status, "%d", autodiscover_verdict_status(v));
    daemon_log_field(&line, "status", status);
    if (address->len)
        daemon_log_field(&line, "address", buf_cstr(address));
    daemon_log_field(&line, "bytes", size);
    daemon_log_field(&line, "client", client ? client : "");
    daemon_log_end(&line);
}

/* Reads the body into body (room for AUTODISCOVER_BODY_MAX + 1 bytes):
 * its length, AUTODISCOVER_BODY_MAX + 1 if there is more, -1 if the
 * stream broke (a timeout). */
static long read_body(FCGX_Request *req, char *body)
{
    int got = FCGX_GetStr(body, AUTODISCOVER_BODY_MAX + 1, req->in);
    if (got < 0 || FCGX_GetError(req->in) != 0)
        return -1;
    return got;
}

static void serve(FCGX_Request *req, const struct options *o, const buf *settings, char *body)
{
    buf address = BUF_INIT;
    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    enum autodiscover_verdict v = AUTODISCOVER_BAD_METHOD;
    long bytes = 0;
    if (method && strcmp(method, "POST") == 0) {
        bytes = read_body(req, body);
        if (bytes < 0) {
            daemon_log("request abandoned: the body could not be read within %d seconds", IO_TIMEOUT_SECONDS);
            buf_free(&address);
            return;
        }
        v = autodiscover_request_check(body, (size_t)bytes, (const char *const *)o->domains, o->n_domains,
                                       &address);
    }
    int status = autodiscover_verdict_status(v);
    /* nginx reads the header "Status:" of a FastCGI answer as the HTTP status. */
    FCGX_FPrintF(req->out, "Status: %d\r\nContent-Type: application/xml; charset=utf-8\r\n"
                           "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n", status);
    if (v == AUTODISCOVER_SETTINGS)
        FCGX_PutStr(settings->data, (int)settings->len, req->out);
    else
        FCGX_PutS(autodiscover_error_body(v), req->out);
    log_decision(req, v, &address, bytes);
    buf_free(&address);
}

/* ---- the daemon ---------------------------------------------------------------- */

static void on_alarm(int sig)
{
    (void)sig;          /* only interrupts a read or write that hangs */
}

static int setup_alarm(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);       /* no SA_RESTART: the hanging call returns EINTR */
    return sigaction(SIGALRM, &sa, NULL);
}

/* The settings document `emailng` rendered: read once, as root. */
static int read_settings(const struct options *o, buf *settings)
{
    buf err = BUF_INIT;
    int rc = fs_read_file(o->settings, SETTINGS_MAX, settings, &err);
    if (rc != 0)
        fprintf(stderr, "emailng-autodiscover: %s\n", buf_cstr(&err));
    else if (settings->len == 0 || strstr(buf_cstr(settings), "<Autodiscover") == NULL) {
        fprintf(stderr, "emailng-autodiscover: %s is not an autodiscover answer\n", o->settings);
        rc = -1;
    }
    buf_free(&err);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    buf settings = BUF_INIT, err = BUF_INIT;
    struct group *gr = getgrnam(o.group);
    struct passwd *pw = getpwnam(o.user);
    if (gr == NULL || pw == NULL) {
        fprintf(stderr, "emailng-autodiscover: no %s %s; run scripts/install-deps.sh\n", gr ? "user" : "group",
                gr ? o.user : o.group);
        return 1;
    }
    gid_t gid = gr->gr_gid;
    uid_t uid = pw->pw_uid;
    gid_t user_gid = pw->pw_gid;
    if (read_settings(&o, &settings) != 0)
        return 1;
    if (o.check)
        return 0;

    if (daemon_log_open("emailng-autodiscover", o.log) != 0) {
        fprintf(stderr, "emailng-autodiscover: cannot open %s: %s\n", o.log, strerror(errno));
        return 1;
    }
    /* SIGHUP reopens the log after the drop: the file is the user's. */
    if (getuid() == 0 && strcmp(o.log, "-") != 0 && fchown(daemon_log_fd(), uid, user_gid) != 0) {
        daemon_log("fatal: cannot hand the log to %s: %s", o.user, strerror(errno));
        return 1;
    }
    /* Bound as root with the group of nginx's workers, 0660; non-blocking,
     * so that an accept after poll never waits. */
    int listener = unix_listen(o.socket, 0660, getuid() == 0 ? gid : (gid_t)-1, BACKLOG, &err);
    if (listener < 0) {
        daemon_log("fatal: %s", buf_cstr(&err));
        return 1;
    }
    if (daemon_drop_privileges(o.user, &err) != 0) {
        daemon_log("fatal: %s", buf_cstr(&err));
        return 1;
    }
    daemon_signals_catch();
    if (setup_alarm() != 0) {
        daemon_log("fatal: cannot catch SIGALRM: %s", strerror(errno));
        return 1;
    }
    if (*o.pid_file && daemon_pid_file_create(o.pid_file, &err) != 0) {
        daemon_log("fatal: %s", buf_cstr(&err));
        return 1;
    }
    FCGX_Request req;
    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, listener, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        daemon_log("fatal: cannot set up libfcgi");
        return 1;
    }
    char *body = xmalloc(AUTODISCOVER_BODY_MAX + 1);
    daemon_log("listening on %s (group %s), %zu domain(s), at most %d bytes a request", o.socket, o.group,
               o.n_domains, AUTODISCOVER_BODY_MAX);
    while (!daemon_signal_stop()) {
        if (daemon_signal_hup())
            daemon_log_reopen_now();
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        alarm(IO_TIMEOUT_SECONDS);
        /* A connection gone before it was taken: EAGAIN, back to poll. */
        if (FCGX_Accept_r(&req) == 0) {
            serve(&req, &o, &settings, body);
            FCGX_Finish_r(&req);
        }
        alarm(0);
    }
    FCGX_Free(&req, 1);
    close(listener);
    unlink(o.socket);
    daemon_log("stopped");
    free(body);
    buf_free(&settings);
    buf_free(&err);
    for (size_t i = 0; i < o.n_domains; i++)
        free(o.domains[i]);
    free(o.domains);
    return 0;
}
