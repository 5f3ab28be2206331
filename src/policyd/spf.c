/* spf: see spf.h. */
#include "spf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "netaddr.h"

static const char *const results[] = {
    "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", NULL
};

void spf_answer_init(spf_answer *a)
{
    memset(a, 0, sizeof(*a));
    buf_init(&a->header_comment);
    buf_init(&a->comment);
}

void spf_answer_free(spf_answer *a)
{
    buf_free(&a->header_comment);
    buf_free(&a->comment);
}

static void field(buf *out, const char *s)
{
    size_t n = 0;
    for (; *s && n < SPF_FIELD_MAX; s++, n++) {
        unsigned char c = (unsigned char)*s;
        buf_append_char(out, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
    }
}

void spf_answer_set(spf_answer *a, const char *result, const char *header_comment, const char *comment)
{
    int known = 0;
    for (int i = 0; results[i]; i++)
        if (strcmp(results[i], result) == 0)
            known = 1;
    snprintf(a->result, sizeof(a->result), "%s", known ? result : "permerror");
    buf_reset(&a->header_comment);
    field(&a->header_comment, header_comment);
    buf_reset(&a->comment);
    field(&a->comment, comment);
}

const char *spf_skip_reason(const config *cfg, const request *r)
{
    if (!cfg->spf.enabled)
        return "spf: off";
    if (strcmp(request_get(r, "protocol_state"), "RCPT") != 0)
        return "spf: not at RCPT";
    if (*request_get(r, "sasl_username"))
        return "spf: authenticated";
    const char *ip = request_get(r, "client_address");
    int family;
    unsigned char addr[16];
    if (netaddr_parse_ip(ip, &family, addr) != 0)
        return "spf: no client address";
    if (cidr_list_match(&cfg->spf.trusted_forwarders, ip))
        return "spf: trusted forwarder";
    return NULL;
}

/* ---- Received-SPF (RFC 7208 9.1; RFC 5322 3.2.2-3.2.4; RFC 6532 3.2) ---- */

#define SPF_SENDER_MAX 256      /* RFC 5321 4.5.3.1.3: reverse-path */
#define SPF_HELO_MAX 255        /* a domain name */

/* Length of the UTF-8 sequence (RFC 3629, no overlongs or surrogates) at
 * s, else 0. Only multi-byte sequences: ASCII is the callers' business. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* RFC 5322 atext */
static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* RFC 5322 dot-atom-text: atoms of atext joined by single dots */
static int is_dot_atom(const char *s)
{
    if (!*s || *s == '.')
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (p[1] == '.' || p[1] == '\0')
                return 0;
        } else if (!is_atext((unsigned char)*p)) {
            return 0;
        }
    }
    return 1;
}

/* Appends s with the bytes in `special` as quoted pairs ("\x"), space
 * as itself, other printable ASCII and UTF-8 as they are, anything else
 * (controls, CR, LF, TAB, DEL, bytes that are not UTF-8) as '?'. */
static void append_escaped(buf *out, const char *s, const char *special)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p >= 0x80) {
            size_t n = utf8_len(p);
            if (n) {
                buf_append(out, p, n);
                p += n;
            } else {
                buf_append_char(out, '?');
                p++;
            }
            continue;
        }
        if (*p < 0x20 || *p == 0x7f)
            buf_append_char(out, '?');
        else {
            if (strchr(special, *p))
                buf_append_char(out, '\\');
            buf_append_char(out, (char)*p);
        }
        p++;
    }
}

/* key=value: a dot-atom as it is, anything else a quoted-string. */
static void append_pair(buf *out, const char *key, const char *value)
{
    buf_printf(out, " %s=", key);
    if (is_dot_atom(value)) {
        buf_append_str(out, value);
        return;
    }
    buf_append_char(out, '"');
    append_escaped(out, value, "\"\\");
    buf_append_char(out, '"');
}

