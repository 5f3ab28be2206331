/* pull: a relay's half of emailng-tablesync. Every interval it asks each
 * proxy (HTTPS with libcurl: the site CA's server certificate of the
 * proxy checked, the relay's client certificate CN=tables presented) for
 * the bundle, with the ETag it got last (If-None-Match: 304 when
 * nothing changed). A new bundle is judged (check.h); one to install is
 * installed table by table, each atomically and only if it differs
 * (postmap for Postfix's, SIGHUP for emailng-policyd). When no proxy
 * answers, or what they serve does not parse, the relay keeps the tables
 * it has. The installed bundle's CSN and the time of the last
 * confirmation are kept in STATE/data/HOST/tablesync/ (`emailng status`
 * warns when that is old). */
#ifndef TABLESYNC_PULL_H
#define TABLESYNC_PULL_H

#include <stddef.h>

struct pull_source {
    const char *name;           /* the proxy's host name (logs) */
    const char *hostname;       /* its certificate's name (SNI, checked) */
    const char *address;        /* where to connect */
    int port;
};

struct puller_options {
    const char *state_dir, *host;
    const char *ca, *cert, *key;
    const char *path;           /* the URL path of the bundle */
    struct pull_source *sources;
    size_t n_sources;
    long interval_ms;
    long timeout_ms;
};

/* Runs until SIGTERM/SIGINT; 0 then, 1 if it cannot start. */
int puller_run(const struct puller_options *o);

#endif
