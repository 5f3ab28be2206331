/* netstring: see netstring.h. */
#include "netstring.h"

#include <stdlib.h>
#include <string.h>

enum { ST_LENGTH, ST_DATA, ST_COMMA };

void netstring_init(netstring *ns, size_t max_len)
{
    memset(ns, 0, sizeof(*ns));
    ns->max_len = max_len;
    buf_init(&ns->data);
}

void netstring_free(netstring *ns)
{
    buf_free(&ns->data);
    memset(ns, 0, sizeof(*ns));
}

void netstring_reset(netstring *ns)
{
    ns->want = 0;
    ns->digits = 0;
    ns->state = ST_LENGTH;
    ns->bad = NULL;
    buf_reset(&ns->data);
}

static int fatal(netstring *ns, const char *why, size_t at, size_t *used)
{
    ns->bad = why;
    *used = at;
    return NS_FATAL;
}

int netstring_feed(netstring *ns, const char *in, size_t len, size_t *used)
{
    size_t i = 0;
    if (ns->bad)
        return fatal(ns, ns->bad, 0, used);
    while (i < len) {
        if (ns->state == ST_LENGTH) {
            char c = in[i++];
            if (c == ':') {
                if (ns->digits == 0)
                    return fatal(ns, "netstring without a length", i, used);
                ns->state = ST_DATA;
                continue;
            }
            if (c < '0' || c > '9')
                return fatal(ns, "netstring length is not a number", i, used);
            if (ns->digits == 1 && ns->want == 0)
                return fatal(ns, "netstring length with a leading zero", i, used);
            /* checked before it grows: never overflows, never over the bound */
            size_t d = (size_t)(c - '0');
            if (d > ns->max_len || ns->want > (ns->max_len - d) / 10)
                return fatal(ns, "netstring longer than allowed", i, used);
            ns->want = ns->want * 10 + d;
            ns->digits++;
        } else if (ns->state == ST_DATA) {
            size_t take = ns->want - ns->data.len;
            if (take > len - i)
                take = len - i;
            buf_append(&ns->data, in + i, take);
            i += take;
            if (ns->data.len == ns->want)
                ns->state = ST_COMMA;
        } else {
            if (in[i++] != ',')
                return fatal(ns, "netstring not ended by ','", i, used);
            *used = i;
            return NS_DONE;
        }
    }
    /* a zero-length payload is complete as soon as its ':' is read */
    if (ns->state == ST_DATA && ns->want == 0)
        ns->state = ST_COMMA;
    *used = i;
    return NS_MORE;
}

void netstring_append(buf *out, const char *s, size_t n)
{
    buf_printf(out, "%zu:", n);
    buf_append(out, s, n);
    buf_append_char(out, ',');
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

int socketmap_request_parse(const char *payload, size_t len, size_t max_key, socketmap_request *req,
                            const char **why)
{
    req->name = req->key = NULL;
    const char *sp = memchr(payload, ' ', len);
    if (sp == NULL) {
        *why = "request without a space between map name and key";
        return -1;
    }
    size_t nlen = (size_t)(sp - payload), klen = len - nlen - 1;
    if (nlen == 0 || nlen > 64) {
        *why = "bad map name length";
        return -1;
    }
    for (size_t i = 0; i < nlen; i++)
        if (!name_char(payload[i])) {
            *why = "bad character in map name";
            return -1;
        }
    if (klen == 0 || klen > max_key) {
        *why = klen ? "key too long" : "empty key";
        return -1;
    }
    for (size_t i = 0; i < klen; i++) {
        unsigned char c = (unsigned char)sp[1 + i];
        if (c <= 0x20 || c >= 0x7f) {
            *why = "key with a space, control or non-ASCII byte";
            return -1;
        }
    }
    req->name = xstrndup(payload, nlen);
    req->key = xstrndup(sp + 1, klen);
    return 0;
}

void socketmap_request_free(socketmap_request *req)
{
    free(req->name);
    free(req->key);
    req->name = req->key = NULL;
}
