/* Unit tests for src/tlspolicy/decide.c: DANE before MTA-STS, with a fake
 * DNS and a fake mta-sts-daemon injected through decide.h's interfaces
 * (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "decide.h"

/* The fake DNS: one row per (name, type); names of MX exchanges as one
 * comma-separated string. A name not in the table is NXDOMAIN. */
struct fake_rr {
    const char *name;
    enum dns_type type;
    enum dns_status status;
    int secure;
    size_t n;
    const char *mx;
};

struct fake_dns {
    const struct fake_rr *rows;
    size_t nrows;
    int queries;
};

static int fake_query(void *ctx, const char *name, enum dns_type type, struct dns_result *out)
{
    struct fake_dns *d = ctx;
    d->queries++;
    memset(out, 0, sizeof(*out));
    out->status = DNS_NXDOMAIN;
    for (size_t i = 0; i < d->nrows; i++) {
        const struct fake_rr *r = &d->rows[i];
        if (strcmp(r->name, name) != 0 || r->type != type)
            continue;
        out->status = r->status;
        out->secure = r->secure;
        out->n = r->n;
        if (type == DNS_MX && r->n) {
            out->names = xcalloc(r->n, sizeof(char *));
            const char *p = r->mx;
            for (size_t k = 0; k < r->n; k++) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                out->names[k] = xstrndup(p, len);
                p = comma ? comma + 1 : p + len;
            }
        }
        break;
    }
    return 0;
}

struct fake_sts {
    const char *answer;     /* NULL: cannot be asked */
    int asked;
    char last_key[300];
};

static int fake_ask(void *ctx, const char *key, buf *answer, buf *err)
{
    struct fake_sts *s = ctx;
    s->asked++;
    snprintf(s->last_key, sizeof s->last_key, "%s", key);
    if (s->answer == NULL) {
        buf_append_str(err, "connect: No such file or directory");
        return -1;
    }
    buf_append_str(answer, s->answer);
    return 0;
}

static const struct fake_rr ZONE[] = {
    /* both.test: signed MX, both hosts with validated TLSA */
    {"both.test", DNS_MX, DNS_OK, 1, 2, "mx1.both.test,mx2.both.test"},
    {"_25._tcp.mx1.both.test", DNS_TLSA, DNS_OK, 1, 1, NULL},
    {"_25._tcp.mx2.both.test", DNS_TLSA, DNS_OK, 1, 2, NULL},
    /* half.test: signed MX, only one of two hosts with TLSA */
    {"half.test", DNS_MX, DNS_OK, 1, 2, "mx1.half.test,mx2.half.test"},
    {"_25._tcp.mx1.half.test", DNS_TLSA, DNS_OK, 1, 1, NULL},
    {"_25._tcp.mx2.half.test", DNS_TLSA, DNS_NODATA, 1, 0, NULL},
    /* unsigned.test: TLSA records, but nothing validated */
    {"unsigned.test", DNS_MX, DNS_OK, 0, 1, "mx.unsigned.test"},
    {"_25._tcp.mx.unsigned.test", DNS_TLSA, DNS_OK, 0, 1, NULL},
    /* insecure-tlsa.test: signed MX, TLSA in an unsigned zone */
    {"insecure-tlsa.test", DNS_MX, DNS_OK, 1, 1, "mx.other.test"},
    {"_25._tcp.mx.other.test", DNS_TLSA, DNS_OK, 0, 1, NULL},
    /* nomx.test: validated "no MX"; the domain is its own host */
    {"nomx.test", DNS_MX, DNS_NODATA, 1, 0, NULL},
    {"_25._tcp.nomx.test", DNS_TLSA, DNS_OK, 1, 1, NULL},
    /* broken.test: the MX's TLSA lookup fails (SERVFAIL) */
    {"broken.test", DNS_MX, DNS_OK, 1, 1, "mx.broken.test"},
    {"_25._tcp.mx.broken.test", DNS_TLSA, DNS_TEMPFAIL, 0, 0, NULL},
    /* down.test: the MX lookup itself fails */
    {"down.test", DNS_MX, DNS_TEMPFAIL, 0, 0, NULL},
    /* nullmx.test: RFC 7505 */
    {"nullmx.test", DNS_MX, DNS_OK, 1, 1, ""},
    /* plain.test: signed, no TLSA anywhere */
    {"plain.test", DNS_MX, DNS_OK, 1, 1, "mx.plain.test"},
    {"_25._tcp.mx.plain.test", DNS_TLSA, DNS_NXDOMAIN, 1, 0, NULL},
};

static enum decision_kind run(const char *key, const char *sts_answer, buf *answer, struct fake_sts *sts,
                              struct fake_dns *dns)
{
    dns->rows = ZONE;
    dns->nrows = sizeof ZONE / sizeof ZONE[0];
    sts->answer = sts_answer;
    struct resolver r = {.query = fake_query, .ctx = dns};
    struct mtasts_source m = {.ask = fake_ask, .ctx = sts};
    buf note = BUF_INIT;
    enum decision_kind k = decide(key, &r, &m, answer, &note);
    buf_free(&note);
    return k;
}

