/* authors: the addresses of From:/Sender: headers, as a mail reader sees
 * them; a display name never passes for the address, and anything that is
 * not plainly a list of addresses is an error (fail closed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "authors.h"

static void expect(const char *value, size_t n, const char *first, const char *second)
{
    struct authors a = {0};
    buf err = BUF_INIT;
    if (authors_parse(value, &a, &err) != 0)
        fail_msg("%s: %s", value, buf_cstr(&err));
    assert_int_equal(a.n, n);
    if (n > 0)
        assert_string_equal(a.address[0], first);
    if (n > 1)
        assert_string_equal(a.address[1], second);
    authors_free(&a);
    buf_free(&err);
}

static void refused(const char *value)
{
    struct authors a = {0};
    buf err = BUF_INIT;
    if (authors_parse(value, &a, &err) == 0)
        fail_msg("accepted: %s", value);
    assert_true(err.len > 0);
    authors_free(&a);
    buf_free(&err);
}

static void test_plain_forms(void **state)
{
    (void)state;
    expect("alice@example.test", 1, "alice@example.test", NULL);
    expect(" Alice Example <Alice@Example.TEST>", 1, "alice@example.test", NULL);
    expect("\"Example, Alice (work)\" <alice@example.test>", 1, "alice@example.test", NULL);
    expect("alice@example.test (Alice)", 1, "alice@example.test", NULL);
    expect("Alice <alice@example.test>,\r\n\tBob <bob@example.test>", 2, "alice@example.test", "bob@example.test");
    expect("=?utf-8?q?Al=C3=AFce?= <alice@example.test>", 1, "alice@example.test", NULL);
    expect("<@relay.test:alice@example.test>", 1, "alice@example.test", NULL);
    expect("undisclosed:;", 0, NULL, NULL);
}

static void test_display_name_never_the_address(void **state)
{
    (void)state;
    expect("alice@example.test <bob@example.test>", 1, "bob@example.test", NULL);
    expect("\"alice@example.test\" <bob@example.test>", 1, "bob@example.test", NULL);
    expect("(<alice@example.test>) bob@example.test", 1, "bob@example.test", NULL);
    expect("team: alice@example.test, bob@example.test;", 2, "alice@example.test", "bob@example.test");
}

static void test_refused(void **state)
{
    (void)state;
    refused("Alice Example");
    refused("<alice@example.test> <bob@example.test>");
    refused("\"alice@example.test");
    refused("(alice@example.test");
    refused("<alice@example.test");
    refused("alice@example.test\x01");
    refused("a: b: c@example.test;;");
    refused("a: c@example.test");
    refused("<>");
    refused("@example.test");
}

static void test_same_and_extension(void **state)
{
    (void)state;
    assert_true(authors_same("alice@example.test", "Alice@Example.Test"));
    assert_true(authors_same("alice+news@example.test", "alice@example.test"));
    assert_false(authors_same("alice@example.test.evil", "alice@example.test"));
    assert_false(authors_same("bob@example.test", "alice@example.test"));
    char *s = authors_strip_extension("a+b+c@x.test");
    assert_string_equal(s, "a@x.test");
    free(s);
    assert_null(authors_strip_extension("a@x+y.test"));
    assert_null(authors_strip_extension("+a@x.test"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_forms),
        cmocka_unit_test(test_display_name_never_the_address),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_same_and_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
