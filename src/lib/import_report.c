/* import_report: doveadm's answers and the per-user import state; see
 * import_report.h. */
#include "import_report.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRORS_KEPT 3
#define ERROR_TEXT_MAX 300
#define STATE_MIN_LEN 8         /* an empty dsync state is 12 base64 characters */

static int is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'
        || c == '=';
}

char *import_dsync_state(const char *output)
{
    char *state = NULL;
    for (const char *line = output; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        size_t i = 0;
        while (i < len && is_base64_char(line[i]))
            i++;
        if (i == len && len >= STATE_MIN_LEN) {
            free(state);
            state = xstrndup(line, len);
        }
        line += len + (end != NULL);
    }
    return state;
}

size_t import_error_lines(const char *output, buf *first_errors)
{
    size_t n = 0;
    for (const char *line = output; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *mark = memmem(line, len, ": Error: ", 9);
        if (mark) {
            if (n < ERRORS_KEPT) {
                const char *text = mark + 9;
                size_t text_len = len - (size_t)(text - line);
                buf_printf(first_errors, "%s%.*s%s", first_errors->len ? "; " : "",
                           (int)(text_len > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : text_len), text,
                           text_len > ERROR_TEXT_MAX ? "..." : "");
            }
            n++;
        }
        line += len + (end != NULL);
    }
    return n;
}

static int parse_ull(const char *s, size_t len, unsigned long long *v)
{
    if (len == 0 || len > 20)
        return -1;
    unsigned long long x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned long long d = (unsigned long long)(s[i] - '0');
        if (x > (~0ULL - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* Splits one line into up to max tab-separated fields (pointers into the
 * line, lengths). Returns the field count. */
static size_t tab_fields(const char *line, size_t len, const char **f, size_t *flen, size_t max)
{
    size_t n = 0;
    const char *p = line, *end = line + len;
    while (n < max) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        f[n] = p;
        flen[n] = tab ? (size_t)(tab - p) : (size_t)(end - p);
        n++;
        if (!tab)
            break;
        p = tab + 1;
    }
    return n;
}

/* Lines of doveadm's tab output with exactly `want` fields after the
 * header (log lines have no tabs and are skipped). Calls row() for each;
 * a line whose first field matches header_first is the header. */
static int each_row(const char *output, size_t want, const char *header_first,
                    int (*row)(const char **f, const size_t *flen, void *arg), void *arg, buf *err)
{
    int header = 0;
    for (const char *line = output; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *f[8];
        size_t flen[8];
        size_t n = memchr(line, '\t', len) ? tab_fields(line, len, f, flen, 8) : 0;
        if (n == want && !header && flen[0] == strlen(header_first) && memcmp(f[0], header_first, flen[0]) == 0) {
            header = 1;
        } else if (n > 0 && (!header || n != want)) {
            buf_printf(err, "unexpected doveadm output line: %.*s", (int)(len > 200 ? 200 : len), line);
            return -1;
        } else if (n > 0 && row(f, flen, arg) != 0) {
            buf_printf(err, "unexpected doveadm output line: %.*s", (int)(len > 200 ? 200 : len), line);
            return -1;
        }
        line += len + (end != NULL);
    }
    if (!header) {
        buf_append_str(err, "no answer from doveadm");
        return -1;
    }
    return 0;
}

static int totals_row(const char **f, const size_t *flen, void *arg)
{
    struct import_totals *t = arg;
    unsigned long long messages, bytes;
    if (parse_ull(f[1], flen[1], &messages) != 0 || parse_ull(f[2], flen[2], &bytes) != 0)
        return -1;
    t->folders++;
    t->messages += messages;
    t->bytes += bytes;
    return 0;
}

int import_mailbox_totals(const char *tab_output, struct import_totals *t, buf *err)
{
    memset(t, 0, sizeof *t);
    return each_row(tab_output, 3, "mailbox", totals_row, t, err);
}

struct quota_row {
    long long used, limit;
    int found;
};

static int quota_row(const char **f, const size_t *flen, void *arg)
{
    struct quota_row *q = arg;
    if (!(flen[1] == 7 && memcmp(f[1], "STORAGE", 7) == 0))
        return 0;
    unsigned long long used, limit;
    if (parse_ull(f[2], flen[2], &used) != 0 || used > (unsigned long long)LLONG_MAX)
        return -1;
    if (flen[3] == 1 && f[3][0] == '-')
        q->limit = -1;
    else if (parse_ull(f[3], flen[3], &limit) != 0 || limit > (unsigned long long)LLONG_MAX)
        return -1;
    else
        q->limit = (long long)limit;
    q->used = (long long)used;
    q->found = 1;
    return 0;
}

int import_quota_storage(const char *tab_output, long long *used_kib, long long *limit_kib, buf *err)
{
    struct quota_row q = {0, -1, 0};
    if (each_row(tab_output, 5, "Quota name", quota_row, &q, err) != 0)
        return -1;
    if (!q.found) {
        buf_append_str(err, "doveadm quota get gave no STORAGE line");
        return -1;
    }
    *used_kib = q.used;
    *limit_kib = q.limit;
    return 0;
}

/* ---- the per-user state file ------------------------------------------------ */

void import_user_state_free(struct import_user_state *s)
{
    free(s->phase);
    free(s->result);
    free(s->dsync_state);
    free(s->finished);
    free(s->error);
    memset(s, 0, sizeof *s);
}

enum field_type { F_ULONG, F_ULL, F_LL, F_DOUBLE, F_TEXT };

struct state_field {
    const char *key;
    enum field_type type;
    size_t offset;
};

#define FIELD(key, type, member) {key, type, offsetof(struct import_user_state, member)}

static const struct state_field fields[] = {
    FIELD("pass", F_ULONG, pass),
    FIELD("phase", F_TEXT, phase),
    FIELD("result", F_TEXT, result),
    FIELD("folders", F_ULL, here.folders),
    FIELD("messages", F_ULL, here.messages),
    FIELD("bytes", F_ULL, here.bytes),
    FIELD("new_messages", F_ULL, new_messages),
    FIELD("new_bytes", F_ULL, new_bytes),
    FIELD("source_folders", F_ULL, source.folders),
    FIELD("source_messages", F_ULL, source.messages),
    FIELD("source_bytes", F_ULL, source.bytes),
    FIELD("errors", F_ULL, errors),
    FIELD("quota_used_kib", F_LL, quota_used_kib),
    FIELD("quota_limit_kib", F_LL, quota_limit_kib),
    FIELD("seconds", F_DOUBLE, seconds),
    FIELD("finished", F_TEXT, finished),
    FIELD("dsync_state", F_TEXT, dsync_state),
    FIELD("error", F_TEXT, error),
};

static int set_field(struct import_user_state *s, const struct state_field *f, const char *value)
{
    char *at = (char *)s + f->offset, *end = NULL;
    errno = 0;
    switch (f->type) {
    case F_ULONG: {
        unsigned long long v;
        if (parse_ull(value, strlen(value), &v) != 0 || v > ~0UL)
            return -1;
        *(unsigned long *)(void *)at = (unsigned long)v;
        return 0;
    }
    case F_ULL:
        return parse_ull(value, strlen(value), (unsigned long long *)(void *)at);
    case F_LL: {
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end)
            return -1;
        *(long long *)(void *)at = v;
        return 0;
    }
    case F_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || end == value || *end)
            return -1;
        *(double *)(void *)at = v;
        return 0;
    }
    case F_TEXT:
        free(*(char **)(void *)at);
        *(char **)(void *)at = xstrdup(value);
        return 0;
    }
    return -1;
}

