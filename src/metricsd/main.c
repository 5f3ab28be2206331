/* emailng-metricsd: EmailNG's own figures for Prometheus, where the mail
 * daemons leave a gap (O1; docs/admin-manual.md, "Monitoring"): a proxy's
 * view of its stores (the health monitor's status file), a store's
 * replication queue and failures, certificate expiry, the free space
 * of the volumes that hold mail, queues and logs, amavisd's quarantine,
 * whether our daemons run, and the counters they keep themselves
 * (policyd, healthd, syncwatch: files they write in this format, which
 * are appended as they are; expo.h). Dovecot (its stats
 * service) and Postfix (prometheus-postfix-exporter) serve their own.
 *
 * HTTP is libevent's evhttp (no parser of ours): GET /metrics answers
 * the text format (expo.h), computed at each scrape; everything else 404.
 * It binds, reads the pair's doveadm secret (a store of a pair), then
 * drops to its own user (--user); it opens only the files named below.
 *
 * Usage: emailng-metricsd --listen ADDRESS --port N [--user USER]
 *            [--healthd-status FILE --healthd-pid-file FILE]
 *            [--certificate NAME=FILE]...
 *            [--volume NAME=FOLDER]... [--replication ADDRESS:PORT
 *            --ca FILE --secret-file FILE] [--daemon NAME=PIDFILE]...
 *            [--daemon-metrics NAME=FILE]... [--quarantine FOLDER]
 *            [--pid-file FILE] [-t]
 *   -t  check the arguments (and read the secret), then exit. */
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "daemon.h"
#include "daemon_log.h"
#include "doveadm_client.h"
#include "expo.h"
#include "fsutil.h"
#include "msg.h"
#include "password.h"
#include "process.h"
#include "replication.h"

#define SECRET_MAX 4096
#define STATUS_MAX (1024 * 1024)
#define DOVEADM_TIMEOUT_MS 2000

struct options {
    const char *listen, *user, *healthd_status, *healthd_pid_file, *pid_file;
    long port;
    struct expo_item *certs, *volumes, *daemons, *daemon_metrics;
    size_t n_certs, n_volumes, n_daemons, n_daemon_metrics;
    const char *quarantine;           /* NULL: no quarantine here */
    char *repl_address;               /* NULL: no replication figures */
    long repl_port;
    const char *ca, *secret_file;
    int check;
};

struct server {
    struct options *o;
    buf secret;
    struct event_base *base;
};

