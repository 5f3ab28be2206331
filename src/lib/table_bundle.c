/* table_bundle: the relays' tables in one document; see table_bundle.h. */
#include "table_bundle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "emailng-relay-tables 1 "

const char *const table_bundle_names[TABLE_BUNDLE_PARTS] = {"relay-recipients", "sender-logins", "policyd"};

void table_bundle_build(const char *csn, const buf *const parts[TABLE_BUNDLE_PARTS], buf *out)
{
    buf_printf(out, "%s%s\n", MAGIC, csn);
    for (size_t i = 0; i < TABLE_BUNDLE_PARTS; i++) {
        buf_printf(out, "table %s %zu\n", table_bundle_names[i], parts[i]->len);
        buf_append(out, parts[i]->data ? parts[i]->data : "", parts[i]->len);
    }
    buf_append_str(out, "end\n");
}

void table_bundle_free(struct table_bundle *b)
{
    free(b->csn);
    b->csn = NULL;
    for (size_t i = 0; i < TABLE_BUNDLE_PARTS; i++)
        buf_free(&b->part[i]);
}

/* The line at *p (without its '\n') as a C string in line; *p moves past
 * it. -1 if there is no '\n' before end. */
static int next_line(const char **p, const char *end, buf *line)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL)
        return -1;
    buf_reset(line);
    buf_append(line, *p, (size_t)(nl - *p));
    *p = nl + 1;
    return 0;
}

static int part_named(const char *name)
{
    for (int i = 0; i < TABLE_BUNDLE_PARTS; i++)
        if (strcmp(name, table_bundle_names[i]) == 0)
            return i;
    return -1;
}

static int split(const char *text, size_t len, struct table_bundle *b, buf *err)
{
    const char *p = text, *end = text + len;
    buf line = BUF_INIT;
    int rc = -1, seen[TABLE_BUNDLE_PARTS] = {0};
    if (len == 0 || memchr(text, '\0', len)) {
        buf_printf(err, len ? "a NUL byte in the bundle" : "empty bundle");
        goto out;
    }
    if (next_line(&p, end, &line) != 0 || strncmp(buf_cstr(&line), MAGIC, strlen(MAGIC)) != 0
        || line.len == strlen(MAGIC) || strchr(buf_cstr(&line) + strlen(MAGIC), ' ')) {
        buf_printf(err, "line 1: expected \"%sCSN\"", MAGIC);
        goto out;
    }
    b->csn = xstrdup(buf_cstr(&line) + strlen(MAGIC));
    for (;;) {
        if (next_line(&p, end, &line) != 0) {
            buf_printf(err, "cut short: no \"end\" line");
            goto out;
        }
        if (strcmp(buf_cstr(&line), "end") == 0)
            break;
        char name[32];
        const char *s = buf_cstr(&line);
        const char *sp = strrchr(s, ' ');
        if (strncmp(s, "table ", 6) != 0 || sp == NULL || sp <= s + 6 || (size_t)(sp - s - 6) >= sizeof name) {
            buf_printf(err, "expected \"table NAME BYTES\" or \"end\", got \"%.40s\"", s);
            goto out;
        }
        memcpy(name, s + 6, (size_t)(sp - s - 6));
        name[sp - s - 6] = '\0';
        int i = part_named(name);
        char *stop;
        errno = 0;
        unsigned long long n = strtoull(sp + 1, &stop, 10);
        if (i < 0 || seen[i]) {
            buf_printf(err, "table \"%s\": %s", name, i < 0 ? "unknown" : "given twice");
            goto out;
        }
        if (sp[1] < '0' || sp[1] > '9' || *stop || errno || n > (unsigned long long)(end - p)) {
            buf_printf(err, "table %s: bad length \"%s\" (%zu bytes left)", name, sp + 1, (size_t)(end - p));
            goto out;
        }
        seen[i] = 1;
        buf_append(&b->part[i], p, (size_t)n);
        p += n;
    }
    if (p != end) {
        buf_printf(err, "%zu bytes after the \"end\" line", (size_t)(end - p));
        goto out;
    }
    for (int i = 0; i < TABLE_BUNDLE_PARTS; i++)
        if (!seen[i]) {
            buf_printf(err, "table %s is missing", table_bundle_names[i]);
            goto out;
        }
    rc = 0;
out:
    buf_free(&line);
    return rc;
}

int table_bundle_split(const char *text, size_t len, struct table_bundle *b, buf *err)
{
    memset(b, 0, sizeof *b);
    int rc = split(text, len, b, err);
    if (rc != 0)
        table_bundle_free(b);
    return rc;
}

int table_bundle_csn_cmp(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}
