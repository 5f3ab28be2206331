/* quota_usage: doveadm's tab output read, sorted and filtered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "quota_usage.h"

static const char output[] =
    "Username\tQuota name\tType\tValue\tLimit\t%\n"
    "alice@example.test\tUser quota\tSTORAGE\t512\t1024\t50\n"
    "alice@example.test\tUser quota\tMESSAGE\t3\t-\t0\n"
    "bob@example.test\tUser quota\tSTORAGE\t10\t-\t0\n"
    "carol@example.test\tUser quota\tSTORAGE\t990\t1000\t99\n"
    "dave@example.test\tUser quota\tSTORAGE\t512\t1024\t50\r\n";

static void test_parse_sort_and_keep_over(void **state)
{
    (void)state;
    struct quota_usage_list list = {0};
    buf err = BUF_INIT;
    assert_int_equal(quota_usage_parse(output, "pair1", &list, &err), 0);
    assert_int_equal(list.n, 4);                       /* STORAGE rows only */
    assert_string_equal(list.items[0].user, "alice@example.test");
    assert_int_equal(list.items[0].used_bytes, 512 * 1024);
    assert_int_equal(list.items[0].limit_bytes, 1024 * 1024);
    assert_int_equal(list.items[1].limit_bytes, 0);   /* "-": no limit */
    assert_string_equal(list.items[1].pair, "pair1");
    quota_usage_sort(&list);
    /* Fullest first; equal percentages by bytes, then by address. */
    assert_string_equal(list.items[0].user, "carol@example.test");
    assert_string_equal(list.items[1].user, "alice@example.test");
    assert_string_equal(list.items[2].user, "dave@example.test");
    assert_string_equal(list.items[3].user, "bob@example.test");
    quota_usage_keep_over(&list, 50.0);
    assert_int_equal(list.n, 3);                       /* bob has no limit */
    quota_usage_keep_over(&list, 99.0);
    assert_int_equal(list.n, 1);
    assert_string_equal(list.items[0].user, "carol@example.test");
    quota_usage_list_free(&list);
    buf_free(&err);
}

static void test_bad_rows_name_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"Username\tQuota name\tType\tValue\tLimit\t%\nalice\tUser quota\tSTORAGE\t12\n", "line 2: 4 fields"},
        {"alice\tUser quota\tSTORAGE\tlots\t1024\t1\n", "line 1: expected USER"},
        {"alice\tUser quota\tSTORAGE\t-5\t1024\t1\n", "line 1"},
        {"\tUser quota\tSTORAGE\t5\t1024\t1\n", "line 1"},
        {"a\tb\tSTORAGE\t5\t99999999999999999999999\t1\n", "line 1"},
        {"a\tb\tSTORAGE\t5\t10\t1\textra\n", "line 1: 7 fields"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct quota_usage_list list = {0};
        buf err = BUF_INIT;
        assert_int_equal(quota_usage_parse(cases[i].text, "p", &list, &err), -1);
        if (strstr(buf_cstr(&err), cases[i].needle) == NULL)
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, cases[i].needle, buf_cstr(&err));
        quota_usage_list_free(&list);
        buf_free(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sort_and_keep_over),
        cmocka_unit_test(test_bad_rows_name_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
