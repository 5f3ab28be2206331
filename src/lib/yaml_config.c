/* yaml_config: see yaml_config.h. */
#include "yaml_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "fsutil.h"

/* A report kept until ycfg_free (YCFG_ERROR_LINES), to be sorted. */
struct ycfg_held_report {
    size_t line, col, seq;
    char *text;                 /* "FILE:LINE:COL: message\n" */
};

static void report_at(ycfg *y, size_t line, size_t col, const char *fmt, va_list ap)
{
    buf out = BUF_INIT;
    buf_printf(&out, "%s:%zu:%zu: ", y->file, line + 1, col + 1);
    /* Keys and values from the file appear in reports; their control
     * characters are escaped, so a report stays one line. */
    buf msg = BUF_INIT;
    buf_vprintf(&msg, fmt, ap);
    for (const unsigned char *p = (const unsigned char *)buf_cstr(&msg); *p; p++) {
        if (*p == '\n')
            buf_append_str(&out, "\\n");
        else if (*p == '\r')
            buf_append_str(&out, "\\r");
        else if (*p == '\t')
            buf_append_str(&out, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            buf_printf(&out, "\\x%02x", *p);
        else
            buf_append_char(&out, (char)*p);
    }
    buf_free(&msg);
    y->failed++;
    if (y->flags & YCFG_ERROR_LINES) {
        buf_append_char(&out, '\n');
        y->held = xrealloc(y->held, (y->n_held + 1) * sizeof(*y->held));
        y->held[y->n_held] = (ycfg_held_report){line, col, y->n_held, buf_steal(&out)};
        y->n_held++;
        return;
    }
    /* A daemon's configuration is refused with one report: the first. */
    if (y->err->len == 0)
        buf_append(y->err, out.data, out.len);
    buf_free(&out);
}

static int held_order(const void *a, const void *b)
{
    const ycfg_held_report *x = a, *z = b;
    if (x->line != z->line)
        return x->line < z->line ? -1 : 1;
    if (x->col != z->col)
        return x->col < z->col ? -1 : 1;
    return x->seq < z->seq ? -1 : x->seq > z->seq;     /* in the order made */
}

/* Appends the held reports to err, by line and column. */
static void flush_held(ycfg *y)
{
    if (y->n_held > 1)
        qsort(y->held, y->n_held, sizeof(*y->held), held_order);
    for (size_t i = 0; i < y->n_held; i++) {
        buf_append_str(y->err, y->held[i].text);
        free(y->held[i].text);
    }
    free(y->held);
    y->held = NULL;
    y->n_held = 0;
}

int ycfg_report(ycfg *y, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_at(y, n ? n->start_mark.line : 0, n ? n->start_mark.column : 0, fmt, ap);
    va_end(ap);
    return -1;
}

__attribute__((format(printf, 4, 5)))
static int report_mark(ycfg *y, size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_at(y, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

static void init(ycfg *y, const char *file, unsigned flags, buf *err)
{
    memset(y, 0, sizeof(*y));
    y->file = file;
    y->err = err;
    y->flags = flags;
    y->top = "(top level)";
}

/* ---- keys given twice ---- */

/* The text of a scalar key and where it stands in its mapping. */
struct key_ref {
    const yaml_node_t *node;
    size_t pos;
};

static int key_text_order(const yaml_node_t *a, const yaml_node_t *b)
{
    size_t la = a->data.scalar.length, lb = b->data.scalar.length;
    if (la != lb)
        return la < lb ? -1 : 1;
    return memcmp(a->data.scalar.value, b->data.scalar.value, la);
}

/* By text, then by place in the mapping: the first of equal keys first. */
static int key_order(const void *a, const void *b)
{
    const struct key_ref *x = a, *z = b;
    int c = key_text_order(x->node, z->node);
    if (c)
        return c;
    return x->pos < z->pos ? -1 : x->pos > z->pos;
}

/* The dotted path of key in the mapping with node id `id`, as the loaders
 * name it ("quota.default"; a list adds nothing). parent_key[i] is the key
 * node id under which node i hangs, parent[i] its mapping or list. */
static void key_path(ycfg *y, const int *parent, const int *parent_key, int id, const yaml_node_t *key, buf *out)
{
    size_t depth = 1;
    for (int i = id; parent[i]; i = parent[i])
        depth += parent_key[i] != 0;
    const yaml_node_t **keys = xcalloc(depth, sizeof(*keys));
    size_t k = depth;
    keys[--k] = key;
    for (int i = id; parent[i]; i = parent[i])
        if (parent_key[i])
            keys[--k] = yaml_document_get_node(&y->doc, parent_key[i]);
    for (size_t j = 0; j < depth; j++)
        buf_printf(out, "%s%.*s", j ? "." : "", (int)keys[j]->data.scalar.length,
                   (const char *)keys[j]->data.scalar.value);
    free(keys);
}

/* Reports every scalar key given twice in one mapping, at the second
 * (and later) one. Sorting keeps a 1 MiB file of keys fast. */
static int check_duplicate_keys(ycfg *y)
{
    int n = (int)(y->doc.nodes.top - y->doc.nodes.start);
    /* Node ids are 1..n. A child always comes after its parent, so the
     * chain of parents ends (an alias to an enclosing node is no child). */
    int *parent = xcalloc((size_t)n + 1, sizeof(int)), *parent_key = xcalloc((size_t)n + 1, sizeof(int));
    for (int id = 1; id <= n; id++) {
        yaml_node_t *node = yaml_document_get_node(&y->doc, id);
        if (node->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++)
                if (p->value > id && p->value <= n && !parent[p->value]) {
                    parent[p->value] = id;
                    parent_key[p->value] = p->key;
                }
        } else if (node->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++)
                if (*it > id && *it <= n && !parent[*it])
                    parent[*it] = id;
        }
    }
    int rc = 0;
    for (int id = 1; id <= n; id++) {
        yaml_node_t *node = yaml_document_get_node(&y->doc, id);
        if (node->type != YAML_MAPPING_NODE)
            continue;
        size_t pairs = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
        if (pairs < 2)
            continue;
        struct key_ref *keys = xcalloc(pairs, sizeof(*keys));
        size_t nk = 0;
        for (size_t i = 0; i < pairs; i++) {
            const yaml_node_t *k = yaml_document_get_node(&y->doc, node->data.mapping.pairs.start[i].key);
            if (k && k->type == YAML_SCALAR_NODE)
                keys[nk++] = (struct key_ref){k, i};
        }
        qsort(keys, nk, sizeof(*keys), key_order);
        for (size_t i = 1, first = 0; i < nk; i++) {
            if (key_text_order(keys[first].node, keys[i].node) != 0) {
                first = i;
                continue;
            }
            buf path = BUF_INIT;
            key_path(y, parent, parent_key, id, keys[i].node, &path);
            rc = ycfg_report(y, keys[i].node, "%s: the key is given twice; the first is on line %zu; "
                             "give each key once", buf_cstr(&path), keys[first].node->start_mark.line + 1);
            buf_free(&path);
        }
        free(keys);
    }
    free(parent);
    free(parent_key);
    return rc;
}

int ycfg_parse(ycfg *y, const char *text, size_t len, const char *file, unsigned flags, buf *err)
{
    init(y, file, flags, err);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return report_mark(y, 0, 0, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, &y->doc)) {
        rc = report_mark(y, parser.problem_mark.line, parser.problem_mark.column, "not valid YAML: %s%s%s",
                         parser.problem ? parser.problem : "syntax error",
                         parser.context ? " " : "", parser.context ? parser.context : "");
    } else {
        y->loaded = 1;
        y->root = yaml_document_get_root_node(&y->doc);
        rc = check_duplicate_keys(y);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int ycfg_load(ycfg *y, const char *path, size_t max, unsigned flags, buf *err)
{
    init(y, path, flags, err);
    buf text = BUF_INIT;
    int rc = fs_read_file(path, max, &text, err);
    if (rc == 0) {
        rc = ycfg_parse(y, buf_cstr(&text), text.len, path, flags, err);
    } else {
        y->failed++;
        if (flags & YCFG_ERROR_LINES)
            buf_append_char(err, '\n');
    }
    buf_free(&text);
    return rc;
}

void ycfg_free(ycfg *y)
{
    flush_held(y);
    if (y->loaded)
        yaml_document_delete(&y->doc);
    y->loaded = 0;
    y->root = NULL;
}

const char *ycfg_kind(const yaml_node_t *n)
{
    switch (n ? n->type : YAML_NO_NODE) {
    case YAML_SCALAR_NODE: return "a single value";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping of keys";
    default: return "nothing";
    }
}

const char *ycfg_text(ycfg *y, const yaml_node_t *n, const char *key)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        ycfg_report(y, n, "%s: expected a single value, found %s", key, ycfg_kind(n));
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        ycfg_report(y, n, "%s: the value contains a NUL byte", key);
        return NULL;
    }
    return s;
}

