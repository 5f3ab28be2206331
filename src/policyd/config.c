/* config: see config.h. */
#include "config.h"

#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

void config_defaults(config *c)
{
    memset(c, 0, sizeof(*c));
    c->user = xstrdup("nobody");
    c->socket_group = xstrdup("");
    /* Postfix's smtpd runs as postfix; a list given in the file replaces this */
    c->peer_users.items = xcalloc(1, sizeof(char *));
    c->peer_users.items[0] = xstrdup("postfix");
    c->peer_users.n = 1;
    c->pid_file = xstrdup("/run/emailng-policyd.pid");
    c->log_file = xstrdup("-");
    c->state_dir = xstrdup("/var/lib/emailng-policyd");
    c->table = xstrdup("");
    c->table_check_interval = 5;
    c->max_connections = 20000;
    c->idle_timeout = 600;
    c->request_timeout = 10;
    c->lmdb_map_mb = 256;
    c->on_error = xstrdup("DUNNO");
    c->metrics_file = xstrdup("");
    c->metrics_interval = 5;
    c->req.max_line = REQ_DEFAULT_MAX_LINE;
    c->req.max_attrs = REQ_DEFAULT_MAX_ATTRS;
    c->req.max_request = REQ_DEFAULT_MAX_REQUEST;
    c->quota.enabled = 1;
    c->quota.default_action = xstrdup("DUNNO");
    c->quota.timeout_ms = 1000;
    c->quota.cache_ttl = 30;
    c->quota.cache_max = 100000;
    c->quota.max_members = 1000;
    c->ratelimit.enabled = 1;
    c->ratelimit.authenticated = (send_limits){100, 100, 1000};
    c->ratelimit.unauthenticated = (send_limits){1000, 100, 10000};
    c->ratelimit.v4bits = 32;
    c->ratelimit.v6bits = 64;
    c->spf.enabled = 0;
    c->spf.reject_fail = 1;
    c->spf.user = xstrdup("nobody");
    c->spf.timeout_ms = 5000;
    c->spf.max_checks = 32;
    c->spf.helpers = 2;
    c->spf.checks_per_helper = 1000;
    c->greylist.delay = 300;
    c->greylist.retry_window = 2 * 86400;
    c->greylist.lifetime = 36 * 86400;
    c->greylist.known_good = 36 * 86400;
    c->greylist.v4bits = 24;
    c->greylist.v6bits = 64;
}

int str_list_has(const str_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return 1;
    return 0;
}

void config_free(config *c)
{
    ycfg_list_free(&c->listen);
    free(c->socket_group);
    ycfg_list_free(&c->peer_users);
    free(c->user);
    free(c->pid_file);
    free(c->log_file);
    free(c->state_dir);
    free(c->table);
    free(c->on_error);
    free(c->metrics_file);
    free(c->quota.default_action);
    for (size_t i = 0; i < c->quota.npairs; i++) {
        free(c->quota.pairs[i].name);
        for (size_t j = 0; j < c->quota.pairs[i].n; j++)
            free(c->quota.pairs[i].addr[j].text);
    }
    free(c->quota.pairs);
    cidr_list_free(&c->spf.trusted_forwarders);
    free(c->spf.user);
    free(c->spf.resolv_conf);
    free(c->spf.receiver);
    ycfg_list_free(&c->greylist.domains);
    cidr_list_free(&c->greylist.allow_clients);
    ycfg_list_free(&c->greylist.allow_senders);
    ycfg_list_free(&c->greylist.allow_recipients);
    memset(c, 0, sizeof(*c));
}

const char *listen_unix_path(const char *item)
{
    return strncmp(item, "unix:", 5) == 0 ? item + 5 : NULL;
}

int parse_hostport(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
    char host[64];
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
            return -1;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host))
            return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end || errno || port < 1 || port > 65535)
        return -1;
    return netaddr_sockaddr(host, (int)port, sa, len);
}

/* ---- YAML walking (src/lib/yaml_config.h) ---- */

static int get_cidrs(ycfg *y, yaml_node_t *n, const char *key, cidr_list *out)
{
    str_list l = {0};
    if (ycfg_strings(y, n, key, YCFG_LIST_SCALAR, &l))
        return -1;
    cidr_list_free(out);
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++)
        if (cidr_list_add(out, l.items[i]) != 0)
            rc = ycfg_report(y, n, "%s: \"%s\" is not an address or network; expected e.g. 192.0.2.0/24",
                             key, l.items[i]);
    ycfg_list_free(&l);
    return rc;
}

