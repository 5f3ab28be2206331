/* table: see table.h. */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "fsutil.h"

static void free_list(void *p)
{
    str_list *l = p;
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    free(l);
}

static void free_table_list(void *p)
{
    table_list *l = p;
    if (!l)
        return;
    free(l->policy);
    for (size_t i = 0; i < l->owners.n; i++)
        free(l->owners.items[i]);
    free(l->owners.items);
    free(l);
}

/* The posting policies a list may have (listpolicy.c acts on them). */
static const char *const list_policies[] = {"open", "internal", "announce", NULL};

static int is_list_policy(const char *s)
{
    for (const char *const *p = list_policies; *p; p++)
        if (!strcmp(*p, s))
            return 1;
    return 0;
}

void table_init(table *t)
{
    strmap_init(&t->mailboxes, free);
    strmap_init(&t->alternates, free);
    strmap_init(&t->aliases, free_list);
    strmap_init(&t->limits, free);
    strmap_init(&t->lists, free_table_list);
    t->lines = 0;
}

void table_free(table *t)
{
    strmap_free(&t->mailboxes);
    strmap_free(&t->alternates);
    strmap_free(&t->aliases);
    strmap_free(&t->limits);
    strmap_free(&t->lists);
}

void address_key(const char *in, int strip_ext, buf *out)
{
    buf_reset(out);
    const char *at = strrchr(in, '@');
    const char *plus = strip_ext ? strchr(in, '+') : NULL;
    for (const char *p = in; *p; p++) {
        if (plus && at && p >= plus && p < at)
            continue;
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        buf_append_char(out, c);
    }
}

static int check_addr(const char *field, const char *name, size_t line, buf *norm, buf *err)
{
    buf why = BUF_INIT;
    buf_reset(norm);
    if (address_normalize(field, NULL, norm, &why) != 0 || !strchr(field, '@')) {
        buf_printf(err, "%s:%zu: %s", name, line, why.len ? buf_cstr(&why) : "an address needs a domain");
        buf_free(&why);
        return -1;
    }
    buf_free(&why);
    return 0;
}

static int check_pair(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return -1;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return -1;
    return 0;
}

#define MAX_FIELDS 4096

