/* Unit tests for src/tlspolicy/netstring.c: socketmap framing, its hard
 * bounds, and the "NAME KEY" request inside (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "netstring.h"

static int feed(netstring *ns, const char *s, size_t *used)
{
    return netstring_feed(ns, s, strlen(s), used);
}

static void test_whole_and_next(void **state)
{
    (void)state;
    netstring ns;
    netstring_init(&ns, 512);
    size_t used;
    const char *in = "17:postfix dane.test,12:postfix a.b,";
    assert_int_equal(feed(&ns, in, &used), NS_DONE);
    assert_int_equal(used, 21);           /* the next one is not consumed */
    assert_int_equal(ns.data.len, 17);
    assert_string_equal(ns.data.data, "postfix dane.test");
    netstring_reset(&ns);
    assert_int_equal(netstring_feed(&ns, in + used, strlen(in + used), &used), NS_MORE);
    netstring_free(&ns);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    netstring ns;
    netstring_init(&ns, 512);
    const char *in = "13:postfix x.org,";
    size_t used;
    for (size_t i = 0; in[i]; i++) {
        int rc = netstring_feed(&ns, in + i, 1, &used);
        assert_int_equal(used, 1);
        assert_int_equal(rc, in[i + 1] ? NS_MORE : NS_DONE);
    }
    assert_string_equal(ns.data.data, "postfix x.org");
    netstring_free(&ns);
}

static void test_empty_payload(void **state)
{
    (void)state;
    netstring ns;
    netstring_init(&ns, 512);
    size_t used;
    assert_int_equal(feed(&ns, "0:", &used), NS_MORE);
    assert_int_equal(feed(&ns, ",", &used), NS_DONE);
    assert_int_equal(ns.data.len, 0);
    netstring_free(&ns);
}

static void expect_fatal(const char *in, size_t max, const char *why)
{
    netstring ns;
    netstring_init(&ns, max);
    size_t used;
    assert_int_equal(netstring_feed(&ns, in, strlen(in), &used), NS_FATAL);
    assert_string_equal(ns.bad, why);
    /* fatal stays fatal: the stream cannot be resynchronised */
    assert_int_equal(netstring_feed(&ns, "1:a,", 4, &used), NS_FATAL);
    netstring_free(&ns);
}

static void test_bounds_and_garbage(void **state)
{
    (void)state;
    expect_fatal("513:", 512, "netstring longer than allowed");
    expect_fatal("99999999999999999999999999:", 512, "netstring longer than allowed");
    expect_fatal("9:", 5, "netstring longer than allowed");   /* a digit above the bound itself */
    expect_fatal("01:a,", 512, "netstring length with a leading zero");
    expect_fatal(":a,", 512, "netstring without a length");
    expect_fatal("1x:a,", 512, "netstring length is not a number");
    expect_fatal("GET / HTTP/1.0\r\n", 512, "netstring length is not a number");
    expect_fatal("1:ab", 512, "netstring not ended by ','");
    /* at the bound exactly: accepted */
    netstring ns;
    netstring_init(&ns, 5);
    size_t used;
    assert_int_equal(feed(&ns, "5:abcde,", &used), NS_DONE);
    netstring_free(&ns);
}

static void test_append(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    netstring_append(&b, "OK dane", 7);
    netstring_append(&b, "", 0);
    assert_string_equal(b.data, "7:OK dane,0:,");
    buf_free(&b);
}

static void test_request(void **state)
{
    (void)state;
    socketmap_request r;
    const char *why = NULL;
    assert_int_equal(socketmap_request_parse("postfix dane.test", 17, 300, &r, &why), 0);
    assert_string_equal(r.name, "postfix");
    assert_string_equal(r.key, "dane.test");
    socketmap_request_free(&r);
    assert_int_equal(socketmap_request_parse("postfix [192.0.2.1]:25", 22, 300, &r, &why), 0);
    assert_string_equal(r.key, "[192.0.2.1]:25");
    socketmap_request_free(&r);

    const struct {
        const char *in;
        size_t len;
        const char *why;
    } bad[] = {
        {"postfix", 7, "request without a space between map name and key"},
        {" dane.test", 10, "bad map name length"},
        {"post/fix dane.test", 18, "bad character in map name"},
        {"postfix ", 8, "empty key"},
        {"postfix a b", 11, "key with a space, control or non-ASCII byte"},
        {"postfix a\0b", 11, "key with a space, control or non-ASCII byte"},
        {"postfix \xc3\xa9.test", 14, "key with a space, control or non-ASCII byte"},
        {"postfix aaaaaaaaaaa", 19, "key too long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(socketmap_request_parse(bad[i].in, bad[i].len, 10, &r, &why), -1);
        assert_string_equal(why, bad[i].why);
        assert_null(r.name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_and_next),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_bounds_and_garbage),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_request),
    };
    return cmocka_run_group_tests_name("tlspolicy netstring", tests, NULL, NULL);
}