static int get_lower_list(ycfg *y, yaml_node_t *n, const char *key, str_list *out)
{
    if (ycfg_strings(y, n, key, YCFG_LIST_SCALAR, out))
        return -1;
    for (size_t i = 0; i < out->n; i++)
        for (char *p = out->items[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    return 0;
}

static int load_limits(ycfg *y, yaml_node_t *node, const char *sec, send_limits *l)
{
    static const char *const keys[] = {"msgs_per_hour", "rcpts_per_msg", "rcpts_per_day", NULL};
    long *slots[] = {&l->msgs_per_hour, &l->rcpts_per_msg, &l->rcpts_per_day};
    ycfg_map m;
    int rc = ycfg_map_begin(y, node, sec, keys, &m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0)
        rc = ycfg_long(y, m.value, m.path, 0, LONG_MAX / 4, slots[m.index]);
    ycfg_map_end(&m);
    return rc;
}

static int add_store(ycfg *y, config *c, const ycfg_map *m)
{
    str_list l = {0};
    if (ycfg_strings(y, m->value, m->path, YCFG_LIST_SCALAR, &l))
        return -1;
    int rc = 0;
    if (l.n == 0 || l.n > STORE_PAIR_MAX) {
        rc = ycfg_report(y, m->value, "%s: a store pair needs 1 to 4 host:port addresses", m->path);
        goto out;
    }
    c->quota.pairs = xrealloc(c->quota.pairs, (c->quota.npairs + 1) * sizeof(store_pair));
    store_pair *sp = &c->quota.pairs[c->quota.npairs++];
    memset(sp, 0, sizeof(*sp));
    sp->name = xstrdup(m->key);
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        store_addr *a = &sp->addr[sp->n++];
        a->text = xstrdup(l.items[i]);
        if (parse_hostport(l.items[i], &a->sa, &a->salen) != 0)
            rc = ycfg_report(y, m->value, "%s: \"%s\" is not a numeric host:port", m->path, l.items[i]);
    }
out:
    ycfg_list_free(&l);
    return rc;
}

static int load_quota(ycfg *y, config *c, yaml_node_t *node)
{
    static const char *const keys[] = {"enabled", "default_action", "timeout_ms", "cache_ttl",
                                       "cache_max", "max_members", "stores", NULL};
    ycfg_map m, stores;
    int rc = ycfg_map_begin(y, node, "quota", keys, &m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0) {
        yaml_node_t *v = m.value;
        const char *k = m.path;
        switch (m.index) {
        case 0: rc = ycfg_bool(y, v, k, &c->quota.enabled); break;
        case 1: rc = ycfg_str(y, v, k, &c->quota.default_action); break;
        case 2: rc = ycfg_long(y, v, k, 10, 60000, &c->quota.timeout_ms); break;
        case 3: rc = ycfg_long(y, v, k, 0, 3600, &c->quota.cache_ttl); break;
        case 4: rc = ycfg_long(y, v, k, 0, 10000000, &c->quota.cache_max); break;
        case 5: rc = ycfg_long(y, v, k, 1, 100000, &c->quota.max_members); break;
        case 6:
            rc = ycfg_map_begin(y, v, "quota.stores", NULL, &stores);
            while (rc == 0 && (rc = ycfg_map_next(&stores)) > 0)
                rc = add_store(y, c, &stores);
            ycfg_map_end(&stores);
            break;
        }
    }
    ycfg_map_end(&m);
    return rc;
}

static int load_ratelimit(ycfg *y, config *c, yaml_node_t *node)
{
    static const char *const keys[] = {"enabled", "authenticated", "unauthenticated",
                                       "client_ipv4_prefix", "client_ipv6_prefix", NULL};
    ycfg_map m;
    int rc = ycfg_map_begin(y, node, "ratelimit", keys, &m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0) {
        yaml_node_t *v = m.value;
        const char *k = m.path;
        switch (m.index) {
        case 0: rc = ycfg_bool(y, v, k, &c->ratelimit.enabled); break;
        case 1: rc = load_limits(y, v, k, &c->ratelimit.authenticated); break;
        case 2: rc = load_limits(y, v, k, &c->ratelimit.unauthenticated); break;
        case 3: rc = ycfg_int(y, v, k, 8, 32, &c->ratelimit.v4bits); break;
        case 4: rc = ycfg_int(y, v, k, 16, 128, &c->ratelimit.v6bits); break;
        }
    }
    ycfg_map_end(&m);
    return rc;
}

static int load_spf(ycfg *y, config *c, yaml_node_t *node)
{
    static const char *const keys[] = {"enabled", "reject_fail", "temperror_defer", "trusted_forwarders",
                                       "user", "timeout_ms", "max_checks", "resolv_conf", "receiver",
                                       "helpers", "checks_per_helper", NULL};
    ycfg_map m;
    int rc = ycfg_map_begin(y, node, "spf", keys, &m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0) {
        yaml_node_t *v = m.value;
        const char *k = m.path;
        switch (m.index) {
        case 0: rc = ycfg_bool(y, v, k, &c->spf.enabled); break;
        case 1: rc = ycfg_bool(y, v, k, &c->spf.reject_fail); break;
        case 2: rc = ycfg_bool(y, v, k, &c->spf.temperror_defer); break;
        case 3: rc = get_cidrs(y, v, k, &c->spf.trusted_forwarders); break;
        case 4: rc = ycfg_str(y, v, k, &c->spf.user); break;
        case 5: rc = ycfg_long(y, v, k, 100, 60000, &c->spf.timeout_ms); break;
        case 6: rc = ycfg_long(y, v, k, 1, 1024, &c->spf.max_checks); break;
        case 7: rc = ycfg_str(y, v, k, &c->spf.resolv_conf); break;
        case 8: rc = ycfg_str(y, v, k, &c->spf.receiver); break;
        case 9: rc = ycfg_long(y, v, k, 1, 64, &c->spf.helpers); break;
        case 10: rc = ycfg_long(y, v, k, 1, 1000000, &c->spf.checks_per_helper); break;
        }
    }
    ycfg_map_end(&m);
    return rc;
}

static int load_greylist(ycfg *y, config *c, yaml_node_t *node)
{
    static const char *const keys[] = {"enabled", "domains", "delay", "retry_window", "lifetime",
                                       "known_good", "allow_clients", "allow_senders", "allow_recipients",
                                       "client_ipv4_prefix", "client_ipv6_prefix", NULL};
    ycfg_map m;
    int rc = ycfg_map_begin(y, node, "greylist", keys, &m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0) {
        yaml_node_t *v = m.value;
        const char *k = m.path;
        switch (m.index) {
        case 0: rc = ycfg_bool(y, v, k, &c->greylist.enabled); break;
        case 1: rc = get_lower_list(y, v, k, &c->greylist.domains); break;
        case 2: rc = ycfg_long(y, v, k, 0, 86400, &c->greylist.delay); break;
        case 3: rc = ycfg_long(y, v, k, 60, 30 * 86400, &c->greylist.retry_window); break;
        case 4: rc = ycfg_long(y, v, k, 3600, 400 * 86400L, &c->greylist.lifetime); break;
        case 5: rc = ycfg_long(y, v, k, 0, 400 * 86400L, &c->greylist.known_good); break;
        case 6: rc = get_cidrs(y, v, k, &c->greylist.allow_clients); break;
        case 7: rc = get_lower_list(y, v, k, &c->greylist.allow_senders); break;
        case 8: rc = get_lower_list(y, v, k, &c->greylist.allow_recipients); break;
        case 9: rc = ycfg_int(y, v, k, 8, 32, &c->greylist.v4bits); break;
        case 10: rc = ycfg_int(y, v, k, 16, 128, &c->greylist.v6bits); break;
        }
    }
    ycfg_map_end(&m);
    return rc;
}

static int get_size(ycfg *y, yaml_node_t *n, const char *key, long min, long max, size_t *out)
{
    long v;
    if (ycfg_long(y, n, key, min, max, &v))
        return -1;
    *out = (size_t)v;
    return 0;
}

/* After the keys: what they say together. */
static int check(ycfg *y, config *c, yaml_node_t *listen, yaml_node_t *sizes)
{
    if (c->listen.n == 0)
        return ycfg_report(y, y->root, "listen: at least one unix:/path or host:port is required");
    for (size_t i = 0; i < c->listen.n; i++) {
        struct sockaddr_storage sa;
        socklen_t len;
        const char *path = listen_unix_path(c->listen.items[i]);
        if (path) {
            if (path[0] != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return ycfg_report(y, listen, "listen: \"%s\": a unix socket needs an absolute path "
                                   "of at most %zu bytes", c->listen.items[i],
                                   sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        } else if (parse_hostport(c->listen.items[i], &sa, &len) != 0) {
            return ycfg_report(y, listen, "listen: \"%s\" is neither unix:/path nor a numeric host:port",
                               c->listen.items[i]);
        }
    }
    if (c->req.max_request < c->req.max_line + 2)
        return ycfg_report(y, sizes ? sizes : y->root, "max_request: must be larger than max_line");
    return 0;
}

static int load_top(ycfg *y, config *c)
{
    static const char *const keys[] = {
        "listen", "user", "pid_file", "log_file", "state_dir", "table", "table_check_interval",
        "max_connections", "idle_timeout", "request_timeout", "lmdb_map_mb", "on_error", "max_line",
        "max_attributes", "max_request", "quota", "ratelimit", "spf", "greylist", "socket_group",
        "peer_users", "metrics_file", "metrics_interval", NULL};
    yaml_node_t *listen = NULL, *sizes = NULL;
    ycfg_map m;
    int rc = ycfg_map_begin(y, y->root, "", keys, &m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0) {
        yaml_node_t *v = m.value;
        const char *k = m.path;
        switch (m.index) {
        case 0: rc = ycfg_strings(y, v, k, YCFG_LIST_SCALAR, &c->listen); listen = v; break;
        case 1: rc = ycfg_str(y, v, k, &c->user); break;
        case 2: rc = ycfg_str(y, v, k, &c->pid_file); break;
        case 3: rc = ycfg_str(y, v, k, &c->log_file); break;
        case 4: rc = ycfg_str(y, v, k, &c->state_dir); break;
        case 5: rc = ycfg_str(y, v, k, &c->table); break;
        case 6: rc = ycfg_long(y, v, k, 1, 3600, &c->table_check_interval); break;
        case 7: rc = ycfg_long(y, v, k, 1, 1000000, &c->max_connections); break;
        case 8: rc = ycfg_long(y, v, k, 1, 86400, &c->idle_timeout); break;
        case 9: rc = ycfg_long(y, v, k, 1, 3600, &c->request_timeout); break;
        case 10: rc = ycfg_long(y, v, k, 1, 1048576, &c->lmdb_map_mb); break;
        case 11: rc = ycfg_str(y, v, k, &c->on_error); break;
        case 12: rc = get_size(y, v, k, 256, 65536, &c->req.max_line); sizes = v; break;
        case 13: rc = get_size(y, v, k, 8, 1024, &c->req.max_attrs); break;
        case 14: rc = get_size(y, v, k, 1024, 1048576, &c->req.max_request); sizes = v; break;
        case 15: rc = load_quota(y, c, v); break;
        case 16: rc = load_ratelimit(y, c, v); break;
        case 17: rc = load_spf(y, c, v); break;
        case 18: rc = load_greylist(y, c, v); break;
        case 19: rc = ycfg_str(y, v, k, &c->socket_group); break;
        case 20: rc = ycfg_strings(y, v, k, 0, &c->peer_users); break;
        case 21: rc = ycfg_str(y, v, k, &c->metrics_file); break;
        case 22: rc = ycfg_long(y, v, k, 1, 3600, &c->metrics_interval); break;
        }
    }
    ycfg_map_end(&m);
    return rc ? -1 : check(y, c, listen, sizes);
}

static int load(ycfg *y, config *c, int rc)
{
    if (rc == 0)
        rc = y->root ? load_top(y, c)
                     : ycfg_report(y, NULL, "the configuration is empty; expected a mapping of keys");
    ycfg_free(y);
    return rc;
}

int config_parse(config *c, const char *text, size_t len, const char *name, buf *err)
{
    ycfg y;
    return load(&y, c, ycfg_parse(&y, text, len, name, 0, err));
}

int config_load(config *c, const char *path, buf *err)
{
    ycfg y;
    return load(&y, c, ycfg_load(&y, path, 1 << 20, 0, err));
}