void spf_received_value(buf *out, const char *result, const char *comment, const char *receiver,
                        const char *ip, const char *helo, const char *sender)
{
    char host[256];
    if (!receiver || !*receiver) {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        receiver = host;
    }
    /* result is one of `results` (spf_answer_set), never input */
    buf_append_str(out, result);
    if (comment && *comment) {
        buf_append_str(out, " (");
        append_escaped(out, comment, "()\\");
        buf_append_char(out, ')');
    }
    append_pair(out, "receiver", receiver);
    buf_append_char(out, ';');
    append_pair(out, "client-ip", ip);
    if (*sender && strlen(sender) <= SPF_SENDER_MAX) {
        buf_append_char(out, ';');
        append_pair(out, "envelope-from", sender);
    }
    if (*helo && strlen(helo) <= SPF_HELO_MAX) {
        buf_append_char(out, ';');
        append_pair(out, "helo", helo);
    }
    buf_append_char(out, ';');
    /* libspf2 checks the HELO identity when the sender is null */
    append_pair(out, "identity", *sender ? "mailfrom" : "helo");
}

void spf_decide(const config *cfg, const request *r, const spf_answer *a, decision *d)
{
    buf action = BUF_INIT;
    if (strcmp(a->result, "fail") == 0 && cfg->spf.reject_fail) {
        buf_append_str(&action, "550 5.7.23 ");
        if (a->comment.len)
            buf_append_str(&action, a->comment.data);
        else
            buf_append_str(&action, "SPF check failed: the sender's domain does not allow this client");
        decision_set(d, action.data, "spf: fail");
    } else if (strcmp(a->result, "temperror") == 0 && cfg->spf.temperror_defer) {
        decision_set(d, "451 4.7.24 Temporary SPF error; try again later", "spf: temperror (%s)",
                     a->comment.len ? a->comment.data : "");
    } else if (a->header_comment.len) {
        buf_append_str(&action, "PREPEND Received-SPF: ");
        spf_received_value(&action, a->result, a->header_comment.data, cfg->spf.receiver,
                           request_get(r, "client_address"), request_get(r, "helo_name"),
                           request_get(r, "sender"));
        decision_set(d, action.data, "spf: %s", a->result);
    } else {
        decision_set(d, "DUNNO", "spf: %s (no header)", a->result);
    }
    buf_free(&action);
}

void spf_wire_request(buf *out, unsigned long id, const char *ip, const char *helo, const char *sender)
{
    buf_printf(out, "%lu\t", id);
    field(out, ip);
    buf_append_char(out, '\t');
    field(out, helo);
    buf_append_char(out, '\t');
    field(out, sender);
    buf_append_char(out, '\n');
}

static int split(char *line, char **f, int n)
{
    int i = 0;
    f[i++] = line;
    for (char *p = line; *p; p++)
        if (*p == '\t') {
            if (i == n)
                return -1;
            *p = '\0';
            f[i++] = p + 1;
        }
    return i == n ? 0 : -1;
}

static int parse_id(const char *s, unsigned long *id)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return -1;
    *id = strtoul(s, &end, 10);
    return *end ? -1 : 0;
}

int spf_wire_parse_request(char *line, unsigned long *id, const char **ip,
                           const char **helo, const char **sender)
{
    char *f[4];
    if (strlen(line) > SPF_LINE_MAX || split(line, f, 4) != 0 || parse_id(f[0], id) != 0)
        return -1;
    for (int i = 1; i < 4; i++)
        for (char *p = f[i]; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return -1;
    *ip = f[1];
    *helo = f[2];
    *sender = f[3];
    return 0;
}

void spf_wire_answer(buf *out, unsigned long id, const char *result, const char *value,
                     const char *comment)
{
    buf_printf(out, "%lu\t", id);
    field(out, result);
    buf_append_char(out, '\t');
    field(out, value);
    buf_append_char(out, '\t');
    field(out, comment);
    buf_append_char(out, '\n');
}

int spf_wire_parse_answer(char *line, unsigned long *id, spf_answer *a)
{
    char *f[4];
    if (strlen(line) > SPF_LINE_MAX || split(line, f, 4) != 0 || parse_id(f[0], id) != 0)
        return -1;
    int known = 0;
    for (int i = 0; results[i]; i++)
        if (strcmp(results[i], f[1]) == 0)
            known = 1;
    if (!known)
        return -1;
    spf_answer_set(a, f[1], f[2], f[3]);
    return 0;
}