int ycfg_str(ycfg *y, const yaml_node_t *n, const char *key, char **out)
{
    const char *s = ycfg_text(y, n, key);
    if (!s)
        return -1;
    free(*out);
    *out = xstrdup(s);
    return 0;
}

int ycfg_long(ycfg *y, const yaml_node_t *n, const char *key, long min, long max, long *out)
{
    const char *s = ycfg_text(y, n, key);
    if (!s)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return ycfg_report(y, n, "%s: \"%s\" is not a whole number from %ld to %ld", key, s, min, max);
    *out = v;
    return 0;
}

int ycfg_int(ycfg *y, const yaml_node_t *n, const char *key, int min, int max, int *out)
{
    long v;
    if (ycfg_long(y, n, key, min, max, &v))
        return -1;
    *out = (int)v;
    return 0;
}

int ycfg_port(ycfg *y, const yaml_node_t *n, const char *key, int *out)
{
    return ycfg_int(y, n, key, 1, 65535, out);
}

int ycfg_bool_word(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
        return 0;
    return -1;
}

int ycfg_bool(ycfg *y, const yaml_node_t *n, const char *key, int *out)
{
    const char *s = ycfg_text(y, n, key);
    if (!s)
        return -1;
    int v = ycfg_bool_word(s);
    if (v < 0)
        return ycfg_report(y, n, "%s: \"%s\" is not true or false", key, s);
    *out = v;
    return 0;
}

