/* Unit tests for src/policyd/request.c: the policy request parser and
 * its hard bounds (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "request.h"

static const char GOOD[] =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
    "sender=a@example.org\nrecipient=b@example.test\n\n";

static int feed_all(request *r, const char *s, size_t n, size_t *used)
{
    return request_feed(r, s, n, used);
}

static void test_good(void **state)
{
    (void)state;
    request r;
    request_init(&r, NULL);
    size_t used;
    assert_int_equal(feed_all(&r, GOOD, strlen(GOOD), &used), REQ_DONE);
    assert_int_equal(used, strlen(GOOD));
    assert_null(r.bad);
    assert_string_equal(request_get(&r, "recipient"), "b@example.test");
    assert_string_equal(request_get(&r, "protocol_state"), "RCPT");
    assert_string_equal(request_get(&r, "missing"), "");
    request_free(&r);
}

static void test_byte_by_byte_and_crlf(void **state)
{
    (void)state;
    const char *s = "request=smtpd_access_policy\r\nsender=x@y.z\r\n\r\n";
    request r;
    request_init(&r, NULL);
    int rc = REQ_MORE;
    for (size_t i = 0; i < strlen(s); i++) {
        size_t used;
        rc = request_feed(&r, s + i, 1, &used);
        assert_int_equal(used, 1);
        if (i + 1 < strlen(s))
            assert_int_equal(rc, REQ_MORE);
    }
    assert_int_equal(rc, REQ_DONE);
    assert_null(r.bad);
    assert_string_equal(request_get(&r, "sender"), "x@y.z");
    request_free(&r);
}

static void test_pipelined(void **state)
{
    (void)state;
    char two[512];
    snprintf(two, sizeof(two), "%s%s", GOOD, GOOD);
    request r;
    request_init(&r, NULL);
    size_t used;
    assert_int_equal(request_feed(&r, two, strlen(two), &used), REQ_DONE);
    assert_int_equal(used, strlen(GOOD));
    request_reset(&r);
    size_t used2;
    assert_int_equal(request_feed(&r, two + used, strlen(two) - used, &used2), REQ_DONE);
    assert_int_equal(used2, strlen(GOOD));
    request_free(&r);
}

static void expect_bad(const char *input, size_t len, const char *why)
{
    request r;
    request_init(&r, NULL);
    size_t used;
    assert_int_equal(request_feed(&r, input, len, &used), REQ_DONE);
    assert_non_null(r.bad);
    if (!strstr(r.bad, why))
        fail_msg("bad reason \"%s\", expected \"%s\"", r.bad, why);
    request_free(&r);
}

static void test_bad_requests(void **state)
{
    (void)state;
    expect_bad("request=smtpd_access_policy\nnoequals\n\n", 40, "without '='");
    expect_bad("request=smtpd_access_policy\nBad-Name=1\n\n", 41, "bad attribute name");
    expect_bad("request=smtpd_access_policy\nsender=a\nsender=b\n\n", 47, "repeated");
    expect_bad("request=other\n\n", 15, "not an smtpd_access_policy");
    expect_bad("\n", 1, "not an smtpd_access_policy");
    const char nul[] = "request=smtpd_access_policy\nsender=a\0b\n\n";
    expect_bad(nul, sizeof(nul) - 1, "control character");
    expect_bad("request=smtpd_access_policy\nsender=\x01\x02\n\n", 40, "control character");
}

static void test_long_line(void **state)
{
    (void)state;
    request_limits lim = {100, 8, 4096};
    request r;
    request_init(&r, &lim);
    char big[600];
    memset(big, 'a', sizeof(big));
    memcpy(big, "sender=", 7);
    size_t used;
    assert_int_equal(request_feed(&r, "request=smtpd_access_policy\n", 28, &used), REQ_MORE);
    assert_int_equal(request_feed(&r, big, sizeof(big), &used), REQ_MORE);
    assert_int_equal(request_feed(&r, "\nrecipient=x@y.z\n\n", 18, &used), REQ_DONE);
    assert_string_equal(r.bad, "line too long");
    /* the over-long line was never stored */
    assert_true(r.store.len < 200);
    request_free(&r);
}

static void test_too_many_attributes(void **state)
{
    (void)state;
    request_limits lim = {100, 4, 4096};
    request r;
    request_init(&r, &lim);
    const char *s = "request=smtpd_access_policy\na=1\nb=2\nc=3\nd=4\ne=5\n\n";
    size_t used;
    assert_int_equal(request_feed(&r, s, strlen(s), &used), REQ_DONE);
    assert_string_equal(r.bad, "too many attributes");
    assert_int_equal(r.n, 4);
    request_free(&r);
}

static void test_no_blank_line_is_fatal(void **state)
{
    (void)state;
    request_limits lim = {100, 8, 1024};
    request r;
    request_init(&r, &lim);
    char line[] = "sender=aaaaaaaaaaaaaaaaaaaa\n";
    int rc = REQ_MORE;
    size_t total = 0;
    for (int i = 0; i < 1000 && rc == REQ_MORE; i++) {
        size_t used;
        rc = request_feed(&r, line, strlen(line), &used);
        total += used;
    }
    assert_int_equal(rc, REQ_FATAL);
    assert_true(total <= 1024);
    request_free(&r);
}

