/* config: emailng-policyd's configuration file (YAML, read with libyaml;
 * rendered by `emailng` from the site file). Every key is documented in
 * docs/policyd.md. Unknown keys and wrong types are errors that name the
 * key, so a typo never silently disables a policy. */
#ifndef POLICYD_CONFIG_H
#define POLICYD_CONFIG_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "buf.h"
#include "cidr.h"
#include "request.h"
#include "yaml_config.h"

#define STORE_PAIR_MAX 4

/* 0 = no limit */
typedef struct send_limits {
    long msgs_per_hour;
    long rcpts_per_msg;
    long rcpts_per_day;
} send_limits;

typedef struct store_addr {
    char *text;                         /* "127.0.0.1:12340" */
    struct sockaddr_storage sa;
    socklen_t salen;
} store_addr;

typedef struct store_pair {
    char *name;
    size_t n;
    store_addr addr[STORE_PAIR_MAX];
} store_pair;

typedef ycfg_list str_list;

typedef struct config {
    str_list listen;                    /* "unix:/run/x/policy", "127.0.0.1:10040" ... */
    char *socket_group;                 /* group of unix sockets ("": the user's) */
    str_list peer_users;                /* who may use a unix socket (and root) */
    char *user;                         /* drop to this user after binding */
    char *pid_file;
    char *log_file;                     /* "-" = stderr */
    char *state_dir;                    /* LMDB environment */
    char *table;                        /* exported table (may be missing) */
    long table_check_interval;          /* seconds */
    long max_connections;
    long idle_timeout;                  /* seconds between requests */
    long request_timeout;               /* seconds to finish a started request */
    long lmdb_map_mb;
    char *on_error;                     /* answer to a malformed request */
    char *metrics_file;                 /* Prometheus text for metricsd ("": none; stats.h) */
    long metrics_interval;              /* seconds between rewrites of it */
    request_limits req;

    struct {
        int enabled;
        char *default_action;           /* when no store answers */
        long timeout_ms;
        long cache_ttl;
        long cache_max;
        long max_members;
        store_pair *pairs;
        size_t npairs;
    } quota;

    struct {
        int enabled;
        send_limits authenticated;
        send_limits unauthenticated;
        int v4bits, v6bits;             /* client network for unauthenticated */
    } ratelimit;

    struct {
        int enabled;
        int reject_fail;
        int temperror_defer;
        cidr_list trusted_forwarders;
        char *user;
        long timeout_ms;
        long max_checks;                /* bound on checks running at once */
        long helpers;                   /* long-lived helper processes (pool) */
        long checks_per_helper;         /* a helper is replaced after this many */
        char *resolv_conf;              /* optional; bind-mounted for the helper */
        char *receiver;                 /* name in Received-SPF comments; NULL: gethostname() */
    } spf;

    struct {
        int enabled;                    /* for every domain */
        str_list domains;               /* or only for these recipient domains */
        long delay;
        long retry_window;
        long lifetime;
        long known_good;                /* seconds a client that retried is exempt */
        cidr_list allow_clients;
        str_list allow_senders;         /* addresses or domains */
        str_list allow_recipients;
        int v4bits, v6bits;
    } greylist;
} config;

void config_defaults(config *c);
/* Reads and checks a file; on error err names file and key. */
int config_load(config *c, const char *path, buf *err);
int config_parse(config *c, const char *text, size_t len, const char *name, buf *err);
void config_free(config *c);
int str_list_has(const str_list *l, const char *s);
/* A listen item "unix:/absolute/path": the path, else NULL. */
const char *listen_unix_path(const char *item);
/* "host:port" or "[v6]:port", numeric only. */
int parse_hostport(const char *s, struct sockaddr_storage *sa, socklen_t *len);

#endif
