/* Unit tests for src/lib/address.c (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "address.h"

static void expect_ok(const char *input, const char *domain, const char *want)
{
    buf out = BUF_INIT, err = BUF_INIT;
    int rc = address_normalize(input, domain, &out, &err);
    if (rc != 0)
        fail_msg("%s: unexpected error: %s", input, buf_cstr(&err));
    assert_string_equal(buf_cstr(&out), want);
    buf_free(&out);
    buf_free(&err);
}

/* The error must contain `want` and must never contain a raw control char. */
static void expect_error(const char *input, const char *domain,
                         const char *want)
{
    buf out = BUF_INIT, err = BUF_INIT;
    int rc = address_normalize(input, domain, &out, &err);
    assert_int_equal(rc, -1);
    if (strstr(buf_cstr(&err), want) == NULL)
        fail_msg("error for input: \"%s\" is \"%s\", expected to contain \"%s\"",
                 input, buf_cstr(&err), want);
    for (const char *p = buf_cstr(&err); *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    buf_free(&out);
    buf_free(&err);
}

static void test_valid(void **state)
{
    (void)state;
    expect_ok("alice", "example.test", "alice@example.test");
    expect_ok("Alice@Example.TEST", "other.test", "alice@example.test");
    expect_ok("a.b_c+d-e@sub-1.example.test", NULL, "a.b_c+d-e@sub-1.example.test");
    expect_ok("BOB", "Example.Test", "bob@example.test");
    expect_ok("x@localhost", NULL, "x@localhost");
}

static void test_hostile(void **state)
{
    (void)state;
    expect_error("*)(uid=*", "example.test",
                 "address \"*)(uid=*\": character '*' is not allowed in a "
                 "local part (letters, digits and . _ + - only)");
    expect_error("a,dc=x@example.test", NULL, "character ','");
    expect_error("alice\n@example.test", NULL,
                 "address \"alice\\n@example.test\": a newline (\\n)");
    expect_error("al\x01ice", "example.test", "control character \\x01");
    expect_error("al\x7fice", "example.test", "control character \\x7f");
    expect_error("j\xc3\xa9r\xc3\xb4me", "example.test", "non-ASCII byte \\xc3");
    expect_error("a b", "example.test", "a space is not allowed");
    expect_error("\"quoted\"@example.test", NULL, "character '\"'");
    expect_error("a\\b", "example.test", "\"a\\\\b\"");
    expect_error("alice@exa_mple.test", NULL, "character '_' is not allowed in a domain");
    expect_error("alice@example.test\r", NULL, "carriage return");
}

static void test_structure(void **state)
{
    (void)state;
    expect_error("", "example.test", "the address is empty");
    expect_error(NULL, "example.test", "the address is empty");
    expect_error("@example.test", NULL, "the local part (before '@') is empty");
    expect_error("alice@", NULL, "the domain is empty");
    expect_error("a@b@c", NULL, "more than one '@'");
    expect_error(".alice", "example.test", "starts with a dot");
    expect_error("alice.", "example.test", "ends with a dot");
    expect_error("al..ice", "example.test", "two dots in a row");
    expect_error("alice@.example.test", NULL, "the domain starts with a dot");
    expect_error("alice@example.test.", NULL, "the domain ends with a dot");
    expect_error("alice@example..test", NULL, "two dots in a row");
    expect_error("alice@-example.test", NULL, "\"-example\" starts or ends with a hyphen");
    expect_error("alice@example-.test", NULL, "starts or ends with a hyphen");
    expect_error("alice", NULL, "no domain given");
    expect_error("alice", "bad domain", "default domain \"bad domain\"");
}

static void test_lengths(void **state)
{
    (void)state;
    buf in = BUF_INIT, want = BUF_INIT;

    for (int i = 0; i < 64; i++)
        buf_append_char(&in, 'a');
    buf_append_str(&want, buf_cstr(&in));
    buf_append_str(&want, "@example.test");
    expect_ok(buf_cstr(&in), "example.test", buf_cstr(&want));
    buf_append_char(&in, 'a');
    expect_error(buf_cstr(&in), "example.test",
                 "the local part is 65 characters long (at most 64)");

    buf_reset(&in);
    buf_append_str(&in, "a@");
    for (int i = 0; i < 63; i++)
        buf_append_char(&in, 'b');
    expect_ok(buf_cstr(&in), NULL, buf_cstr(&in));
    buf_append_char(&in, 'b');
    expect_error(buf_cstr(&in), NULL, "a domain label is 64 characters long");

    /* 64 + 1 + 4 labels of 47 + 3 dots = 256 > 254, domain 191 <= 253 */
    buf_reset(&in);
    for (int i = 0; i < 64; i++)
        buf_append_char(&in, 'a');
    buf_append_char(&in, '@');
    for (int label = 0; label < 4; label++) {
        if (label)
            buf_append_char(&in, '.');
        for (int i = 0; i < 47; i++)
            buf_append_char(&in, 'c');
    }
    expect_error(buf_cstr(&in), NULL, "(at most 254)");

    buf_reset(&in);
    buf_append_str(&in, "a@");
    for (int label = 0; label < 5; label++) {
        if (label)
            buf_append_char(&in, '.');
        for (int i = 0; i < 60; i++)
            buf_append_char(&in, 'd');
    }
    expect_error(buf_cstr(&in), NULL, "the domain is 304 characters long (at most 253)");

    /* 10,000 bytes of junk: the message quotes 80 of them and the length. */
    buf_reset(&in);
    for (int i = 0; i < 10000; i++)
        buf_append_char(&in, i % 2 ? '*' : 'x');
    buf out = BUF_INIT, err = BUF_INIT;
    assert_int_equal(address_normalize(buf_cstr(&in), "example.test", &out, &err), -1);
    assert_true(err.len < 300);
    assert_non_null(strstr(buf_cstr(&err), "... (10000 bytes)"));
    buf_free(&out);
    buf_free(&err);
    buf_free(&in);
    buf_free(&want);
}

static void test_domain_normalize(void **state)
{
    (void)state;
    buf out = BUF_INIT, err = BUF_INIT;
    assert_int_equal(domain_normalize("Example.TEST", &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "example.test");
    assert_int_equal(domain_normalize("exa mple.test", &out, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "a space"));
    buf_free(&out);
    buf_free(&err);
}

static void expect_size(const char *s, unsigned long long want)
{
    unsigned long long got = 12345;
    buf err = BUF_INIT;
    if (size_parse(s, &got, &err) != 0)
        fail_msg("size %s: %s", s, buf_cstr(&err));
    assert_true(got == want);
    buf_free(&err);
}

static void expect_size_error(const char *s, const char *want)
{
    unsigned long long got = 12345;
    buf err = BUF_INIT;
    assert_int_equal(size_parse(s, &got, &err), -1);
    assert_true(got == 12345);
    if (strstr(buf_cstr(&err), want) == NULL)
        fail_msg("size error \"%s\" lacks \"%s\"", buf_cstr(&err), want);
    buf_free(&err);
}

static void test_size_parse(void **state)
{
    (void)state;
    expect_size("0", 0);
    expect_size("1048576", 1048576ULL);
    expect_size("500K", 500ULL * 1024);
    expect_size("500k", 500ULL * 1024);
    expect_size("500KB", 500ULL * 1024);
    expect_size("1M", 1048576ULL);
    expect_size("2G", 2ULL << 30);
    expect_size("3t", 3ULL << 40);
    expect_size("18446744073709551615", 18446744073709551615ULL);
    expect_size_error("", "expected a number");
    expect_size_error(NULL, "expected a number");
    expect_size_error("-1", "expected a number");
    expect_size_error(" 1M", "expected a number");
    expect_size_error("1.5G", "unexpected character '.'");
    expect_size_error("1MM", "unexpected character 'M'");
    expect_size_error("1M\n", "unexpected a newline");
    expect_size_error("18446744073709551616", "too large");
    expect_size_error("16777216T", "too large");
}

static void test_size_format(void **state)
{
    (void)state;
    static const struct { unsigned long long bytes; const char *text; } cases[] = {
        {0, "0"}, {1000, "1000"}, {1024, "1K"}, {1536, "1536"},
        {1048576, "1M"}, {2ULL << 30, "2G"}, {5ULL << 40, "5T"},
        {1024ULL << 40, "1024T"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf out = BUF_INIT;
        size_format(cases[i].bytes, &out);
        assert_string_equal(buf_cstr(&out), cases[i].text);
        unsigned long long back;
        buf err = BUF_INIT;
        assert_int_equal(size_parse(buf_cstr(&out), &back, &err), 0);
        assert_true(back == cases[i].bytes);
        buf_free(&out);
        buf_free(&err);
    }
}

/* The bounds `user quota` and the site file's quota.default share: the
 * size that broke a mailbox (8388608T = 2^63 bytes, Dovecot's "Invalid
 * bytes limit") is refused, with the range in the message. */
static void test_quota_bounds(void **state)
{
    (void)state;
    buf err = BUF_INIT;
    unsigned long long bytes = 0;
    assert_int_equal(size_parse("8388608T", &bytes, &err), 0);
    assert_int_equal(quota_size_check(bytes, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "too large; expected from 1M to 1024T"));
    assert_int_equal(quota_size_check(QUOTA_MAX_BYTES + 1, &err), -1);
    assert_int_equal(quota_size_check(QUOTA_MAX_BYTES, &err), 0);
    assert_int_equal(quota_size_check(1024ULL * 1024, &err), 0);
    assert_int_equal(quota_size_check(1024ULL * 1024 - 1, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "too small"));
    assert_int_equal(quota_size_check(2ULL << 30, &err), 0);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_domain_normalize),
        cmocka_unit_test(test_size_parse),
        cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_quota_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