static void test_binary_junk(void **state)
{
    (void)state;
    unsigned char junk[3000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    request r;
    request_init(&r, NULL);
    size_t off = 0;
    while (off < sizeof(junk)) {
        size_t used;
        int rc = request_feed(&r, (char *)junk + off, sizeof(junk) - off, &used);
        off += used;
        if (rc == REQ_FATAL)
            break;
        if (rc == REQ_DONE) {
            assert_non_null(r.bad);
            request_reset(&r);
        }
    }
    request_free(&r);
}

/* A line is parsed where it lies in the input when it is whole, and
 * gathered when it comes in pieces: every split gives the same request,
 * bounds included (a line of exactly max_line bytes is kept, one more is
 * too long). */
static void parse_split(const char *s, size_t len, size_t cut, const request_limits *lim, buf *out)
{
    request r;
    request_init(&r, lim);
    size_t off = 0;
    int rc = REQ_MORE;
    size_t pieces[2] = {cut, len - cut};
    for (int p = 0; p < 2 && rc == REQ_MORE; p++) {
        size_t end = off + pieces[p];
        while (off < end && rc == REQ_MORE) {
            size_t used;
            rc = request_feed(&r, s + off, end - off, &used);
            assert_true(used <= end - off);
            off += used;
        }
    }
    buf_printf(out, "rc=%d used=%zu bad=%s n=%zu", rc, off, r.bad ? r.bad : "-", r.n);
    if (rc == REQ_DONE)
        for (size_t i = 0; i < r.n; i++)
            buf_printf(out, " [%s]=[%s]", r.names[i], r.values[i]);
    request_free(&r);
}

static void test_every_split_same_request(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "request=smtpd_access_policy\r\nsender=x@y.z\r\nrecipient=a=b\n\r\nnext=1\n\n",
        "request=smtpd_access_policy\nsender=\nsender=again\nrecipient=r\n\n",
        "request=smtpd_access_policy\nsender=0123456789abcdefghijk\nrecipient=0123456789abcdefghi\n\n",
        "request=smtpd_access_policy\nBAD=1\nx=\x01\nnoequals\n\n",
        "a=1\nb=2\nc=3\nd=4\ne=5\nf=6\n\n",
        "request=smtpd_access_policy\nsender=\x7f\n\n",
        "request=smtpd_access_policy\nsender=never ends\nmore=1\nmore=2\nmore=3\nfill=aaaaaaaaaaaaaaaaaaaaaaaa\n",
    };
    /* max_line 28: "sender=0123456789abcdefghijk" (28) is kept, "recipient=0123456789abcdefghi" (29) is not */
    request_limits lim = {28, 5, 90};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len = strlen(cases[c]);
        buf whole = BUF_INIT;
        parse_split(cases[c], len, len, &lim, &whole);
        for (size_t cut = 0; cut <= len; cut++) {
            buf split = BUF_INIT;
            parse_split(cases[c], len, cut, &lim, &split);
            if (strcmp(whole.data, split.data) != 0)
                fail_msg("case %zu cut %zu: %s\n  whole: %s", c, cut, split.data, whole.data);
            buf_free(&split);
        }
        /* one byte at a time */
        request r;
        request_init(&r, &lim);
        int rc = REQ_MORE;
        size_t off = 0;
        while (off < len && rc == REQ_MORE) {
            size_t used;
            rc = request_feed(&r, cases[c] + off, 1, &used);
            off += used;
        }
        buf bytes = BUF_INIT;
        buf_printf(&bytes, "rc=%d used=%zu bad=%s n=%zu", rc, off, r.bad ? r.bad : "-", r.n);
        if (rc == REQ_DONE)
            for (size_t i = 0; i < r.n; i++)
                buf_printf(&bytes, " [%s]=[%s]", r.names[i], r.values[i]);
        assert_string_equal(bytes.data, whole.data);
        buf_free(&bytes);
        request_free(&r);
        buf_free(&whole);
    }
    /* what the cases mean */
    buf b = BUF_INIT;
    parse_split(cases[0], strlen(cases[0]), 7, &lim, &b);
    assert_string_equal(b.data, "rc=1 used=59 bad=- n=3 [request]=[smtpd_access_policy] [sender]=[x@y.z] "
                                "[recipient]=[a=b]");
    buf_reset(&b);
    parse_split(cases[2], strlen(cases[2]), 0, &lim, &b);
    assert_string_equal(b.data, "rc=1 used=88 bad=line too long n=2 [request]=[smtpd_access_policy] "
                                "[sender]=[0123456789abcdefghijk]");
    buf_reset(&b);
    parse_split(cases[1], strlen(cases[1]), 3, &lim, &b);
    assert_non_null(strstr(b.data, "bad=repeated attribute"));
    buf_reset(&b);
    parse_split(cases[4], strlen(cases[4]), 3, &lim, &b);
    assert_non_null(strstr(b.data, "bad=too many attributes n=5"));
    buf_reset(&b);
    parse_split(cases[6], strlen(cases[6]), 50, &lim, &b);
    assert_string_equal(b.data, "rc=-1 used=90 bad=repeated attribute n=3");
    buf_free(&b);
}

static void test_sanitize(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    sanitize_append(&b, "a\nb\rc\x01\xc3\xa9", 100);
    assert_string_equal(b.data, "a?b?c???");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_byte_by_byte_and_crlf),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_too_many_attributes),
        cmocka_unit_test(test_no_blank_line_is_fatal),
        cmocka_unit_test(test_binary_junk),
        cmocka_unit_test(test_every_split_same_request),
        cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests_name("policyd request", tests, NULL, NULL);
}
