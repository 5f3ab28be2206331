/* Unit tests for src/tlspolicy/cache.c: answers kept for ttl seconds, at
 * most max entries, the oldest going first (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cache.h"

static void test_ttl(void **state)
{
    (void)state;
    cache *c = cache_new(10, 60);
    int kind = -1;
    cache_put(c, "dane.test", "OK dane", 0, 1000);
    assert_string_equal(cache_get(c, "dane.test", 1059, &kind), "OK dane");
    assert_int_equal(kind, 0);
    assert_null(cache_get(c, "other.test", 1000, &kind));
    assert_null(cache_get(c, "dane.test", 1060, &kind));       /* expired, and dropped */
    assert_int_equal(cache_size(c), 0);
    cache_put(c, "dane.test", "OK dane", 0, 1000);
    assert_null(cache_get(c, "dane.test", 999, &kind));         /* the clock went back */
    cache_free(c);
}

static void test_replace_and_bound(void **state)
{
    (void)state;
    cache *c = cache_new(3, 60);
    int kind;
    cache_put(c, "a.test", "NOTFOUND ", 2, 1);
    cache_put(c, "b.test", "OK dane", 0, 2);
    cache_put(c, "a.test", "OK secure", 1, 3);                 /* replaced: now the newest */
    assert_int_equal(cache_size(c), 2);
    assert_string_equal(cache_get(c, "a.test", 3, &kind), "OK secure");
    assert_int_equal(kind, 1);
    cache_put(c, "c.test", "x", 2, 4);
    cache_put(c, "d.test", "y", 2, 5);                          /* full: b (oldest) goes */
    assert_int_equal(cache_size(c), 3);
    assert_null(cache_get(c, "b.test", 5, &kind));
    assert_non_null(cache_get(c, "a.test", 5, &kind));
    assert_non_null(cache_get(c, "c.test", 5, &kind));
    assert_non_null(cache_get(c, "d.test", 5, &kind));
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d.test", i);
        cache_put(c, key, "NOTFOUND ", 2, 10);
    }
    assert_int_equal(cache_size(c), 3);
    assert_non_null(cache_get(c, "k999.test", 10, &kind));
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_replace_and_bound),
    };
    return cmocka_run_group_tests_name("tlspolicy cache", tests, NULL, NULL);
}
