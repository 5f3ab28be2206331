/* yaml_config: see yaml_config.h. */
#include "yaml_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

static void report_at(ycfg *y, size_t line, size_t col, const char *fmt, va_list ap)
{
    if (!(y->flags & YCFG_ERROR_LINES) && y->err->len > 0)
        buf_append_char(y->err, '\n');
    buf_printf(y->err, "%s:%zu:%zu: ", y->file, line + 1, col + 1);
    /* Keys and values from the file appear in reports; their control
     * characters are escaped, so a report stays one line. */
    buf msg = BUF_INIT;
    buf_vprintf(&msg, fmt, ap);
    for (const unsigned char *p = (const unsigned char *)buf_cstr(&msg); *p; p++) {
        if (*p == '\n')
            buf_append_str(y->err, "\\n");
        else if (*p == '\r')
            buf_append_str(y->err, "\\r");
        else if (*p == '\t')
            buf_append_str(y->err, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            buf_printf(y->err, "\\x%02x", *p);
        else
            buf_append_char(y->err, (char)*p);
    }
    buf_free(&msg);
    if (y->flags & YCFG_ERROR_LINES)
        buf_append_char(y->err, '\n');
    y->failed++;
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

int ycfg_bool(ycfg *y, const yaml_node_t *n, const char *key, int *out)
{
    const char *s = ycfg_text(y, n, key);
    if (!s)
        return -1;
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
        *out = 0;
    else
        return ycfg_report(y, n, "%s: \"%s\" is not true or false", key, s);
    return 0;
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

int ycfg_strings(ycfg *y, const yaml_node_t *n, const char *key, unsigned flags, ycfg_list *out)
{
    ycfg_list l = {0};
    if ((flags & YCFG_LIST_SCALAR) && n && n->type == YAML_SCALAR_NODE) {
        const char *s = ycfg_text(y, n, key);
        if (!s)
            return -1;
        if (*s && strcmp(s, "~") && strcmp(s, "null"))
            ycfg_list_add(&l, s);
    } else if (!n || n->type != YAML_SEQUENCE_NODE) {
        return ycfg_report(y, n, "%s: expected a list, found %s", key, ycfg_kind(n));
    } else {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            const char *s = ycfg_text(y, yaml_document_get_node(&y->doc, *it), key);
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

void ycfg_map_end(ycfg_map *m)
{
    buf_free(&m->path_buf);
    m->path = NULL;
}
