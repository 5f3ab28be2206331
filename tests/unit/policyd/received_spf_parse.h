/* A strict reader of a Received-SPF header value after RFC 7208 9.1 (with
 * RFC 5322's CFWS, dot-atom and quoted-string), for the unit test and the
 * fuzz harness: it checks what emailng-policyd writes with a grammar of
 * its own instead of trusting the writer. rsp_parse() fills the keys and
 * their decoded values; -1 when the text does not follow the grammar
 * (including any control character: the value is one header line). */
#ifndef RECEIVED_SPF_PARSE_H
#define RECEIVED_SPF_PARSE_H

#include <string.h>

#include "buf.h"

#define RSP_MAX 16

typedef struct rsp {
    char result[16];
    size_t n;
    buf key[RSP_MAX];
    buf val[RSP_MAX];
} rsp;

static void rsp_free(rsp *r)
{
    for (size_t i = 0; i < RSP_MAX; i++) {
        buf_free(&r->key[i]);
        buf_free(&r->val[i]);
    }
    memset(r, 0, sizeof(*r));
}

static int rsp_vchar8(unsigned char c)
{
    return (c > 0x20 && c < 0x7f) || c >= 0x80;     /* VCHAR, UTF8-non-ascii */
}

/* CFWS: spaces and (nested) comments with quoted pairs */
static int rsp_cfws(const char **pp)
{
    const char *p = *pp;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '(')
            break;
        int depth = 0;
        do {
            if (*p == '\\') {
                if (!rsp_vchar8((unsigned char)p[1]) && p[1] != ' ')
                    return -1;
                p += 2;
                continue;
            }
            if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            else if (*p != ' ' && !rsp_vchar8((unsigned char)*p))
                return -1;
            p++;
        } while (depth > 0);
    }
    *pp = p;
    return 0;
}

static int rsp_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int rsp_parse(const char *s, rsp *r)
{
    memset(r, 0, sizeof(*r));
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return -1;
    const char *p = s;
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz");
    if (n == 0 || n >= sizeof(r->result))
        return -1;
    memcpy(r->result, p, n);
    r->result[n] = '\0';
    p += n;
    if (*p && *p != ' ')
        return -1;
    if (rsp_cfws(&p) != 0)
        return -1;
    while (*p) {
        if (r->n == RSP_MAX)
            return -1;
        buf *k = &r->key[r->n], *v = &r->val[r->n];
        size_t kl = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
        if (kl == 0)
            return -1;
        buf_append(k, p, kl);
        p += kl;
        if (rsp_cfws(&p) != 0 || *p++ != '=' || rsp_cfws(&p) != 0)
            return -1;
        if (*p == '"') {
            p++;
            while (*p != '"') {
                if (*p == '\\') {
                    if (!rsp_vchar8((unsigned char)p[1]) && p[1] != ' ')
                        return -1;
                    p++;
                } else if (*p != ' ' && !rsp_vchar8((unsigned char)*p)) {
                    return -1;
                }
                buf_append_char(v, *p++);
            }
            p++;
        } else {
            const char *b = p;
            while (rsp_atext((unsigned char)*p) || (*p == '.' && p > b && rsp_atext((unsigned char)p[1])))
                p++;
            if (p == b)
                return -1;
            buf_append(v, b, (size_t)(p - b));
        }
        buf_cstr(v);
        r->n++;
        if (rsp_cfws(&p) != 0)
            return -1;
        if (*p == ';') {
            p++;
            if (rsp_cfws(&p) != 0)
                return -1;
        } else if (*p) {
            return -1;
        }
    }
    return 0;
}

/* the value of key, or NULL */
static const char *rsp_get(rsp *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(buf_cstr(&r->key[i]), key) == 0)
            return buf_cstr(&r->val[i]);
    return NULL;
}

#endif
