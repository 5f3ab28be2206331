/* config: see config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fsutil.h"

void config_defaults(hd_config *c)
{
    memset(c, 0, sizeof(*c));
    c->lmtp_port = 24;
    c->imap_port = 143;
    c->interval_ms = 1000;
    c->timeout_ms = 2000;
    c->fail_grace_ms = 3000;
    c->recover_grace_ms = 5000;
    c->recover_probes = 3;
    c->table = xstrdup("");
    c->passwd_file = xstrdup("");
    c->log_file = xstrdup("-");
    c->pid_file = xstrdup("");
    c->catchup_timeout_ms = 10000;
}

static void free_argv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void config_free(hd_config *c)
{
    for (size_t i = 0; i < c->npairs; i++) {
        free(c->pairs[i].name);
        free(c->pairs[i].host[0]);
        free(c->pairs[i].host[1]);
    }
    free(c->pairs);
    free(c->probe_user);
    free(c->probe_password_file);
    if (c->probe_password) {
        explicit_bzero(c->probe_password, strlen(c->probe_password));
        free(c->probe_password);
    }
    free(c->table);
    free(c->passwd_file);
    free(c->log_file);
    free(c->pid_file);
    free_argv(c->catchup_command);
    memset(c, 0, sizeof(*c));
}

int config_sockaddr(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len)
{
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

static int get_port(walker *w, yaml_node_t *n, const char *key, int *out)
{
    long v;
    if (get_long(w, n, key, 1, 65535, &v))
        return -1;
    *out = (int)v;
    return 0;
}

static int get_argv(walker *w, yaml_node_t *n, const char *key, char ***out)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return fail(w, n, key, "must be a list (program and arguments; no shell)");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0)
        return fail(w, n, key, "must name a program");
    char **v = xcalloc(count + 1, sizeof(char *));
    size_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        const char *s = scalar(yaml_document_get_node(w->doc, *it));
        if (!s || (i == 0 && s[0] != '/')) {
            free_argv(v);
            return fail(w, n, key, s ? "the program must be an absolute path"
                                     : "must be a list of strings");
        }
        v[i++] = xstrdup(s);
    }
    free_argv(*out);
    *out = v;
    return 0;
}

static int unknown(walker *w, yaml_node_t *n, const char *section, const char *k)
{
    buf_printf(w->err, "%s:%lu: unknown key \"%s%s%s\"", w->file,
               (unsigned long)n->start_mark.line + 1, section, *section ? "." : "", k);
    return -1;
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

static int valid_pair_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int load_pair(walker *w, hd_config *c, const char *name, yaml_node_t *m)
{
    buf key = BUF_INIT;
    buf_printf(&key, "pairs.%s", name);
    int rc = -1;
    if (!valid_pair_name(name)) {
        fail(w, m, buf_cstr(&key), "a pair name is 1-64 of A-Z a-z 0-9 . _ -");
        goto out;
    }
    for (size_t i = 0; i < c->npairs; i++)
        if (strcmp(c->pairs[i].name, name) == 0) {
            fail(w, m, buf_cstr(&key), "pair given twice");
            goto out;
        }
    if (need_map(w, m, buf_cstr(&key)))
        goto out;
    c->pairs = xrealloc(c->pairs, (c->npairs + 1) * sizeof(hd_pair));
    hd_pair *p = &c->pairs[c->npairs++];
    memset(p, 0, sizeof(*p));
    p->name = xstrdup(name);
    FOR_PAIRS(w, m, k, v) {
        int i;
        if (!strcmp(k, "primary"))
            i = 0;
        else if (!strcmp(k, "secondary"))
            i = 1;
        else {
            unknown(w, v, buf_cstr(&key), k);
            goto out;
        }
        if (get_str(w, v, k, &p->host[i]))
            goto out;
        struct sockaddr_storage sa;
        socklen_t len;
        if (config_sockaddr(p->host[i], 1, &sa, &len) != 0) {
            buf_printf(w->err, "%s:%lu: %s.%s: \"%s\" is not a numeric IP address", w->file,
                       (unsigned long)v->start_mark.line + 1, buf_cstr(&key), k, p->host[i]);
            goto out;
        }
    }
    if (!p->host[0] || !p->host[1]) {
        fail(w, m, buf_cstr(&key), "needs both primary and secondary");
        goto out;
    }
    if (strcmp(p->host[0], p->host[1]) == 0) {
        fail(w, m, buf_cstr(&key), "primary and secondary are the same address");
        goto out;
    }
    rc = 0;
out:
    buf_free(&key);
    return rc;
}

static int load_top(walker *w, hd_config *c, yaml_node_t *root)
{
    if (need_map(w, root, "(top level)"))
        return -1;
    FOR_PAIRS(w, root, k, v) {
        int rc;
        if (!strcmp(k, "pairs")) {
            rc = need_map(w, v, k);
            FOR_PAIRS(w, v, name, pv) {
                if (rc == 0)
                    rc = load_pair(w, c, name, pv);
            }
        }
        else if (!strcmp(k, "lmtp_port")) rc = get_port(w, v, k, &c->lmtp_port);
        else if (!strcmp(k, "imap_port")) rc = get_port(w, v, k, &c->imap_port);
        else if (!strcmp(k, "probe_user")) rc = get_str(w, v, k, &c->probe_user);
        else if (!strcmp(k, "probe_password_file")) rc = get_str(w, v, k, &c->probe_password_file);
        else if (!strcmp(k, "interval_ms")) rc = get_long(w, v, k, 100, 600000, &c->interval_ms);
        else if (!strcmp(k, "timeout_ms")) rc = get_long(w, v, k, 50, 60000, &c->timeout_ms);
        else if (!strcmp(k, "fail_grace_ms")) rc = get_long(w, v, k, 0, 3600000, &c->fail_grace_ms);
        else if (!strcmp(k, "recover_grace_ms")) rc = get_long(w, v, k, 0, 3600000, &c->recover_grace_ms);
        else if (!strcmp(k, "recover_probes")) rc = get_long(w, v, k, 1, 1000, &c->recover_probes);
        else if (!strcmp(k, "table")) rc = get_str(w, v, k, &c->table);
        else if (!strcmp(k, "passwd_file")) rc = get_str(w, v, k, &c->passwd_file);
        else if (!strcmp(k, "log_file")) rc = get_str(w, v, k, &c->log_file);
        else if (!strcmp(k, "pid_file")) rc = get_str(w, v, k, &c->pid_file);
        else if (!strcmp(k, "catchup_command")) rc = get_argv(w, v, k, &c->catchup_command);
        else if (!strcmp(k, "catchup_timeout_ms")) rc = get_long(w, v, k, 100, 600000, &c->catchup_timeout_ms);
        else rc = unknown(w, v, "", k);
        if (rc)
            return -1;
    }
    return 0;
}

static int check(hd_config *c, const char *name, buf *err)
{
    if (c->npairs == 0)
        buf_printf(err, "%s: pairs: at least one store pair is needed", name);
    else if (!c->probe_user || !*c->probe_user)
        buf_printf(err, "%s: probe_user: missing (the IMAP probe logs in as this account)", name);
    else if (strpbrk(c->probe_user, "\"\\\r\n") || strlen(c->probe_user) > 256)
        buf_printf(err, "%s: probe_user: must not contain quotes, backslashes or line breaks", name);
    else if (!c->probe_password_file || !*c->probe_password_file)
        buf_printf(err, "%s: probe_password_file: missing (the password is never given on the command line)", name);
    else if (!*c->table && !*c->passwd_file)
        buf_printf(err, "%s: table or passwd_file: at least one output file is needed", name);
    else if (c->timeout_ms >= c->interval_ms * 10)
        buf_printf(err, "%s: timeout_ms: must be under ten intervals", name);
    else
        return 0;
    return -1;
}

int config_parse(hd_config *c, const char *text, size_t len, const char *name, buf *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        buf_printf(err, "%s: cannot start the YAML parser", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        buf_printf(err, "%s:%lu: %s", name, (unsigned long)parser.problem_mark.line + 1,
                   parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        return -1;
    }
    walker w = {&doc, name, err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc;
    if (!root) {
        buf_printf(err, "%s: empty configuration", name);
        rc = -1;
    } else {
        rc = load_top(&w, c, root);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc == 0)
        rc = check(c, name, err);
    return rc;
}

int config_read_password(hd_config *c, buf *err)
{
    buf data = BUF_INIT;
    if (fs_read_file(c->probe_password_file, 4096, &data, err) != 0) {
        buf_free(&data);
        return -1;
    }
    size_t n = data.len;
    if (n > 0 && data.data[n - 1] == '\n')
        n--;
    if (n > 0 && data.data[n - 1] == '\r')
        n--;
    int rc = 0;
    if (n == 0) {
        buf_printf(err, "%s: the probe password file is empty", c->probe_password_file);
        rc = -1;
    } else if (memchr(data.data, '\n', n) || memchr(data.data, '\r', n)) {
        buf_printf(err, "%s: the probe password must be one line", c->probe_password_file);
        rc = -1;
    } else {
        free(c->probe_password);
        c->probe_password = xstrndup(data.data, n);
    }
    if (data.data)
        explicit_bzero(data.data, data.len);
    buf_free(&data);
    return rc;
}

int config_load(hd_config *c, const char *path, buf *err)
{
    buf text = BUF_INIT;
    int rc = fs_read_file(path, 1024 * 1024, &text, err);
    if (rc == 0)
        rc = config_parse(c, buf_cstr(&text), text.len, path, err);
    if (rc == 0)
        rc = config_read_password(c, err);
    buf_free(&text);
    return rc;
}