/* NAME=PATH into a growing array of items (pointers into argv). */
static int add_item(const char *arg, const char *opt, struct expo_item **items, size_t *n)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0') {
        fprintf(stderr, "emailng-metricsd: %s %s: expected NAME=PATH\n", opt, arg);
        return -1;
    }
    *items = xrealloc(*items, (*n + 1) * sizeof **items);
    (*items)[*n].name = xstrndup(arg, (size_t)(eq - arg));
    (*items)[*n].path = eq + 1;
    (*n)++;
    return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"listen", required_argument, NULL, 'l'},       {"port", required_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'u'},         {"healthd-status", required_argument, NULL, 'h'},
        {"certificate", required_argument, NULL, 'c'},  {"volume", required_argument, NULL, 'v'},
        {"replication", required_argument, NULL, 'r'},  {"ca", required_argument, NULL, 'a'},
        {"secret-file", required_argument, NULL, 's'},  {"pid-file", required_argument, NULL, 'p'},
        {"healthd-pid-file", required_argument, NULL, 'H'},
        {"daemon", required_argument, NULL, 'd'},       {"daemon-metrics", required_argument, NULL, 'm'},
        {"quarantine", required_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->user = "";
    o->healthd_status = "";
    o->healthd_pid_file = "";
    o->pid_file = "";
    int c;
    while ((c = getopt_long(argc, argv, "t", longs, NULL)) != -1) {
        switch (c) {
        case 'l': o->listen = optarg; break;
        case 'P':
            if (parse_long(optarg, 1, 65535, &o->port) != 0) {
                fprintf(stderr, "emailng-metricsd: --port %s: expected 1 to 65535\n", optarg);
                return -1;
            }
            break;
        case 'u': o->user = optarg; break;
        case 'h': o->healthd_status = optarg; break;
        case 'H': o->healthd_pid_file = optarg; break;
        case 'c': if (add_item(optarg, "--certificate", &o->certs, &o->n_certs)) return -1; break;
        case 'v': if (add_item(optarg, "--volume", &o->volumes, &o->n_volumes)) return -1; break;
        case 'd': if (add_item(optarg, "--daemon", &o->daemons, &o->n_daemons)) return -1; break;
        case 'm':
            if (add_item(optarg, "--daemon-metrics", &o->daemon_metrics, &o->n_daemon_metrics))
                return -1;
            break;
        case 'q': o->quarantine = optarg; break;
        case 'r': {
            const char *colon = strrchr(optarg, ':');
            if (colon == NULL || colon == optarg || parse_long(colon + 1, 1, 65535, &o->repl_port) != 0) {
                fprintf(stderr, "emailng-metricsd: --replication %s: expected ADDRESS:PORT\n", optarg);
                return -1;
            }
            o->repl_address = xstrndup(optarg, (size_t)(colon - optarg));
            break;
        }
        case 'a': o->ca = optarg; break;
        case 's': o->secret_file = optarg; break;
        case 'p': o->pid_file = optarg; break;
        case 't': o->check = 1; break;
        default: return -1;
        }
    }
    if (optind != argc || o->listen == NULL || o->port == 0) {
        fprintf(stderr, "usage: emailng-metricsd --listen ADDRESS --port N [--user USER] [--healthd-status FILE "
                        "--healthd-pid-file FILE] "
                        "[--certificate NAME=FILE]... [--volume NAME=FOLDER]... [--replication ADDRESS:PORT --ca FILE "
                        "--secret-file FILE] [--daemon NAME=PIDFILE]... [--daemon-metrics NAME=FILE]... "
                        "[--quarantine FOLDER] [--pid-file FILE] [-t]\n");
        return -1;
    }
    if ((*o->healthd_status != '\0') != (*o->healthd_pid_file != '\0')) {
        fprintf(stderr, "emailng-metricsd: --healthd-status and --healthd-pid-file go together\n");
        return -1;
    }
    if (o->repl_address && (o->ca == NULL || o->secret_file == NULL)) {
        fprintf(stderr, "emailng-metricsd: --replication needs --ca and --secret-file\n");
        return -1;
    }
    return 0;
}

/* The replicator's status through the store's own doveadm server (what
 * `emailng replication status` asks); -1 (logged) when it does not
 * answer. It runs in the request: a scrape waits at most the timeout. */
static int replication_query(struct server *s, struct replication_status *st)
{
    struct doveadm_target t = {s->o->repl_address, (int)s->o->repl_port, s->o->ca, buf_cstr(&s->secret),
                               DOVEADM_TIMEOUT_MS};
    static const char *const argv[] = {"replicator", "status", "*", NULL};
    struct doveadm_reply reply;
    buf err = BUF_INIT;
    int rc = doveadm_run(&t, "", argv, &reply, &err);
    if (rc == 0 && !reply.ok) {
        buf_printf(&err, "replicator status failed (%s)", reply.code ? reply.code : "");
        rc = -1;
    }
    if (rc == 0)
        rc = replication_status_parse(reply.fields, reply.n_fields, st, &err);
    if (rc != 0)
        msg_warn("replication figures: %s", buf_cstr(&err));
    doveadm_reply_free(&reply);     /* doveadm_run zeroes it first */
    buf_free(&err);
    return rc;
}

static void collect(struct server *s, buf *out)
{
    struct options *o = s->o;
    if (*o->healthd_status) {
        buf text = BUF_INIT, err = BUF_INIT;
        struct stat st;
        int ok = stat(o->healthd_status, &st) == 0 && fs_read_file(o->healthd_status, STATUS_MAX, &text, &err) == 0;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        double age = ok ? (double)(now.tv_sec - st.st_mtim.tv_sec) + (now.tv_nsec - st.st_mtim.tv_nsec) / 1e9 : 0;
        expo_healthd_status(pidfile_read(o->healthd_pid_file) != 0, ok ? buf_cstr(&text) : NULL, age, out);
        buf_free(&text);
        buf_free(&err);
    }
    if (o->repl_address) {
        struct replication_status st;
        memset(&st, 0, sizeof st);
        int ok = replication_query(s, &st) == 0;
        expo_replication(ok ? &st : NULL, out);
        if (ok)
            replication_status_free(&st);
    }
    expo_certificates(o->certs, o->n_certs, out);
    expo_volumes(o->volumes, o->n_volumes, out);
    if (o->quarantine)
        expo_quarantine(o->quarantine, out);
    expo_daemons(o->daemons, o->n_daemons, out);
    expo_daemon_metrics(o->daemon_metrics, o->n_daemon_metrics, out);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    struct server *s = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    buf text = BUF_INIT;
    collect(s, &text);
    struct evbuffer *body = evbuffer_new();
    if (body == NULL || evbuffer_add(body, text.data ? text.data : "", text.len) != 0) {
        evhttp_send_error(req, 500, "Internal Server Error");
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(req, 200, "OK", body);
    }
    if (body)
        evbuffer_free(body);
    buf_free(&text);
}