/* The case: TLSA and an MTA-STS policy: DANE, and mta-sts-daemon
 * is not even asked. */
static void test_dane_wins_over_mta_sts(void **state)
{
    (void)state;
    buf a = BUF_INIT;
    struct fake_sts sts = {0};
    struct fake_dns dns = {0};
    assert_int_equal(run("both.test", "OK secure match=mx1.both.test", &a, &sts, &dns), DECISION_DANE);
    assert_string_equal(a.data, "OK dane");
    assert_int_equal(sts.asked, 0);
    assert_int_equal(dns.queries, 3);
    /* the same whether mta-sts-daemon is up or not */
    memset(&sts, 0, sizeof sts);
    assert_int_equal(run("nomx.test", NULL, &a, &sts, &dns), DECISION_DANE);
    assert_string_equal(a.data, "OK dane");
    buf_free(&a);
}

static void test_not_dane_goes_to_mta_sts_unchanged(void **state)
{
    (void)state;
    const char *keys[] = {"half.test", "unsigned.test", "insecure-tlsa.test", "nullmx.test", "plain.test",
                          "nowhere.test", ".test", "[192.0.2.1]:25", "localhost"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        buf a = BUF_INIT;
        struct fake_sts sts = {0};
        struct fake_dns dns = {0};
        assert_int_equal(run(keys[i], "OK secure match=mx.x.test servername=hostname", &a, &sts, &dns),
                         DECISION_MTASTS);
        assert_string_equal(a.data, "OK secure match=mx.x.test servername=hostname");
        assert_int_equal(sts.asked, 1);
        assert_string_equal(sts.last_key, keys[i]);
        buf_free(&a);
    }
}

static void test_mta_sts_answers_kinds(void **state)
{
    (void)state;
    buf a = BUF_INIT;
    struct fake_sts sts = {0};
    struct fake_dns dns = {0};
    assert_int_equal(run("plain.test", "NOTFOUND ", &a, &sts, &dns), DECISION_NONE);
    assert_string_equal(a.data, "NOTFOUND ");
    assert_int_equal(run("plain.test", "TEMP policy fetch failed", &a, &sts, &dns), DECISION_TEMP);
    assert_string_equal(a.data, "TEMP policy fetch failed");
    assert_int_equal(run("plain.test", "PERM bad", &a, &sts, &dns), DECISION_TEMP);
    assert_string_equal(a.data, "PERM bad");
    assert_int_equal(run("plain.test", "OKAY", &a, &sts, &dns), DECISION_TEMP);
    buf_free(&a);
}

/* Fail closed: mta-sts-daemon down, or DNS failing where it decides. */
static void test_fail_closed(void **state)
{
    (void)state;
    buf a = BUF_INIT;
    struct fake_sts sts = {0};
    struct fake_dns dns = {0};
    assert_int_equal(run("plain.test", NULL, &a, &sts, &dns), DECISION_TEMP);
    assert_int_equal(strncmp(a.data, "TEMP", 4), 0);
    memset(&sts, 0, sizeof sts);
    assert_int_equal(run("broken.test", "NOTFOUND ", &a, &sts, &dns), DECISION_TEMP);
    assert_int_equal(strncmp(a.data, "TEMP", 4), 0);
    assert_int_equal(sts.asked, 0);
    assert_int_equal(run("down.test", "NOTFOUND ", &a, &sts, &dns), DECISION_TEMP);
    assert_int_equal(strncmp(a.data, "TEMP", 4), 0);
    assert_int_equal(sts.asked, 0);
    buf_free(&a);
}

/* Keys that are not domains never reach the DNS. */
static void test_non_domain_keys(void **state)
{
    (void)state;
    assert_int_equal(decide_is_domain("dane.test"), 1);
    assert_int_equal(decide_is_domain("Mx-1.Example.ORG"), 1);
    const char *bad[] = {"", ".test", "test.", "localhost", "[192.0.2.1]", "[mx.test]:25", "a..b", "-a.test",
                         "a-.test", "a_b.test", "a.test:25"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(decide_is_domain(bad[i]), 0);
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".test");
    assert_int_equal(decide_is_domain(label), 0);       /* a 64-byte label */
    buf a = BUF_INIT;
    struct fake_sts sts = {0};
    struct fake_dns dns = {0};
    run("[mx.both.test]:25", "NOTFOUND ", &a, &sts, &dns);
    assert_int_equal(dns.queries, 0);
    buf_free(&a);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(decision_kind_name(DECISION_DANE), "dane");
    assert_string_equal(decision_kind_name(DECISION_MTASTS), "mta-sts");
    assert_string_equal(decision_kind_name(DECISION_NONE), "none");
    assert_string_equal(decision_kind_name(DECISION_TEMP), "temp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dane_wins_over_mta_sts),
        cmocka_unit_test(test_not_dane_goes_to_mta_sts_unchanged),
        cmocka_unit_test(test_mta_sts_answers_kinds),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_non_domain_keys),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests_name("tlspolicy decide", tests, NULL, NULL);
}
