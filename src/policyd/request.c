/* request: see request.h. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

void request_init(request *r, const request_limits *lim)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->store);
    buf_init(&r->line);
    if (lim)
        r->lim = *lim;
    if (!r->lim.max_line)
        r->lim.max_line = REQ_DEFAULT_MAX_LINE;
    if (!r->lim.max_attrs)
        r->lim.max_attrs = REQ_DEFAULT_MAX_ATTRS;
    if (!r->lim.max_request)
        r->lim.max_request = REQ_DEFAULT_MAX_REQUEST;
}

void request_free(request *r)
{
    buf_free(&r->store);
    buf_free(&r->line);
    free(r->names);
    free(r->values);
    free(r->offsets);
    memset(r, 0, sizeof(*r));
}

void request_reset(request *r)
{
    r->n = 0;
    buf_reset(&r->store);
    buf_reset(&r->line);
    r->total = 0;
    r->skipping = 0;
    r->started = 0;
    r->bad = NULL;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static void set_bad(request *r, const char *why)
{
    if (!r->bad)
        r->bad = why;
}

/* One complete line s[0..n) (without its '\n'). Returns 1 at the empty line. */
static int take_line(request *r, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        n--;
    if (n == 0)
        return 1;
    if (r->bad)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            set_bad(r, "control character in request");
            return 0;
        }
    }
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        set_bad(r, "line without '='");
        return 0;
    }
    size_t nl = (size_t)(eq - s);
    if (!valid_name(s, nl)) {
        set_bad(r, "bad attribute name");
        return 0;
    }
    if (r->n >= r->lim.max_attrs) {
        set_bad(r, "too many attributes");
        return 0;
    }
    for (size_t i = 0; i < r->n; i++) {
        /* the name's length: up to its value, less its NUL */
        const char *name = r->store.data + r->offsets[2 * i];
        if (r->offsets[2 * i + 1] - r->offsets[2 * i] - 1 == nl && memcmp(name, s, nl) == 0) {
            set_bad(r, "repeated attribute");
            return 0;
        }
    }
    if (r->offsets == NULL)
        r->offsets = xcalloc(2 * r->lim.max_attrs, sizeof(size_t));
    /* "name=value" becomes "name\0value\0" */
    size_t at = r->store.len;
    r->offsets[2 * r->n] = at;
    r->offsets[2 * r->n + 1] = at + nl + 1;
    buf_append(&r->store, s, n + 1);    /* s[n] ('\r' or '\n') becomes the NUL */
    r->store.data[at + nl] = '\0';
    r->store.data[at + n] = '\0';
    r->n++;
    return 0;
}

static void finish(request *r)
{
    if (r->names == NULL) {
        r->names = xcalloc(r->lim.max_attrs + 1, sizeof(char *));
        r->values = xcalloc(r->lim.max_attrs + 1, sizeof(char *));
    }
    for (size_t i = 0; i < r->n; i++) {
        r->names[i] = r->store.data + r->offsets[2 * i];
        r->values[i] = r->store.data + r->offsets[2 * i + 1];
    }
    if (!r->bad && strcmp(request_get(r, "request"), "smtpd_access_policy") != 0)
        r->bad = "not an smtpd_access_policy request";
}

int request_feed(request *r, const char *data, size_t len, size_t *used)
{
    size_t i = 0;
    while (i < len) {
        const char *nlp = memchr(data + i, '\n', len - i);
        size_t chunk = nlp ? (size_t)(nlp - (data + i)) : len - i;
        /* never hold or count more than max_request bytes */
        size_t room = r->lim.max_request - r->total;
        if (chunk + (nlp ? 1 : 0) > room) {
            *used = i + room;
            r->total = r->lim.max_request;
            return REQ_FATAL;
        }
        r->total += chunk + (nlp ? 1 : 0);
        r->started = 1;
        if (nlp && !r->skipping && r->line.len == 0 && chunk <= r->lim.max_line) {
            /* a whole line in the input: parsed where it is */
            i += chunk + 1;
            if (take_line(r, data + i - chunk - 1, chunk)) {
                finish(r);
                *used = i;
                return REQ_DONE;
            }
            continue;
        }
        if (!r->skipping) {
            if (r->line.len + chunk > r->lim.max_line) {
                set_bad(r, "line too long");
                r->skipping = 1;
                buf_reset(&r->line);
            } else {
                buf_append(&r->line, data + i, chunk);
            }
        }
        i += chunk;
        if (!nlp)
            break;
        i++;                                /* the '\n' */
        if (r->skipping) {
            r->skipping = 0;
            buf_reset(&r->line);
            continue;
        }
        buf_append_char(&r->line, '\n');      /* take_line reads one byte past the line */
        int end = take_line(r, r->line.data, r->line.len - 1);
        buf_reset(&r->line);
        if (end) {
            finish(r);
            *used = i;
            return REQ_DONE;
        }
    }
    *used = i;
    return REQ_MORE;
}

const char *request_get(const request *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->store.data + r->offsets[2 * i], name) == 0)
            return r->store.data + r->offsets[2 * i + 1];
    return "";
}

void sanitize_append(buf *out, const char *s, size_t max)
{
    size_t n = 0;
    for (; *s && n < max; s++, n++) {
        unsigned char c = (unsigned char)*s;
        buf_append_char(out, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
    }
}
