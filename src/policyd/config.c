/* config: see config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fsutil.h"

void config_defaults(config *c)
{
    memset(c, 0, sizeof(*c));
    c->user = xstrdup("nobody");
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
    c->greylist.delay = 300;
    c->greylist.retry_window = 2 * 86400;
    c->greylist.lifetime = 36 * 86400;
    c->greylist.known_good = 36 * 86400;
    c->greylist.v4bits = 24;
    c->greylist.v6bits = 64;
}

static void str_list_free(str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void str_list_add(str_list *l, const char *s)
{
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(char *));
    l->items[l->n++] = xstrdup(s);
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
    str_list_free(&c->listen);
    free(c->user);
    free(c->pid_file);
    free(c->log_file);
    free(c->state_dir);
    free(c->table);
    free(c->on_error);
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
    str_list_free(&c->greylist.domains);
    cidr_list_free(&c->greylist.allow_clients);
    str_list_free(&c->greylist.allow_senders);
    str_list_free(&c->greylist.allow_recipients);
    memset(c, 0, sizeof(*c));
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
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

/* ---- YAML walking ---- */

typedef struct walker {
    yaml_document_t *doc;
    const char *file;
    buf *err;
} walker;

static int fail(walker *w, yaml_node_t *n, const char *key, const char *msg)
{
    buf_printf(w->err, "%s:%lu: %s: %s", w->file,
               n ? (unsigned long)n->start_mark.line + 1 : 0UL, key, msg);
    return -1;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_str(walker *w, yaml_node_t *n, const char *key, char **out)
{
    const char *s = scalar(n);
    if (!s)
        return fail(w, n, key, "must be a string");
    free(*out);
    *out = xstrdup(s);
    return 0;
}

static int get_long(walker *w, yaml_node_t *n, const char *key, long min, long max, long *out)
{
    const char *s = scalar(n);
    char *end;
    if (!s || !*s)
        return fail(w, n, key, "must be a number");
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno)
        return fail(w, n, key, "must be a whole number");
    if (v < min || v > max) {
        buf_printf(w->err, "%s:%lu: %s: must be between %ld and %ld", w->file,
                   (unsigned long)n->start_mark.line + 1, key, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int get_int(walker *w, yaml_node_t *n, const char *key, int min, int max, int *out)
{
    long v;
    if (get_long(w, n, key, min, max, &v))
        return -1;
    *out = (int)v;
    return 0;
}

static int get_bool(walker *w, yaml_node_t *n, const char *key, int *out)
{
    const char *s = scalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
        *out = 1;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
        *out = 0;
    else
        return fail(w, n, key, "must be true or false");
    return 0;
}

/* A sequence of strings, or one string, or an empty value. */
static int get_list(walker *w, yaml_node_t *n, const char *key, str_list *out)
{
    str_list_free(out);
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = scalar(n);
        if (*s && strcmp(s, "~") && strcmp(s, "null"))
            str_list_add(out, s);
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(w, n, key, "must be a list");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        const char *s = scalar(yaml_document_get_node(w->doc, *it));
        if (!s)
            return fail(w, n, key, "must be a list of strings");
        str_list_add(out, s);
    }
    return 0;
}

static int get_cidrs(walker *w, yaml_node_t *n, const char *key, cidr_list *out)
{
    str_list l = {0};
    if (get_list(w, n, key, &l))
        return -1;
    cidr_list_free(out);
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++)
        if (cidr_list_add(out, l.items[i]) != 0) {
            buf_printf(w->err, "%s:%lu: %s: \"%s\" is not an address or network", w->file,
                       (unsigned long)n->start_mark.line + 1, key, l.items[i]);
            rc = -1;
        }
    str_list_free(&l);
    return rc;
}

static int get_lower_list(walker *w, yaml_node_t *n, const char *key, str_list *out)
{
    if (get_list(w, n, key, out))
        return -1;
    for (size_t i = 0; i < out->n; i++)
        for (char *p = out->items[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    return 0;
}

#define FOR_PAIRS(w, map, kvar, vnode)                                                   \
    for (yaml_node_pair_t *p_ = (map)->data.mapping.pairs.start; p_ < (map)->data.mapping.pairs.top; p_++) \
        for (const char *kvar = scalar(yaml_document_get_node((w)->doc, p_->key)); kvar; kvar = NULL) \
            for (yaml_node_t *vnode = yaml_document_get_node((w)->doc, p_->value); vnode; vnode = NULL)

static int need_map(walker *w, yaml_node_t *n, const char *key)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return fail(w, n, key, "must be a mapping");
    return 0;
}

static int unknown(walker *w, yaml_node_t *n, const char *section, const char *k)
{
    buf_printf(w->err, "%s:%lu: unknown key \"%s%s%s\"", w->file,
               (unsigned long)n->start_mark.line + 1, section, *section ? "." : "", k);
    return -1;
}

static int load_limits(walker *w, yaml_node_t *m, const char *sec, send_limits *l)
{
    if (need_map(w, m, sec))
        return -1;
    FOR_PAIRS(w, m, k, v) {
        int rc;
        if (!strcmp(k, "msgs_per_hour"))
            rc = get_long(w, v, k, 0, LONG_MAX / 4, &l->msgs_per_hour);
        else if (!strcmp(k, "rcpts_per_msg"))
            rc = get_long(w, v, k, 0, LONG_MAX / 4, &l->rcpts_per_msg);
        else if (!strcmp(k, "rcpts_per_day"))
            rc = get_long(w, v, k, 0, LONG_MAX / 4, &l->rcpts_per_day);
        else
            rc = unknown(w, v, sec, k);
        if (rc)
            return -1;
    }
    return 0;
}

static int load_stores(walker *w, config *c, yaml_node_t *m)
{
    if (need_map(w, m, "quota.stores"))
        return -1;
    FOR_PAIRS(w, m, name, v) {
        str_list l = {0};
        if (get_list(w, v, name, &l))
            return -1;
        if (l.n == 0 || l.n > STORE_PAIR_MAX) {
            str_list_free(&l);
            return fail(w, v, name, "a store pair needs 1 to 4 host:port addresses");
        }
        c->quota.pairs = xrealloc(c->quota.pairs, (c->quota.npairs + 1) * sizeof(store_pair));
        store_pair *sp = &c->quota.pairs[c->quota.npairs++];
        memset(sp, 0, sizeof(*sp));
        sp->name = xstrdup(name);
        for (size_t i = 0; i < l.n; i++) {
            store_addr *a = &sp->addr[sp->n++];
            a->text = xstrdup(l.items[i]);
            if (parse_hostport(l.items[i], &a->sa, &a->salen) != 0) {
                buf_printf(w->err, "%s:%lu: quota.stores.%s: \"%s\" is not a numeric host:port",
                           w->file, (unsigned long)v->start_mark.line + 1, name, l.items[i]);
                str_list_free(&l);
                return -1;
            }
        }
        str_list_free(&l);
    }
    return 0;
}

static int load_quota(walker *w, config *c, yaml_node_t *m)
{
    if (need_map(w, m, "quota"))
        return -1;
    FOR_PAIRS(w, m, k, v) {
        int rc;
        if (!strcmp(k, "enabled")) rc = get_bool(w, v, k, &c->quota.enabled);
        else if (!strcmp(k, "default_action")) rc = get_str(w, v, k, &c->quota.default_action);
        else if (!strcmp(k, "timeout_ms")) rc = get_long(w, v, k, 10, 60000, &c->quota.timeout_ms);
        else if (!strcmp(k, "cache_ttl")) rc = get_long(w, v, k, 0, 3600, &c->quota.cache_ttl);
        else if (!strcmp(k, "cache_max")) rc = get_long(w, v, k, 0, 10000000, &c->quota.cache_max);
        else if (!strcmp(k, "max_members")) rc = get_long(w, v, k, 1, 100000, &c->quota.max_members);
        else if (!strcmp(k, "stores")) rc = load_stores(w, c, v);
        else rc = unknown(w, v, "quota", k);
        if (rc)
            return -1;
    }
    return 0;
}

static int load_ratelimit(walker *w, config *c, yaml_node_t *m)
{
    if (need_map(w, m, "ratelimit"))
        return -1;
    FOR_PAIRS(w, m, k, v) {
        int rc;
        if (!strcmp(k, "enabled")) rc = get_bool(w, v, k, &c->ratelimit.enabled);
        else if (!strcmp(k, "authenticated")) rc = load_limits(w, v, "ratelimit.authenticated", &c->ratelimit.authenticated);
        else if (!strcmp(k, "unauthenticated")) rc = load_limits(w, v, "ratelimit.unauthenticated", &c->ratelimit.unauthenticated);
        else if (!strcmp(k, "client_ipv4_prefix")) rc = get_int(w, v, k, 8, 32, &c->ratelimit.v4bits);
        else if (!strcmp(k, "client_ipv6_prefix")) rc = get_int(w, v, k, 16, 128, &c->ratelimit.v6bits);
        else rc = unknown(w, v, "ratelimit", k);
        if (rc)
            return -1;
    }
    return 0;
}

static int load_spf(walker *w, config *c, yaml_node_t *m)
{
    if (need_map(w, m, "spf"))
        return -1;
    FOR_PAIRS(w, m, k, v) {
        int rc;
        if (!strcmp(k, "enabled")) rc = get_bool(w, v, k, &c->spf.enabled);
        else if (!strcmp(k, "reject_fail")) rc = get_bool(w, v, k, &c->spf.reject_fail);
        else if (!strcmp(k, "temperror_defer")) rc = get_bool(w, v, k, &c->spf.temperror_defer);
        else if (!strcmp(k, "trusted_forwarders")) rc = get_cidrs(w, v, k, &c->spf.trusted_forwarders);
        else if (!strcmp(k, "user")) rc = get_str(w, v, k, &c->spf.user);
        else if (!strcmp(k, "timeout_ms")) rc = get_long(w, v, k, 100, 60000, &c->spf.timeout_ms);
        else if (!strcmp(k, "max_checks")) rc = get_long(w, v, k, 1, 1024, &c->spf.max_checks);
        else if (!strcmp(k, "resolv_conf")) rc = get_str(w, v, k, &c->spf.resolv_conf);
        else rc = unknown(w, v, "spf", k);
        if (rc)
            return -1;
    }
    return 0;
}

static int load_greylist(walker *w, config *c, yaml_node_t *m)
{
    if (need_map(w, m, "greylist"))
        return -1;
    FOR_PAIRS(w, m, k, v) {
        int rc;
        if (!strcmp(k, "enabled")) rc = get_bool(w, v, k, &c->greylist.enabled);
        else if (!strcmp(k, "domains")) rc = get_lower_list(w, v, k, &c->greylist.domains);
        else if (!strcmp(k, "delay")) rc = get_long(w, v, k, 0, 86400, &c->greylist.delay);
        else if (!strcmp(k, "retry_window")) rc = get_long(w, v, k, 60, 30 * 86400, &c->greylist.retry_window);
        else if (!strcmp(k, "lifetime")) rc = get_long(w, v, k, 3600, 400 * 86400L, &c->greylist.lifetime);
        else if (!strcmp(k, "known_good")) rc = get_long(w, v, k, 0, 400 * 86400L, &c->greylist.known_good);
        else if (!strcmp(k, "allow_clients")) rc = get_cidrs(w, v, k, &c->greylist.allow_clients);
        else if (!strcmp(k, "allow_senders")) rc = get_lower_list(w, v, k, &c->greylist.allow_senders);
        else if (!strcmp(k, "allow_recipients")) rc = get_lower_list(w, v, k, &c->greylist.allow_recipients);
        else if (!strcmp(k, "client_ipv4_prefix")) rc = get_int(w, v, k, 8, 32, &c->greylist.v4bits);
        else if (!strcmp(k, "client_ipv6_prefix")) rc = get_int(w, v, k, 16, 128, &c->greylist.v6bits);
        else rc = unknown(w, v, "greylist", k);
        if (rc)
            return -1;
    }
    return 0;
}

static int load_top(walker *w, config *c, yaml_node_t *root)
{
    if (need_map(w, root, "(top level)"))
        return -1;
    FOR_PAIRS(w, root, k, v) {
        int rc;
        long tmp;
        if (!strcmp(k, "listen")) rc = get_list(w, v, k, &c->listen);
        else if (!strcmp(k, "user")) rc = get_str(w, v, k, &c->user);
        else if (!strcmp(k, "pid_file")) rc = get_str(w, v, k, &c->pid_file);
        else if (!strcmp(k, "log_file")) rc = get_str(w, v, k, &c->log_file);
        else if (!strcmp(k, "state_dir")) rc = get_str(w, v, k, &c->state_dir);
        else if (!strcmp(k, "table")) rc = get_str(w, v, k, &c->table);
        else if (!strcmp(k, "table_check_interval")) rc = get_long(w, v, k, 1, 3600, &c->table_check_interval);
        else if (!strcmp(k, "max_connections")) rc = get_long(w, v, k, 1, 1000000, &c->max_connections);
        else if (!strcmp(k, "idle_timeout")) rc = get_long(w, v, k, 1, 86400, &c->idle_timeout);
        else if (!strcmp(k, "request_timeout")) rc = get_long(w, v, k, 1, 3600, &c->request_timeout);
        else if (!strcmp(k, "lmdb_map_mb")) rc = get_long(w, v, k, 1, 1048576, &c->lmdb_map_mb);
        else if (!strcmp(k, "on_error")) rc = get_str(w, v, k, &c->on_error);
        else if (!strcmp(k, "max_line")) { rc = get_long(w, v, k, 256, 65536, &tmp); c->req.max_line = (size_t)tmp; }
        else if (!strcmp(k, "max_attributes")) { rc = get_long(w, v, k, 8, 1024, &tmp); c->req.max_attrs = (size_t)tmp; }
        else if (!strcmp(k, "max_request")) { rc = get_long(w, v, k, 1024, 1048576, &tmp); c->req.max_request = (size_t)tmp; }
        else if (!strcmp(k, "quota")) rc = load_quota(w, c, v);
        else if (!strcmp(k, "ratelimit")) rc = load_ratelimit(w, c, v);
        else if (!strcmp(k, "spf")) rc = load_spf(w, c, v);
        else if (!strcmp(k, "greylist")) rc = load_greylist(w, c, v);
        else rc = unknown(w, v, "", k);
        if (rc)
            return -1;
    }
    if (c->listen.n == 0)
        return fail(w, root, "listen", "at least one host:port is required");
    for (size_t i = 0; i < c->listen.n; i++) {
        struct sockaddr_storage sa;
        socklen_t len;
        if (parse_hostport(c->listen.items[i], &sa, &len) != 0) {
            buf_printf(w->err, "%s: listen: \"%s\" is not a numeric host:port", w->file, c->listen.items[i]);
            return -1;
        }
    }
    if (c->req.max_request < c->req.max_line + 2) {
        buf_printf(w->err, "%s: max_request must be larger than max_line", w->file);
        return -1;
    }
    return 0;
}

int config_parse(config *c, const char *text, size_t len, const char *name, buf *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        buf_printf(err, "%s:%lu: %s", name, (unsigned long)parser.problem_mark.line + 1,
                   parser.problem ? parser.problem : "YAML error");
        yaml_parser_delete(&parser);
        return -1;
    }
    walker w = {&doc, name, err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root ? load_top(&w, c, root) : (buf_printf(err, "%s: empty configuration", name), -1);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int config_load(config *c, const char *path, buf *err)
{
    buf text = BUF_INIT;
    if (fs_read_file(path, 1 << 20, &text, err) != 0) {
        buf_free(&text);
        return -1;
    }
    int rc = config_parse(c, buf_cstr(&text), text.len, path, err);
    buf_free(&text);
    return rc;
}