int ycfg_size(ycfg *y, const yaml_node_t *n, const char *key, unsigned long long *out)
{
    const char *s = ycfg_text(y, n, key);
    if (!s)
        return -1;
    unsigned long long bytes = 0;
    buf why = BUF_INIT;
    int rc = size_parse(s, &bytes, &why);
    if (rc != 0)
        ycfg_report(y, n, "%s: %s", key, buf_cstr(&why));
    else
        *out = bytes;
    buf_free(&why);
    return rc ? -1 : 0;
}

void ycfg_list_add(ycfg_list *l, const char *s)
{
    l->items = xrealloc(l->items, (l->n + 2) * sizeof(char *));
    l->items[l->n++] = xstrdup(s);
    l->items[l->n] = NULL;
}

void ycfg_list_free(ycfg_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int ycfg_seq_begin(ycfg *y, const yaml_node_t *node, const char *key, ycfg_seq *s)
{
    memset(s, 0, sizeof(*s));
    s->y = y;
    if (!node || node->type != YAML_SEQUENCE_NODE)
        return ycfg_report(y, node, "%s: expected a list, found %s", key, ycfg_kind(node));
    s->next = node->data.sequence.items.start;
    s->end = node->data.sequence.items.top;
    s->n = (size_t)(s->end - s->next);
    return 0;
}

yaml_node_t *ycfg_seq_next(ycfg_seq *s)
{
    if (s->next >= s->end)
        return NULL;
    return yaml_document_get_node(&s->y->doc, *s->next++);
}

int ycfg_strings(ycfg *y, const yaml_node_t *n, const char *key, unsigned flags, ycfg_list *out)
{
    ycfg_list l = {0};
    if ((flags & YCFG_LIST_SCALAR) && n && n->type == YAML_SCALAR_NODE) {
        const char *s = ycfg_text(y, n, key);
        if (!s)
            return -1;
        if (*s && strcmp(s, "~") && strcmp(s, "null"))
            ycfg_list_add(&l, s);
    } else {
        ycfg_seq seq;
        if (ycfg_seq_begin(y, n, key, &seq))
            return -1;
        for (yaml_node_t *item; (item = ycfg_seq_next(&seq)) != NULL;) {
            const char *s = ycfg_text(y, item, key);
            if (!s) {
                ycfg_list_free(&l);
                return -1;
            }
            ycfg_list_add(&l, s);
        }
    }
    ycfg_list_free(out);
    *out = l;
    return 0;
}

static const char *section_name(const ycfg_map *m)
{
    return *m->section ? m->section : m->y->top;
}

int ycfg_map_begin(ycfg *y, const yaml_node_t *node, const char *section, const char *const *allowed,
                   ycfg_map *m)
{
    memset(m, 0, sizeof(*m));
    m->y = y;
    m->section = section;
    m->allowed = allowed;
    m->index = -1;
    buf_init(&m->path_buf);
    if (!node || node->type != YAML_MAPPING_NODE)
        return ycfg_report(y, node, "%s: expected a mapping of keys, found %s", section_name(m), ycfg_kind(node));
    m->next = node->data.mapping.pairs.start;
    m->end = node->data.mapping.pairs.top;
    m->n = (size_t)(m->end - m->next);
    return 0;
}

int ycfg_map_next(ycfg_map *m)
{
    if (m->next >= m->end)
        return 0;
    yaml_node_pair_t *p = m->next++;
    m->key_node = yaml_document_get_node(&m->y->doc, p->key);
    m->value = yaml_document_get_node(&m->y->doc, p->value);
    m->index = -1;
    m->key = ycfg_text(m->y, m->key_node, section_name(m));
    if (!m->key)
        return -1;
    if (m->allowed) {
        for (int i = 0; m->allowed[i]; i++)
            if (!strcmp(m->key, m->allowed[i])) {
                m->index = i;
                break;
            }
        if (m->index < 0) {
            buf expected = BUF_INIT;
            for (int i = 0; m->allowed[i]; i++)
                buf_printf(&expected, "%s%s", i ? ", " : "", m->allowed[i]);
            ycfg_report(m->y, m->key_node, "%s: unknown key \"%s\"; expected one of: %s", section_name(m), m->key,
                        buf_cstr(&expected));
            buf_free(&expected);
            return -1;
        }
    }
    buf_reset(&m->path_buf);
    buf_printf(&m->path_buf, "%s%s%s", m->section, *m->section ? "." : "", m->key);
    m->path = buf_cstr(&m->path_buf);
    return 1;
}

int ycfg_map_next_all(ycfg_map *m)
{
    int rc;
    while ((rc = ycfg_map_next(m)) < 0)
        ;   /* reported; the next pair */
    return rc;
}

void ycfg_map_end(ycfg_map *m)
{
    buf_free(&m->path_buf);
    m->path = NULL;
}
