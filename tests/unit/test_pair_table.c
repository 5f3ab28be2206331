/* Unit tests for src/lib/pair_table.c (cmocka): a proxy's pair -> active
 * store table as emailng-healthd writes it, and exact pair names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pair_table.h"

static const char table[] = "pair10:::::::host=10.0.0.99 nopassword\n"
                            "pair1:::::::host=10.0.0.22 nopassword\n"
                            "pair2:::::::nopassword xhost=10.0.0.7 host=fd00::23\n"
                            "broken:::::::nopassword\n";

static void test_exact_pair(void **state)
{
    (void)state;
    buf address = BUF_INIT, err = BUF_INIT;
    assert_int_equal(pair_table_address(table, "pair1", &address, &err), 0);
    assert_string_equal(buf_cstr(&address), "10.0.0.22");
    assert_int_equal(pair_table_address(table, "pair10", &address, &err), 0);
    assert_string_equal(buf_cstr(&address), "10.0.0.99");
    /* host= as a word of its own, not inside another field */
    assert_int_equal(pair_table_address(table, "pair2", &address, &err), 0);
    assert_string_equal(buf_cstr(&address), "fd00::23");
    buf_free(&address);
    buf_free(&err);
}

static void test_missing(void **state)
{
    (void)state;
    buf address = BUF_INIT, err = BUF_INIT;
    assert_int_equal(pair_table_address(table, "pair", &address, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "no pair pair"));
    buf_reset(&err);
    assert_int_equal(pair_table_address(table, "broken", &address, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "no store for broken"));
    buf_reset(&err);
    assert_int_equal(pair_table_address(table, "", &address, &err), -1);
    assert_int_equal(pair_table_address("", "pair1", &address, &err), -1);
    /* the last line without a newline still counts */
    assert_int_equal(pair_table_address("p:::::::host=10.1.2.3 nopassword", "p", &address, &err), 0);
    assert_string_equal(buf_cstr(&address), "10.1.2.3");
    buf_free(&address);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_pair),
        cmocka_unit_test(test_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
