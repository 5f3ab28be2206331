/* config: see config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "netaddr.h"
#include "yaml_config.h"

void config_defaults(hd_config *c)
{
    memset(c, 0, sizeof(*c));
    c->lmtp_port = 24;
    c->imap_port = 143;
    c->interval_ms = 1000;
    c->timeout_ms = 2000;
    c->connect_timeout_ms = -1;         /* not given: timeout_ms */
    c->fail_grace_ms = 3000;
    c->recover_grace_ms = 5000;
    c->recover_probes = 3;
    c->fast_fail = 1;
    c->refused_confirm_ms = 200;
    c->busy_grace_ms = 300000;
    c->probe_patience_ms = 60000;
    c->table = xstrdup("");
    c->passwd_file = xstrdup("");
    c->log_file = xstrdup("-");
    c->pid_file = xstrdup("");
    c->catchup_timeout_ms = 10000;
    c->drain_file = xstrdup("");
    c->status_file = xstrdup("");
    c->metrics_file = xstrdup("");
    c->user = xstrdup("");
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
    free(c->catchup_secret_file);
    if (c->catchup_secret) {
        explicit_bzero(c->catchup_secret, strlen(c->catchup_secret));
        free(c->catchup_secret);
    }
    if (c->probe_password) {
        explicit_bzero(c->probe_password, strlen(c->probe_password));
        free(c->probe_password);
    }
    free(c->table);
    free(c->passwd_file);
    free(c->log_file);
    free(c->pid_file);
    free_argv(c->catchup_command);
    free(c->drain_file);
    free(c->status_file);
    free(c->metrics_file);
    free(c->user);
    memset(c, 0, sizeof(*c));
}

int config_sockaddr(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len)
{
    return netaddr_sockaddr(host, port, sa, len);
}

/* ---- YAML walking (src/lib/yaml_config.h) ---- */

