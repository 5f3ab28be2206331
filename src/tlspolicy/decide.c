/* decide: see decide.h. */
#include "decide.h"

#include <stdlib.h>
#include <string.h>

void dns_result_free(struct dns_result *r)
{
    for (size_t i = 0; r->names && i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    memset(r, 0, sizeof(*r));
}

static const char *const kind_names[] = {
    [DECISION_DANE] = "dane", [DECISION_MTASTS] = "mta-sts", [DECISION_NONE] = "none", [DECISION_TEMP] = "temp"};

const char *decision_kind_name(enum decision_kind k)
{
    return k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "?";
}

int decide_is_domain(const char *key)
{
    size_t len = strlen(key), label = 0, dots = 0;
    if (len == 0 || len > 253 || key[0] == '.' || key[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (c == '.') {
            if (label == 0 || key[i - 1] == '-')
                return 0;
            label = 0;
            dots++;
            continue;
        }
        int ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ldh || (c == '-' && label == 0) || ++label > 63)
            return 0;
    }
    return dots > 0 && key[len - 1] != '-';
}

enum dane_state { DANE_APPLIES, DANE_NOT, DANE_FAILED };

/* Validated TLSA records for port 25 of one host. */
static enum dane_state host_has_tlsa(const char *host, const struct resolver *dns, buf *note)
{
    char *name = xasprintf("_25._tcp.%s", host);
    struct dns_result r = {0};
    enum dane_state st = DANE_NOT;
    if (dns->query(dns->ctx, name, DNS_TLSA, &r) != 0 || r.status == DNS_TEMPFAIL) {
        buf_printf(note, "TLSA lookup for %s failed", name);
        st = DANE_FAILED;
    } else if (r.status == DNS_OK && r.n > 0 && r.secure) {
        st = DANE_APPLIES;
    } else {
        buf_printf(note, "%s: no %sTLSA records", host, r.status == DNS_OK && r.n > 0 ? "validated " : "");
    }
    dns_result_free(&r);
    free(name);
    return st;
}

/* DANE for the whole domain: a validated MX RRset (or validated "no MX":
 * the domain is its own host), every host with validated TLSA records. */
static enum dane_state domain_dane(const char *domain, const struct resolver *dns, buf *note)
{
    struct dns_result mx = {0};
    enum dane_state st;
    if (dns->query(dns->ctx, domain, DNS_MX, &mx) != 0 || mx.status == DNS_TEMPFAIL) {
        buf_printf(note, "MX lookup for %s failed", domain);
        st = DANE_FAILED;
    } else if (mx.status == DNS_NXDOMAIN) {
        buf_printf(note, "%s does not exist", domain);
        st = DANE_NOT;
    } else if (!mx.secure) {
        buf_printf(note, "MX of %s not DNSSEC-validated", domain);
        st = DANE_NOT;
    } else if (mx.status == DNS_NODATA || mx.n == 0) {
        st = host_has_tlsa(domain, dns, note);
    } else if (mx.n > DECIDE_MAX_MX) {
        buf_printf(note, "%s has more than %d MX hosts", domain, DECIDE_MAX_MX);
        st = DANE_NOT;
    } else {
        st = DANE_APPLIES;
        for (size_t i = 0; i < mx.n && st == DANE_APPLIES; i++) {
            if (mx.names[i][0] == '\0') {       /* null MX (RFC 7505): no mail at all */
                buf_printf(note, "%s has a null MX", domain);
                st = DANE_NOT;
            } else {
                st = host_has_tlsa(mx.names[i], dns, note);
            }
        }
    }
    dns_result_free(&mx);
    return st;
}

/* The first word of mta-sts-daemon's answer says what it was. */
static enum decision_kind mtasts_kind(const buf *answer)
{
    const char *a = answer->data ? answer->data : "";
    if (strncmp(a, "OK", 2) == 0 && (a[2] == ' ' || a[2] == '\0'))
        return DECISION_MTASTS;
    if (strncmp(a, "NOTFOUND", 8) == 0 && (a[8] == ' ' || a[8] == '\0'))
        return DECISION_NONE;
    return DECISION_TEMP;       /* TEMP, PERM, anything else: Postfix defers */
}

enum decision_kind decide(const char *key, const struct resolver *dns, const struct mtasts_source *sts,
                          buf *answer, buf *note)
{
    buf_reset(answer);
    if (decide_is_domain(key)) {
        enum dane_state st = domain_dane(key, dns, note);
        if (st == DANE_APPLIES) {
            buf_append_str(answer, "OK dane");
            return DECISION_DANE;
        }
        if (st == DANE_FAILED) {
            buf_append_str(answer, "TEMP DNS lookup failed; DANE cannot be ruled out");
            return DECISION_TEMP;
        }
    }
    buf err = BUF_INIT;
    if (sts->ask(sts->ctx, key, answer, &err) != 0) {
        buf_reset(answer);
        buf_append_str(answer, "TEMP MTA-STS policy server unavailable");
        if (note->len)
            buf_append_str(note, "; ");
        buf_printf(note, "mta-sts-daemon: %s", buf_cstr(&err));
        buf_free(&err);
        return DECISION_TEMP;
    }
    buf_free(&err);
    return mtasts_kind(answer);
}