int import_user_state_parse(const char *text, struct import_user_state *s, buf *err)
{
    memset(s, 0, sizeof *s);
    s->quota_limit_kib = -1;
    size_t line_no = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        line_no++;
        const char *sp = memchr(line, ' ', len);
        size_t key_len = sp ? (size_t)(sp - line) : len;
        for (size_t i = 0; len && i < sizeof fields / sizeof fields[0]; i++) {
            if (strlen(fields[i].key) != key_len || memcmp(fields[i].key, line, key_len) != 0)
                continue;
            char *value = sp ? xstrndup(sp + 1, len - key_len - 1) : xstrdup("");
            int rc = set_field(s, &fields[i], value);
            free(value);
            if (rc != 0) {
                buf_printf(err, "line %zu: bad value of %s", line_no, fields[i].key);
                import_user_state_free(s);
                return -1;
            }
        }
        line += len + (end != NULL);
    }
    return 0;
}

void import_user_state_format(const struct import_user_state *s, buf *out)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *at = (const char *)s + fields[i].offset;
        buf_printf(out, "%s ", fields[i].key);
        switch (fields[i].type) {
        case F_ULONG: buf_printf(out, "%lu\n", *(const unsigned long *)(const void *)at); break;
        case F_ULL: buf_printf(out, "%llu\n", *(const unsigned long long *)(const void *)at); break;
        case F_LL: buf_printf(out, "%lld\n", *(const long long *)(const void *)at); break;
        case F_DOUBLE: buf_printf(out, "%.1f\n", *(const double *)(const void *)at); break;
        case F_TEXT: {
            /* One line per key: a line end inside a text (an error message) becomes a blank. */
            const char *v = *(char *const *)(const void *)at;
            for (const char *p = v ? v : ""; *p; p++)
                buf_append_char(out, *p == '\n' || *p == '\r' ? ' ' : *p);
            buf_append_char(out, '\n');
            break;
        }
        }
    }
}

void import_user_state_summary(const struct import_user_state *s, buf *out)
{
    buf_printf(out, "folders=%llu messages=%llu bytes=%llu new_messages=%llu new_bytes=%llu "
                    "source_folders=%llu source_messages=%llu source_bytes=%llu errors=%llu",
               s->here.folders, s->here.messages, s->here.bytes, s->new_messages, s->new_bytes, s->source.folders,
               s->source.messages, s->source.bytes, s->errors);
    if (s->quota_limit_kib >= 0)
        buf_printf(out, " quota_used_kib=%lld quota_limit_kib=%lld", s->quota_used_kib, s->quota_limit_kib);
    buf_printf(out, " seconds=%.1f", s->seconds);
}
