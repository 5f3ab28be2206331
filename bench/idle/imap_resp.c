/* imap_resp: see imap_resp.h. */
#include "imap_resp.h"

#include <string.h>

/* The line starts with word followed by a space or ends after it. */
static int word_at(const char *p, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(p, word, n) == 0 && (len == n || p[n] == ' ');
}

/* "N EXISTS" exactly, N decimal without overflow. */
static int parse_exists(const char *p, size_t len, unsigned long *n)
{
    size_t i = 0;
    unsigned long v = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        unsigned long d = (unsigned long)(p[i] - '0');
        if (v > (~0UL - d) / 10)
            return 0;
        v = v * 10 + d;
        i++;
    }
    if (i == 0 || len - i != strlen(" EXISTS") || memcmp(p + i, " EXISTS", len - i) != 0)
        return 0;
    *n = v;
    return 1;
}

imap_resp imap_resp_classify(const char *line, size_t len, const char *tag)
{
    imap_resp r = {IMAP_RESP_OTHER, 0};
    if (len >= 1 && line[0] == '+') {
        r.kind = IMAP_RESP_CONTINUE;
        return r;
    }
    if (len >= 2 && line[0] == '*' && line[1] == ' ') {
        const char *p = line + 2;
        size_t n = len - 2;
        if (word_at(p, n, "OK"))
            r.kind = IMAP_RESP_UNTAGGED_OK;
        else if (word_at(p, n, "BYE"))
            r.kind = IMAP_RESP_BYE;
        else if (parse_exists(p, n, &r.exists))
            r.kind = IMAP_RESP_EXISTS;
        return r;
    }
    size_t t = strlen(tag);
    if (t > 0 && len > t && memcmp(line, tag, t) == 0 && line[t] == ' ') {
        const char *p = line + t + 1;
        size_t n = len - t - 1;
        if (word_at(p, n, "OK"))
            r.kind = IMAP_RESP_TAGGED_OK;
        else if (word_at(p, n, "NO") || word_at(p, n, "BAD"))
            r.kind = IMAP_RESP_TAGGED_FAIL;
    }
    return r;
}

void imap_lines_init(imap_lines *l, size_t max_line)
{
    buf_init(&l->in);
    l->start = 0;
    l->max_line = max_line;
}

void imap_lines_free(imap_lines *l)
{
    buf_free(&l->in);
    l->start = 0;
}

void imap_lines_feed(imap_lines *l, const void *data, size_t len)
{
    /* Drop the lines already returned before growing: the buffer holds at
     * most one partial line plus what just arrived. */
    if (l->start > 0) {
        size_t rest = l->in.len - l->start;
        memmove(l->in.data, l->in.data + l->start, rest);
        l->in.len = rest;
        l->in.data[rest] = '\0';
        l->start = 0;
    }
    buf_append(&l->in, data, len);
}

int imap_lines_next(imap_lines *l, const char **line, size_t *len)
{
    const char *p = l->in.data ? l->in.data + l->start : "";
    size_t avail = l->in.len - l->start;
    for (size_t i = 0; i + 1 < avail; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n') {
            if (i > l->max_line)
                return -1;
            *line = p;
            *len = i;
            l->start += i + 2;
            return 1;
        }
    }
    /* No CRLF yet: a pending line longer than the bound (plus a CR that may
     * start the CRLF) will never be accepted. */
    return avail > l->max_line + 1 ? -1 : 0;
}