static void on_other(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_send_error(req, 404, "Not Found (try /metrics)");
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    msg_info("stopping (signal %d)", (int)sig);
    event_base_loopbreak(arg);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    daemon_log_reopen_now();
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    (void)daemon_log_open("emailng-metricsd", "-");    /* stderr: emailng sends it to the log */
    struct server s = {.o = &o, .secret = BUF_INIT};
    buf err = BUF_INIT;
    if (o.secret_file) {
        if (daemon_forbid_core_dumps(&err) != 0 || fs_read_secret(o.secret_file, SECRET_MAX, &s.secret, &err) != 0)
            msg_fatal("%s", buf_cstr(&err));
        if (!fs_exists(o.ca))
            msg_fatal("--ca: %s does not exist", o.ca);
    }
    if (o.check) {
        password_wipe(&s.secret);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    s.base = event_base_new();
    struct evhttp *http = s.base ? evhttp_new(s.base) : NULL;
    if (http == NULL)
        msg_fatal("cannot set up libevent's HTTP server");
    /* Scrapers ask a little and often; nothing here takes a body. */
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_max_headers_size(http, 16384);
    evhttp_set_max_body_size(http, 0);
    evhttp_set_timeout(http, 10);
    if (evhttp_bind_socket(http, o.listen, (ev_uint16_t)o.port) != 0)
        msg_fatal("cannot listen on %s port %ld: %s", o.listen, o.port, strerror(errno));
    if (evhttp_set_cb(http, "/metrics", on_metrics, &s) != 0)
        msg_fatal("cannot register /metrics");
    evhttp_set_gencb(http, on_other, NULL);
    if (*o.user && daemon_drop_privileges(o.user, &err) != 0)
        msg_fatal("%s", buf_cstr(&err));
    if (*o.pid_file && daemon_pid_file_create(o.pid_file, &err) != 0)
        msg_fatal("cannot write pid file: %s", buf_cstr(&err));
    struct event *stop_term = evsignal_new(s.base, SIGTERM, on_stop, s.base);
    struct event *stop_int = evsignal_new(s.base, SIGINT, on_stop, s.base);
    struct event *hup = evsignal_new(s.base, SIGHUP, on_hup, NULL);
    if (!stop_term || !stop_int || !hup || event_add(stop_term, NULL) || event_add(stop_int, NULL) || event_add(hup, NULL))
        msg_fatal("cannot catch signals");
    msg_info("serving /metrics on %s port %ld (%zu certificates, %zu volumes, %zu daemons, %zu daemons' counters%s%s%s)",
             o.listen, o.port, o.n_certs, o.n_volumes, o.n_daemons, o.n_daemon_metrics,
             *o.healthd_status ? ", store health" : "", o.repl_address ? ", replication" : "",
             o.quarantine ? ", quarantine" : "");
    event_base_dispatch(s.base);
    event_free(stop_term);
    event_free(stop_int);
    event_free(hup);
    evhttp_free(http);
    event_base_free(s.base);
    password_wipe(&s.secret);
    buf_free(&err);
    for (size_t i = 0; i < o.n_certs; i++)
        free((char *)o.certs[i].name);
    for (size_t i = 0; i < o.n_volumes; i++)
        free((char *)o.volumes[i].name);
    for (size_t i = 0; i < o.n_daemons; i++)
        free((char *)o.daemons[i].name);
    for (size_t i = 0; i < o.n_daemon_metrics; i++)
        free((char *)o.daemon_metrics[i].name);
    free(o.daemons);
    free(o.daemon_metrics);
    free(o.certs);
    free(o.volumes);
    free(o.repl_address);
    return 0;
}