/* A program and its arguments, no shell: an absolute path first. */
static int get_argv(ycfg *y, yaml_node_t *n, const char *key, char ***out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return ycfg_report(y, n, "%s: expected a list (program and arguments; no shell), found %s", key,
                           ycfg_kind(n));
    ycfg_list l = {0};
    if (ycfg_strings(y, n, key, 0, &l))
        return -1;
    int rc = 0;
    if (l.n == 0)
        rc = ycfg_report(y, n, "%s: the list is empty; it must name a program", key);
    else if (l.items[0][0] != '/')
        rc = ycfg_report(y, n, "%s: \"%s\" is not an absolute path; the program must be an absolute path", key,
                         l.items[0]);
    if (rc) {
        ycfg_list_free(&l);
        return -1;
    }
    free_argv(*out);
    *out = l.items;
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

/* pairs.NAME: {primary: IP, secondary: IP} */
static int load_pair(ycfg *y, hd_config *c, const ycfg_map *pm)
{
    static const char *const keys[] = {"primary", "secondary", NULL};
    const char *name = pm->key, *path = pm->path;
    if (!valid_pair_name(name))
        return ycfg_report(y, pm->key_node, "%s: a pair name is 1-64 of A-Z a-z 0-9 . _ -", path);
    /* A pair named twice is a key given twice: ycfg_parse refuses it. */
    ycfg_map m;
    int rc = ycfg_map_begin(y, pm->value, path, keys, &m);
    if (rc == 0) {
        c->pairs = xrealloc(c->pairs, (c->npairs + 1) * sizeof(hd_pair));
        hd_pair *p = &c->pairs[c->npairs++];
        memset(p, 0, sizeof(*p));
        p->name = xstrdup(name);
        while (rc == 0 && (rc = ycfg_map_next(&m)) > 0) {
            char **host = &p->host[m.index];
            struct sockaddr_storage sa;
            socklen_t len;
            rc = ycfg_str(y, m.value, m.path, host);
            if (rc == 0 && config_sockaddr(*host, 1, &sa, &len) != 0)
                rc = ycfg_report(y, m.value, "%s: \"%s\" is not a numeric IP address", m.path, *host);
        }
        if (rc == 0 && (!p->host[0] || !p->host[1]))
            rc = ycfg_report(y, pm->value, "%s: needs both primary and secondary", path);
        else if (rc == 0 && strcmp(p->host[0], p->host[1]) == 0)
            rc = ycfg_report(y, pm->value, "%s: primary and secondary are the same address", path);
    }
    ycfg_map_end(&m);
    return rc;
}

/* After the keys: what they say together. */
static int check(ycfg *y, hd_config *c)
{
    const yaml_node_t *r = y->root;
    if (c->npairs == 0)
        return ycfg_report(y, r, "pairs: at least one store pair is needed");
    if (!c->probe_user || !*c->probe_user)
        return ycfg_report(y, r, "probe_user: missing (the IMAP probe logs in as this account)");
    if (strpbrk(c->probe_user, "\"\\\r\n") || strlen(c->probe_user) > 256)
        return ycfg_report(y, r, "probe_user: must not contain quotes, backslashes or line breaks");
    if (!c->probe_password_file || !*c->probe_password_file)
        return ycfg_report(y, r, "probe_password_file: missing "
                                 "(the password is never given on the command line)");
    if (!*c->table && !*c->passwd_file)
        return ycfg_report(y, r, "table or passwd_file: at least one output file is needed");
    if (c->timeout_ms >= c->interval_ms * 10)
        return ycfg_report(y, r, "timeout_ms: must be under ten intervals");
    if (c->busy_grace_ms < c->fail_grace_ms)
        return ycfg_report(y, r, "busy_grace_ms: must not be under fail_grace_ms (a busy store answers; "
                                 "a failed one does not)");
    if (c->probe_patience_ms && c->probe_patience_ms < c->timeout_ms)
        return ycfg_report(y, r, "probe_patience_ms: 0 (off) or at least timeout_ms (it extends a round's deadline)");
    if (c->connect_timeout_ms < 0)
        c->connect_timeout_ms = c->timeout_ms;
    if (c->connect_timeout_ms > c->timeout_ms)
        return ycfg_report(y, r, "connect_timeout_ms: must not be over timeout_ms (the round's deadline)");
    return 0;
}

static int load_top(ycfg *y, hd_config *c)
{
    static const char *const keys[] = {
        "pairs", "lmtp_port", "imap_port", "probe_user", "probe_password_file", "interval_ms",
        "timeout_ms", "fail_grace_ms", "recover_grace_ms", "recover_probes", "table", "passwd_file",
        "log_file", "pid_file", "catchup_command", "catchup_timeout_ms", "drain_file", "status_file", "user",
        "catchup_secret_file", "fast_fail", "refused_confirm_ms", "connect_timeout_ms", "metrics_file", "busy_grace_ms",
        "probe_patience_ms", NULL};
    ycfg_map m, pairs;
    int rc = ycfg_map_begin(y, y->root, "", keys, &m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0) {
        yaml_node_t *v = m.value;
        const char *k = m.path;
        switch (m.index) {
        case 0:
            rc = ycfg_map_begin(y, v, k, NULL, &pairs);
            while (rc == 0 && (rc = ycfg_map_next(&pairs)) > 0)
                rc = load_pair(y, c, &pairs);
            ycfg_map_end(&pairs);
            break;
        case 1: rc = ycfg_port(y, v, k, &c->lmtp_port); break;
        case 2: rc = ycfg_port(y, v, k, &c->imap_port); break;
        case 3: rc = ycfg_str(y, v, k, &c->probe_user); break;
        case 4: rc = ycfg_str(y, v, k, &c->probe_password_file); break;
        case 5: rc = ycfg_long(y, v, k, 100, 600000, &c->interval_ms); break;
        case 6: rc = ycfg_long(y, v, k, 50, 60000, &c->timeout_ms); break;
        case 7: rc = ycfg_long(y, v, k, 0, 3600000, &c->fail_grace_ms); break;
        case 8: rc = ycfg_long(y, v, k, 0, 3600000, &c->recover_grace_ms); break;
        case 9: rc = ycfg_long(y, v, k, 1, 1000, &c->recover_probes); break;
        case 10: rc = ycfg_str(y, v, k, &c->table); break;
        case 11: rc = ycfg_str(y, v, k, &c->passwd_file); break;
        case 12: rc = ycfg_str(y, v, k, &c->log_file); break;
        case 13: rc = ycfg_str(y, v, k, &c->pid_file); break;
        case 14: rc = get_argv(y, v, k, &c->catchup_command); break;
        case 15: rc = ycfg_long(y, v, k, 100, 600000, &c->catchup_timeout_ms); break;
        case 16: rc = ycfg_str(y, v, k, &c->drain_file); break;
        case 17: rc = ycfg_str(y, v, k, &c->status_file); break;
        case 18: rc = ycfg_str(y, v, k, &c->user); break;
        case 19: rc = ycfg_str(y, v, k, &c->catchup_secret_file); break;
        case 20: rc = ycfg_bool(y, v, k, &c->fast_fail); break;
        case 21: rc = ycfg_long(y, v, k, 0, 60000, &c->refused_confirm_ms); break;
        case 22: rc = ycfg_long(y, v, k, 50, 60000, &c->connect_timeout_ms); break;
        case 23: rc = ycfg_str(y, v, k, &c->metrics_file); break;
        case 24: rc = ycfg_long(y, v, k, 0, 3600000, &c->busy_grace_ms); break;
        case 25: rc = ycfg_long(y, v, k, 0, 3600000, &c->probe_patience_ms); break;
        }
    }
    ycfg_map_end(&m);
    return rc ? -1 : check(y, c);
}

static int load(ycfg *y, hd_config *c, int rc)
{
    if (rc == 0)
        rc = y->root ? load_top(y, c)
                     : ycfg_report(y, NULL, "the configuration is empty; expected a mapping of keys");
    ycfg_free(y);
    return rc;
}

int config_parse(hd_config *c, const char *text, size_t len, const char *name, buf *err)
{
    ycfg y;
    return load(&y, c, ycfg_parse(&y, text, len, name, 0, err));
}

/* One line of a secret file (fs_read_secret: its line end dropped, wiped
 * on error); the old value is wiped when replaced. 0 or -1. */
static int read_secret_line(const char *path, const char *what, char **out, buf *err)
{
    buf data = BUF_INIT, e = BUF_INIT;
    int rc = fs_read_secret(path, 4096, &data, &e);
    if (rc != 0) {
        buf_printf(err, "the %s: %s", what, buf_cstr(&e));
    } else {
        if (*out) {
            explicit_bzero(*out, strlen(*out));
            free(*out);
        }
        *out = xstrndup(data.data, data.len);
    }
    if (data.data)
        explicit_bzero(data.data, data.cap);
    buf_free(&data);
    buf_free(&e);
    return rc;
}

int config_read_password(hd_config *c, buf *err)
{
    int rc = read_secret_line(c->probe_password_file, "probe password", &c->probe_password, err);
    if (rc == 0 && c->catchup_secret_file && *c->catchup_secret_file)
        rc = read_secret_line(c->catchup_secret_file, "catch-up secret", &c->catchup_secret, err);
    return rc;
}

int config_load(hd_config *c, const char *path, buf *err)
{
    ycfg y;
    int rc = load(&y, c, ycfg_load(&y, path, 1024 * 1024, 0, err));
    if (rc == 0)
        rc = config_read_password(c, err);
    return rc;
}
