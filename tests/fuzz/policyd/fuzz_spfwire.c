/* libFuzzer harness for the daemon <-> SPF helper line format
 * (src/policyd/spf.c): both parsers, the round trip of whatever the
 * request parser accepts, and the Received-SPF header the daemon writes
 * from an answer and a request with a hostile sender and HELO name
 * (RFC 7208 9.1: read back with received_spf_parse.h, it has exactly our
 * fields and the sender's value). The input is
 * "answer line\0sender\0helo". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../unit/policyd/received_spf_parse.h"
#include "spf.h"

static const char *part(const char **p, const char *end)
{
    const char *s = *p;
    const char *z = memchr(s, '\0', (size_t)(end - s));
    *p = z ? z + 1 : end;
    return s;
}

/* Received-SPF as spf_decide writes it for this request, checked */
static void check_header(const config *cfg, const spf_answer *a, const char *sender, const char *helo)
{
    request r;
    request_init(&r, NULL);
    buf in = BUF_INIT;
    buf_printf(&in, "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
               "helo_name=%s\nsender=%s\n\n", helo, sender);
    size_t used;
    if (request_feed(&r, in.data, in.len, &used) == REQ_DONE && !r.bad) {
        decision d;
        decision_init(&d);
        spf_decide(cfg, &r, a, &d);
        const char *act = buf_cstr(&d.action);
        if (strncmp(act, "PREPEND Received-SPF: ", 22) == 0) {
            rsp p;
            if (rsp_parse(act + 22, &p) != 0)
                __builtin_trap();   /* not the RFC's grammar */
            const char *s = request_get(&r, "sender");
            const char *from = rsp_get(&p, "envelope-from");
            size_t want = 3 + (from != NULL) + (rsp_get(&p, "helo") != NULL);
            if (p.n != want || !rsp_get(&p, "receiver") || !rsp_get(&p, "client-ip") ||
                !rsp_get(&p, "identity") || strcmp(p.result, a->result) != 0)
                __builtin_trap();   /* a field too many, or one of ours missing */
            int plain = 1;          /* printable ASCII comes back as it was */
            for (const char *q = s; *q; q++)
                if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
                    plain = 0;
            if (from && plain && strcmp(from, s) != 0)
                __builtin_trap();
            rsp_free(&p);
        }
        decision_free(&d);
    }
    buf_free(&in);
    request_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *all = malloc(size + 1);
    memcpy(all, data, size);
    all[size] = '\0';
    const char *p = all, *end = all + size;
    char *line = strdup(part(&p, end));
    const char *sender = p < end ? part(&p, end) : "a\"b; identity=helo@x.example";
    const char *helo = p < end ? part(&p, end) : "mx.example.org";
    char *copy = strdup(line);
    unsigned long id;
    const char *ip, *h, *s;
    if (spf_wire_parse_request(line, &id, &ip, &h, &s) == 0) {
        buf b = BUF_INIT;
        spf_wire_request(&b, id, ip, h, s);
        if (b.len == 0 || b.data[b.len - 1] != '\n' || memchr(b.data, '\n', b.len - 1))
            __builtin_trap();
        buf_free(&b);
    }
    spf_answer a;
    spf_answer_init(&a);
    if (spf_wire_parse_answer(copy, &id, &a) == 0) {
        config cfg;
        config_defaults(&cfg);
        cfg.spf.receiver = strdup("mx.example.test");
        request r;
        request_init(&r, NULL);
        decision d;
        decision_init(&d);
        spf_decide(&cfg, &r, &a, &d);
        for (size_t i = 0; i < d.action.len; i++)
            if ((unsigned char)d.action.data[i] < 0x20)
                __builtin_trap();   /* an answer to Postfix is one line */
        decision_free(&d);
        request_free(&r);
        cfg.spf.reject_fail = 0;
        check_header(&cfg, &a, sender, helo);
        config_free(&cfg);
    }
    spf_answer_free(&a);
    free(copy);
    free(line);
    free(all);
    return 0;
}
