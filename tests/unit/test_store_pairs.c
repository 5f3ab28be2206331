/* Unit tests for src/lib/store_pairs.c (cmocka): every pair once, by its
 * exact name. The proxies' first pair table once found pairs with strstr
 * in the text written so far, so pair1 after pair10 was left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_pairs.h"

static struct site_host hosts[] = {
    {.name = "store10a", .address = "198.18.0.41", .roles = ROLE_STORE, .store_pair = "pair10"},
    {.name = "proxy1", .address = "198.18.0.21", .roles = ROLE_PROXY},
    {.name = "store10b", .address = "198.18.0.42", .roles = ROLE_STORE, .store_pair = "pair10"},
    {.name = "store1a", .address = "198.18.0.31", .roles = ROLE_STORE, .store_pair = "pair1"},
    {.name = "store1b", .address = "198.18.0.32", .roles = ROLE_STORE, .store_pair = "pair1"},
    {.name = "storexa", .address = "198.18.0.51", .roles = ROLE_STORE, .store_pair = "pair"},
};

static void test_first_host_of_each_pair(void **state)
{
    (void)state;
    struct site site = {.hosts = hosts, .n_hosts = sizeof hosts / sizeof hosts[0]};
    int expected[] = {1, 0, 0, 1, 0, 1};
    for (size_t i = 0; i < site.n_hosts; i++)
        assert_int_equal(store_pair_first_host(&site, i), expected[i]);
}

static void test_default_passwd_has_pair1_after_pair10(void **state)
{
    (void)state;
    struct site site = {.hosts = hosts, .n_hosts = sizeof hosts / sizeof hosts[0]};
    buf out = BUF_INIT;
    store_pairs_default_passwd(&site, &out);
    assert_string_equal(buf_cstr(&out),
                        "pair10:::::::host=198.18.0.41 nopassword\n"
                        "pair1:::::::host=198.18.0.31 nopassword\n"
                        "pair:::::::host=198.18.0.51 nopassword\n");
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_host_of_each_pair),
        cmocka_unit_test(test_default_passwd_has_pair1_after_pair10),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
