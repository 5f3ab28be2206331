/* Unit tests for src/tlspolicy/resolver.c's dns_parse_response: the AD
 * bit, rcodes, MX order, null MX, TLSA counted, CNAME and RRSIG skipped,
 * malformed answers refused (cmocka). The messages are built here byte by
 * byte (uncompressed names), as a resolver would send them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "resolver.h"

struct msg {
    unsigned char b[1024];
    size_t len;
};

static void put16(struct msg *m, unsigned v)
{
    m->b[m->len++] = (unsigned char)(v >> 8);
    m->b[m->len++] = (unsigned char)v;
}

static void put_name(struct msg *m, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t n = dot ? (size_t)(dot - name) : strlen(name);
        m->b[m->len++] = (unsigned char)n;
        memcpy(m->b + m->len, name, n);
        m->len += n;
        name += n + (dot ? 1 : 0);
    }
    m->b[m->len++] = 0;
}

/* Header (QR, RD, RA, AD as asked, rcode), the question. */
static void begin(struct msg *m, int ad, int rcode, unsigned ancount, const char *qname, unsigned qtype)
{
    memset(m, 0, sizeof(*m));
    put16(m, 0x1234);
    put16(m, 0x8180 | (ad ? 0x20 : 0) | (unsigned)rcode);
    put16(m, 1);
    put16(m, ancount);
    put16(m, 0);
    put16(m, 0);
    put_name(m, qname);
    put16(m, qtype);
    put16(m, 1);
}

static void rr_head(struct msg *m, const char *owner, unsigned type, unsigned rdlen)
{
    put_name(m, owner);
    put16(m, type);
    put16(m, 1);
    put16(m, 0);
    put16(m, 60);
    put16(m, rdlen);
}

static void add_mx(struct msg *m, const char *owner, unsigned pref, const char *host)
{
    struct msg tmp = {.len = 0};
    put_name(&tmp, host);
    rr_head(m, owner, 15, (unsigned)tmp.len + 2);
    put16(m, pref);
    memcpy(m->b + m->len, tmp.b, tmp.len);
    m->len += tmp.len;
}

static void add_raw(struct msg *m, const char *owner, unsigned type, const char *rdata, unsigned rdlen)
{
    rr_head(m, owner, type, rdlen);
    memcpy(m->b + m->len, rdata, rdlen);
    m->len += rdlen;
}

static void test_mx_sorted_secure(void **state)
{
    (void)state;
    struct msg m;
    begin(&m, 1, 0, 3, "dane.test", 15);
    add_mx(&m, "dane.test", 20, "mx2.dane.test");
    add_raw(&m, "dane.test", 46, "sig", 3);                 /* an RRSIG: skipped */
    add_mx(&m, "dane.test", 10, "mx1.dane.test");
    struct dns_result r;
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_MX, &r), 0);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.secure, 1);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.names[0], "mx1.dane.test");
    assert_string_equal(r.names[1], "mx2.dane.test");
    dns_result_free(&r);
}

static void test_null_mx_and_cname(void **state)
{
    (void)state;
    struct msg m;
    begin(&m, 0, 0, 1, "nullmx.test", 15);
    add_mx(&m, "nullmx.test", 0, "");
    struct dns_result r;
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_MX, &r), 0);
    assert_int_equal(r.secure, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.names[0], "");
    dns_result_free(&r);

    struct msg tmp = {.len = 0};
    put_name(&tmp, "real.test");
    begin(&m, 1, 0, 3, "_25._tcp.mx.test", 52);
    add_raw(&m, "_25._tcp.mx.test", 5, (const char *)tmp.b, (unsigned)tmp.len);     /* CNAME */
    add_raw(&m, "real.test", 52, "\x03\x01\x01\xaa\xbb", 5);
    add_raw(&m, "real.test", 52, "\x02\x00\x01\xcc", 4);
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_TLSA, &r), 0);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.secure, 1);
    assert_int_equal(r.n, 2);
    dns_result_free(&r);
}

static void test_rcodes(void **state)
{
    (void)state;
    struct msg m;
    struct dns_result r;
    begin(&m, 1, 3, 0, "nowhere.test", 15);
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_MX, &r), 0);
    assert_int_equal(r.status, DNS_NXDOMAIN);
    assert_int_equal(r.secure, 1);
    begin(&m, 1, 0, 0, "nomx.test", 15);
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_MX, &r), 0);
    assert_int_equal(r.status, DNS_NODATA);
    assert_int_equal(r.secure, 1);
    begin(&m, 0, 2, 0, "broken.test", 52);
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_TLSA, &r), 0);
    assert_int_equal(r.status, DNS_TEMPFAIL);
    begin(&m, 0, 5, 0, "refused.test", 52);
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_TLSA, &r), 0);
    assert_int_equal(r.status, DNS_TEMPFAIL);
}

static void test_malformed(void **state)
{
    (void)state;
    struct msg m = {.len = 0};
    struct dns_result r;
    assert_int_equal(dns_parse_response(m.b, 5, DNS_MX, &r), -1);           /* shorter than a header */
    begin(&m, 1, 0, 2, "dane.test", 15);                                     /* 2 answers announced, 1 there */
    add_mx(&m, "dane.test", 10, "mx1.dane.test");
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_MX, &r), -1);
    begin(&m, 1, 0, 1, "dane.test", 15);
    add_raw(&m, "dane.test", 15, "\x00", 1);                                 /* MX rdata too short */
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_MX, &r), -1);
    begin(&m, 1, 0, 1, "dane.test", 15);
    add_raw(&m, "dane.test", 15, "\x00\x0a\x05mx", 5);                       /* exchange name cut short */
    assert_int_equal(dns_parse_response(m.b, (int)m.len, DNS_MX, &r), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mx_sorted_secure),
        cmocka_unit_test(test_null_mx_and_cname),
        cmocka_unit_test(test_rcodes),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests_name("tlspolicy resolver", tests, NULL, NULL);
}