static int parse_line(table *t, char *s, const char *name, size_t line, int *seen_header, buf *err)
{
    char *f[MAX_FIELDS];
    size_t n = 0;
    for (char *p = s; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == MAX_FIELDS) {
            buf_printf(err, "%s:%zu: more than %d fields; split the alias over several lines", name, line, MAX_FIELDS);
            return -1;
        }
        f[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    if (n == 0 || f[0][0] == '#')
        return 0;
    if (!*seen_header) {
        if (n != 2 || strcmp(f[0], "emailng-policyd-table") != 0 || strcmp(f[1], "1") != 0) {
            buf_printf(err, "%s:%zu: expected the header \"emailng-policyd-table 1\"", name, line);
            return -1;
        }
        *seen_header = 1;
        return 0;
    }
    buf a = BUF_INIT, b = BUF_INIT;
    int rc = -1;
    if (!strcmp(f[0], "mailbox")) {
        if (n != 3) {
            buf_printf(err, "%s:%zu: mailbox needs ADDRESS PAIR", name, line);
        } else if (check_addr(f[1], name, line, &a, err) == 0) {
            if (check_pair(f[2]) != 0)
                buf_printf(err, "%s:%zu: bad store pair name", name, line);
            else if (strmap_get(&t->mailboxes, a.data) || strmap_get(&t->alternates, a.data) || strmap_get(&t->aliases, a.data))
                buf_printf(err, "%s:%zu: %s is listed twice", name, line, a.data);
            else {
                strmap_put(&t->mailboxes, a.data, xstrdup(f[2]));
                rc = 0;
            }
        }
    } else if (!strcmp(f[0], "alternate")) {
        if (n != 3) {
            buf_printf(err, "%s:%zu: alternate needs ADDRESS MAILBOX", name, line);
        } else if (check_addr(f[1], name, line, &a, err) == 0 && check_addr(f[2], name, line, &b, err) == 0) {
            if (strmap_get(&t->mailboxes, a.data) || strmap_get(&t->alternates, a.data) || strmap_get(&t->aliases, a.data))
                buf_printf(err, "%s:%zu: %s is listed twice", name, line, a.data);
            else {
                strmap_put(&t->alternates, a.data, xstrdup(b.data));
                rc = 0;
            }
        }
    } else if (!strcmp(f[0], "alias")) {
        if (n < 3) {
            buf_printf(err, "%s:%zu: alias needs ADDRESS MEMBER...", name, line);
        } else if (check_addr(f[1], name, line, &a, err) == 0) {
            if (strmap_get(&t->mailboxes, a.data) || strmap_get(&t->alternates, a.data)) {
                buf_printf(err, "%s:%zu: %s is listed twice", name, line, a.data);
            } else {
                str_list *l = strmap_get(&t->aliases, a.data);
                if (!l) {
                    l = xcalloc(1, sizeof(*l));
                    strmap_put(&t->aliases, a.data, l);
                }
                rc = 0;
                for (size_t i = 2; i < n && rc == 0; i++) {
                    if (check_addr(f[i], name, line, &b, err) != 0) {
                        rc = -1;
                        break;
                    }
                    l->items = xrealloc(l->items, (l->n + 1) * sizeof(char *));
                    l->items[l->n++] = xstrdup(b.data);
                }
            }
        }
    } else if (!strcmp(f[0], "list")) {
        if (n < 3) {
            buf_printf(err, "%s:%zu: list needs ADDRESS POLICY [OWNER...]", name, line);
        } else if (check_addr(f[1], name, line, &a, err) == 0) {
            if (!is_list_policy(f[2])) {
                buf_printf(err, "%s:%zu: list policy must be open, internal or announce", name, line);
            } else if (strmap_get(&t->lists, a.data)) {
                buf_printf(err, "%s:%zu: list %s is listed twice", name, line, a.data);
            } else {
                table_list *l = xcalloc(1, sizeof(*l));
                l->policy = xstrdup(f[2]);
                strmap_put(&t->lists, a.data, l);
                rc = 0;
                for (size_t i = 3; i < n && rc == 0; i++) {
                    if (check_addr(f[i], name, line, &b, err) != 0) {
                        rc = -1;
                        break;
                    }
                    l->owners.items = xrealloc(l->owners.items, (l->owners.n + 1) * sizeof(char *));
                    l->owners.items[l->owners.n++] = xstrdup(b.data);
                }
            }
        }
    } else if (!strcmp(f[0], "limit")) {
        if (n < 3) {
            buf_printf(err, "%s:%zu: limit needs USER KEY=N...", name, line);
        } else if (check_addr(f[1], name, line, &a, err) == 0) {
            send_limits *l = strmap_get(&t->limits, a.data);
            if (!l) {
                l = xmalloc(sizeof(*l));
                *l = (send_limits){-1, -1, -1};
                strmap_put(&t->limits, a.data, l);
            }
            rc = 0;
            for (size_t i = 2; i < n && rc == 0; i++) {
                char *eq = strchr(f[i], '=');
                char *end;
                long v = -1;
                if (eq) {
                    *eq = '\0';
                    errno = 0;
                    v = strtol(eq + 1, &end, 10);
                    if (!eq[1] || *end || errno || v < 0 || v > 1000000000L)
                        v = -1;
                }
                long *slot = NULL;
                if (eq && !strcmp(f[i], "msgs_per_hour")) slot = &l->msgs_per_hour;
                else if (eq && !strcmp(f[i], "rcpts_per_msg")) slot = &l->rcpts_per_msg;
                else if (eq && !strcmp(f[i], "rcpts_per_day")) slot = &l->rcpts_per_day;
                if (!slot || v < 0) {
                    buf_printf(err, "%s:%zu: expected msgs_per_hour=N, rcpts_per_msg=N or rcpts_per_day=N (N >= 0, 0 = no limit)", name, line);
                    rc = -1;
                } else {
                    *slot = v;
                }
            }
        }
    } else {
        buf_printf(err, "%s:%zu: unknown record type (expected mailbox, alternate, alias, list or limit)", name, line);
    }
    buf_free(&a);
    buf_free(&b);
    return rc;
}

int table_parse(table *t, const char *text, size_t len, const char *name, buf *err)
{
    size_t line = 0;
    int seen_header = 0;
    buf l = BUF_INIT;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (memchr(p, '\0', n)) {
            buf_printf(err, "%s:%zu: NUL byte", name, line);
            buf_free(&l);
            return -1;
        }
        buf_reset(&l);
        buf_append(&l, p, n);
        if (l.len && l.data[l.len - 1] == '\r')
            l.data[--l.len] = '\0';
        if (parse_line(t, l.data, name, line, &seen_header, err) != 0) {
            buf_free(&l);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    buf_free(&l);
    if (!seen_header) {
        buf_printf(err, "%s: empty table (expected the header \"emailng-policyd-table 1\")", name);
        return -1;
    }
    /* every alternate must point at a mailbox */
    size_t i = 0;
    const char *k;
    void *v;
    while (strmap_next(&t->alternates, &i, &k, &v))
        if (!strmap_get(&t->mailboxes, v)) {
            buf_printf(err, "%s: alternate %s points at %s, which is not a mailbox", name, k, (char *)v);
            return -1;
        }
    t->lines = line;
    return 0;
}

int table_load(table *t, const char *path, buf *err)
{
    buf text = BUF_INIT;
    if (fs_read_file(path, 256u << 20, &text, err) != 0) {
        buf_free(&text);
        return -1;
    }
    int rc = table_parse(t, buf_cstr(&text), text.len, path, err);
    buf_free(&text);
    return rc;
}

const char *table_mailbox(const table *t, const char *address)
{
    if (strmap_get(&t->mailboxes, address))
        return strmap_get(&t->mailboxes, address) ? address : NULL;
    return strmap_get(&t->alternates, address);
}

const char *table_pair(const table *t, const char *mailbox)
{
    return strmap_get(&t->mailboxes, mailbox);
}

int table_is_alias(const table *t, const char *address)
{
    return strmap_get(&t->aliases, address) != NULL;
}

const table_list *table_list_of(const table *t, const char *address)
{
    return strmap_get(&t->lists, address);
}

static void add_unique(str_list *l, strmap *seen, const char *s)
{
    if (strmap_get(seen, s))
        return;
    strmap_put(seen, s, (void *)1);
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(char *));
    l->items[l->n++] = xstrdup(s);
}

size_t table_expand(const table *t, const char *recipient, size_t max,
                    str_list *mailboxes, int *truncated)
{
    buf key = BUF_INIT;
    *truncated = 0;
    address_key(recipient, 0, &key);
    if (!table_mailbox(t, key.data) && !table_is_alias(t, key.data))
        address_key(recipient, 1, &key);
    str_list queue = {0};
    strmap seen_addr, seen_box;
    strmap_init(&seen_addr, NULL);
    strmap_init(&seen_box, NULL);
    add_unique(&queue, &seen_addr, key.data);
    for (size_t i = 0; i < queue.n; i++) {
        const char *a = queue.items[i];
        const char *box = table_mailbox(t, a);
        if (box) {
            if (mailboxes->n >= max && !strmap_get(&seen_box, box)) {
                *truncated = 1;
                break;
            }
            add_unique(mailboxes, &seen_box, box);
            continue;
        }
        str_list *members = strmap_get(&t->aliases, a);
        if (members)
            for (size_t j = 0; j < members->n; j++)
                add_unique(&queue, &seen_addr, members->items[j]);
        /* anything else is an outside address: no quota of ours */
    }
    for (size_t i = 0; i < queue.n; i++)
        free(queue.items[i]);
    free(queue.items);
    strmap_free(&seen_addr);
    strmap_free(&seen_box);
    buf_free(&key);
    return mailboxes->n;
}

void table_limits(const table *t, const char *user, const send_limits *defaults, send_limits *out)
{
    *out = *defaults;
    buf key = BUF_INIT;
    address_key(user, 0, &key);
    const send_limits *o = strmap_get(&t->limits, key.data);
    buf_free(&key);
    if (!o)
        return;
    if (o->msgs_per_hour >= 0) out->msgs_per_hour = o->msgs_per_hour;
    if (o->rcpts_per_msg >= 0) out->rcpts_per_msg = o->rcpts_per_msg;
    if (o->rcpts_per_day >= 0) out->rcpts_per_day = o->rcpts_per_day;
}
