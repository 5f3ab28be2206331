/* emailng-tablesync: the relays' tables between deploys (issue 12;
 * docs/architecture.md section 5). One program, two halves:
 *
 *   emailng-tablesync make --site FILE --ldap-uri URI --ca F --cert F --key F
 *                          --out FILE [--group G] [--interval-ms N] [--refresh-ms N]
 *                          [--pid-file F] [--log F]
 *       on a proxy: the tables from the directory into a file nginx serves
 *       to the relays (make.h);
 *   emailng-tablesync pull --state DIR --host NAME --ca F --cert F --key F
 *                          --source NAME=HOSTNAME@ADDRESS:PORT... [--path P]
 *                          [--interval-ms N] [--timeout-ms N] [--pid-file F] [--log F]
 *       on a relay: the tables from the proxies, checked, installed (pull.h).
 *
 * `emailng up` starts them (src/emailng/tablesync_service.c). Both stay
 * root: the maker reads the proxy's Dovecot client key (root:dovecot) and
 * writes a file for nginx's group, the puller writes the relay's tables
 * (root:postfix, root:emailng-policyd) and signals emailng-policyd. */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "daemon_log.h"
#include "make.h"
#include "msg.h"
#include "pull.h"

static void usage(void)
{
    fputs("usage: emailng-tablesync make --site FILE --ldap-uri URI --ca F --cert F --key F --out FILE\n"
          "                              [--group G] [--interval-ms N] [--refresh-ms N] [--pid-file F] [--log F]\n"
          "       emailng-tablesync pull --state DIR --host NAME --ca F --cert F --key F\n"
          "                              --source NAME=HOSTNAME@ADDRESS:PORT... [--path P] [--interval-ms N]\n"
          "                              [--timeout-ms N] [--pid-file F] [--log F]\n",
          stderr);
}

static long number(const char *opt, const char *text, long min, long max)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end || v < min || v > max) {
        fprintf(stderr, "emailng-tablesync: %s: \"%s\" is not a number from %ld to %ld\n", opt, text, min, max);
        exit(2);
    }
    return v;
}

/* NAME=HOSTNAME@ADDRESS:PORT (an IPv6 address in brackets). */
static int parse_source(char *text, struct pull_source *s)
{
    char *eq = strchr(text, '='), *at = eq ? strchr(eq, '@') : NULL, *colon = at ? strrchr(at, ':') : NULL;
    if (!eq || !at || !colon || eq == text || at == eq + 1 || colon == at + 1)
        return -1;
    *eq = *at = *colon = '\0';
    s->name = text;
    s->hostname = eq + 1;
    char *address = at + 1;
    size_t n = strlen(address);
    if (address[0] == '[' && n > 2 && address[n - 1] == ']') {
        address[n - 1] = '\0';
        address++;
    }
    s->address = address;
    s->port = (int)number("--source", colon + 1, 1, 65535);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "make") != 0 && strcmp(argv[1], "pull") != 0)) {
        usage();
        return 2;
    }
    int making = strcmp(argv[1], "make") == 0;
    struct maker_options mo = {.group = "www-data", .interval_ms = 1000, .refresh_ms = 60000};
    struct puller_options po = {.path = "/emailng/relay-tables", .interval_ms = 2000, .timeout_ms = 3000};
    const char *pid_file = NULL, *log = NULL, *ca = NULL, *cert = NULL, *key = NULL;
    static const struct option options[] = {
        {"site", required_argument, NULL, 's'},     {"ldap-uri", required_argument, NULL, 'l'},
        {"ca", required_argument, NULL, 'a'},       {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},      {"out", required_argument, NULL, 'o'},
        {"group", required_argument, NULL, 'g'},    {"interval-ms", required_argument, NULL, 'i'},
        {"refresh-ms", required_argument, NULL, 'r'}, {"pid-file", required_argument, NULL, 'p'},
        {"log", required_argument, NULL, 'L'},      {"state", required_argument, NULL, 'S'},
        {"host", required_argument, NULL, 'H'},     {"source", required_argument, NULL, 'u'},
        {"path", required_argument, NULL, 'P'},     {"timeout-ms", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    po.sources = calloc((size_t)argc, sizeof *po.sources);
    if (po.sources == NULL)
        return 1;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 's': mo.site_file = optarg; break;
        case 'l': mo.ldap_uri = optarg; break;
        case 'a': ca = optarg; break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'o': mo.out = optarg; break;
        case 'g': mo.group = optarg; break;
        case 'i': mo.interval_ms = po.interval_ms = number("--interval-ms", optarg, 100, 3600000); break;
        case 'r': mo.refresh_ms = number("--refresh-ms", optarg, 1000, 86400000); break;
        case 'p': pid_file = optarg; break;
        case 'L': log = optarg; break;
        case 'S': po.state_dir = optarg; break;
        case 'H': po.host = optarg; break;
        case 'P': po.path = optarg; break;
        case 't': po.timeout_ms = number("--timeout-ms", optarg, 100, 600000); break;
        case 'u':
            if (parse_source(optarg, &po.sources[po.n_sources]) != 0) {
                fprintf(stderr, "emailng-tablesync: --source %s: expected NAME=HOSTNAME@ADDRESS:PORT\n", optarg);
                return 2;
            }
            po.n_sources++;
            break;
        default: usage(); return 2;
        }
    }
    mo.ca = po.ca = ca;
    mo.cert = po.cert = cert;
    mo.key = po.key = key;
    int complete = ca && cert && key && optind == argc
                   && (making ? mo.site_file && mo.ldap_uri && mo.out : po.state_dir && po.host && po.n_sources);
    if (!complete) {
        usage();
        return 2;
    }
    buf err = BUF_INIT;
    if (log && daemon_log_open("emailng-tablesync", log) != 0) {
        fprintf(stderr, "emailng-tablesync: cannot open %s\n", log);
        return 1;
    }
    if (!log)
        daemon_log_open("emailng-tablesync", "-");
    signal(SIGPIPE, SIG_IGN);   /* libldap and TLS write to sockets a peer may close */
    daemon_signals_catch();
    if (daemon_forbid_core_dumps(&err) != 0 || (pid_file && daemon_pid_file_create(pid_file, &err) != 0))
        msg_fatal("%s", buf_cstr(&err));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        msg_fatal("cannot initialise libcurl");
    int rc = making ? maker_run(&mo) : puller_run(&po);
    curl_global_cleanup();
    buf_free(&err);
    free(po.sources);
    return rc;
}
