/* authors: addresses of From:/Sender: headers; see authors.h. */
#include "authors.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One mailbox being read: its text outside comments, quotes kept as
 * they are (a quoted local part is part of the address), and the
 * angle-addr if there is one. */
struct mailbox {
    buf plain, angle;
    int angles;
};

static int finish(struct mailbox *m, struct authors *a, buf *err)
{
    const char *spec = m->angles ? buf_cstr(&m->angle) : buf_cstr(&m->plain);
    if (m->angles > 1) {
        buf_append_str(err, "a mailbox with two <addresses>");
        return -1;
    }
    /* <@route,@route:addr> (obsolete source route): the address is after ':' */
    if (m->angles) {
        const char *colon = strrchr(spec, ':');
        if (spec[0] == '@' && colon)
            spec = colon + 1;
    }
    while (*spec == ' ')
        spec++;
    size_t len = strlen(spec);
    while (len > 0 && spec[len - 1] == ' ')
        len--;
    if (len == 0 && !m->angles) {
        /* nothing between two commas: RFC 5322 obs-list allows it */
        buf_reset(&m->plain);
        return 0;
    }
    const char *at = memrchr(spec, '@', len);
    if (at == NULL || at == spec || at + 1 == spec + len || len > 254) {
        buf_append_str(err, "an author without a complete address");
        return -1;
    }
    if (a->n == AUTHORS_MAX) {
        buf_append_str(err, "too many authors");
        return -1;
    }
    char *s = malloc(len + 1);
    if (s == NULL) {
        buf_append_str(err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        s[i] = (char)tolower((unsigned char)spec[i]);
    s[len] = '\0';
    a->address[a->n++] = s;
    buf_reset(&m->plain);
    buf_reset(&m->angle);
    m->angles = 0;
    return 0;
}

int authors_parse(const char *value, struct authors *a, buf *err)
{
    struct mailbox m = {BUF_INIT, BUF_INIT, 0};
    int rc = 0, in_group = 0;
    buf_append_str(&m.plain, "");
    buf_append_str(&m.angle, "");
    for (const char *p = value; rc == 0 && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n' || c == '\t') {
            continue;       /* folding */
        } else if (c < 0x20 || c == 0x7f) {
            buf_append_str(err, "a control character");
            rc = -1;
        } else if (c == '(') {
            int depth = 1;
            while (depth > 0 && *++p) {
                if (*p == '\\' && p[1])
                    p++;
                else if (*p == '(')
                    depth++;
                else if (*p == ')')
                    depth--;
            }
            if (depth > 0) {
                buf_append_str(err, "an unclosed comment");
                rc = -1;
                p--;
            }
        } else if (c == '"') {
            buf qs = BUF_INIT;
            buf_append_str(&qs, "\"");
            int closed = 0;
            while (*++p) {
                if (*p == '\\' && p[1]) {
                    buf_append(&qs, p, 2);
                    p++;
                } else if (*p == '"') {
                    closed = 1;
                    break;
                } else {
                    buf_append(&qs, p, 1);
                }
            }
            buf_append_str(&qs, "\"");
            if (!closed) {
                buf_append_str(err, "an unclosed quote");
                rc = -1;
                p--;
            } else {
                buf_append_str(&m.plain, buf_cstr(&qs));   /* a quoted local part, or a phrase */
            }
            buf_free(&qs);
        } else if (c == '<') {
            const char *end = strchr(p, '>');
            if (end == NULL) {
                buf_append_str(err, "an unclosed <");
                rc = -1;
                break;
            }
            buf_reset(&m.angle);
            for (const char *q = p + 1; q < end; q++)
                if (!isspace((unsigned char)*q))
                    buf_append(&m.angle, q, 1);
            m.angles++;
            p = end;
        } else if (c == ':' && !m.angles) {
            /* display-name ":" starts a group; what came before is its name */
            if (in_group) {
                buf_append_str(err, "a group inside a group");
                rc = -1;
            }
            in_group = 1;
            buf_reset(&m.plain);
        } else if (c == ';' && in_group) {
            rc = finish(&m, a, err);
            in_group = 0;
        } else if (c == ',') {
            rc = finish(&m, a, err);
        } else if (c == ' ') {
            /* words of a display name are joined; an addr-spec has no spaces */
            if (m.plain.len > 0)
                buf_append_str(&m.plain, " ");
        } else {
            buf_append(&m.plain, p, 1);
        }
    }
    if (rc == 0) {
        /* A display name without <address> is no address: "Bob Smith" */
        rc = finish(&m, a, err);
    }
    if (rc == 0 && in_group) {
        buf_append_str(err, "an unclosed group");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < a->n; i++)
        if (strchr(a->address[i], ' ') || strchr(a->address[i], '<') || strchr(a->address[i], '>')) {
            buf_append_str(err, "an author without a complete address");
            rc = -1;
        }
    buf_free(&m.plain);
    buf_free(&m.angle);
    return rc;
}

void authors_free(struct authors *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->address[i]);
    a->n = 0;
}

char *authors_strip_extension(const char *address)
{
    const char *at = strrchr(address, '@'), *plus = strchr(address, '+');
    if (at == NULL || plus == NULL || plus > at || plus == address)
        return NULL;
    size_t head = (size_t)(plus - address), tail = strlen(at);
    char *s = malloc(head + tail + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, address, head);
    memcpy(s + head, at, tail + 1);
    return s;
}

int authors_same(const char *address, const char *login)
{
    if (strcasecmp(address, login) == 0)
        return 1;
    char *bare = authors_strip_extension(address);
    int same = bare != NULL && strcasecmp(bare, login) == 0;
    free(bare);
    return same;
}
