/* spf: see spf.h. */
#include "spf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

static const char *const results[] = {
    "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", NULL
};

void spf_answer_init(spf_answer *a)
{
    memset(a, 0, sizeof(*a));
    buf_init(&a->value);
    buf_init(&a->comment);
}

void spf_answer_free(spf_answer *a)
{
    buf_free(&a->value);
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

void spf_answer_set(spf_answer *a, const char *result, const char *value, const char *comment)
{
    int known = 0;
    for (int i = 0; results[i]; i++)
        if (strcmp(results[i], result) == 0)
            known = 1;
    snprintf(a->result, sizeof(a->result), "%s", known ? result : "permerror");
    buf_reset(&a->value);
    field(&a->value, value);
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
    unsigned char tmp[16];
    if (inet_pton(AF_INET, ip, tmp) != 1 && inet_pton(AF_INET6, ip, tmp) != 1)
        return "spf: no client address";
    if (cidr_list_match(&cfg->spf.trusted_forwarders, ip))
        return "spf: trusted forwarder";
    return NULL;
}

void spf_decide(const config *cfg, const spf_answer *a, decision *d)
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
    } else if (a->value.len) {
        buf_append_str(&action, "PREPEND Received-SPF: ");
        buf_append_str(&action, a->value.data);
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
