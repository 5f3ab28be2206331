/* Unit tests for the arithmetic in src/lib/fsutil.c that `emailng status`
 * warns with (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fsutil.h"

/* As df(1): used / (used + available to ordinary users), rounded up; the
 * blocks reserved for root count as neither. */
static void test_percent_used(void **state)
{
    (void)state;
    assert_int_equal(fs_percent_used(1000, 1000, 950), 0);     /* empty, 5% reserved */
    assert_int_equal(fs_percent_used(1000, 150, 100), 90);     /* 850 used of 950 usable: 89.5 -> 90 */
    assert_int_equal(fs_percent_used(1000, 50, 0), 100);       /* only root's reserve left */
    assert_int_equal(fs_percent_used(1000, 200, 150), 85);     /* 800 / 950 = 84.2 -> 85: not above 85 */
    assert_int_equal(fs_percent_used(0, 0, 0), 0);
    assert_int_equal(fs_percent_used(10, 20, 5), 0);           /* inconsistent figures: no underflow */
}

static void test_used_percent_of_a_real_path(void **state)
{
    (void)state;
    int percent = -1;
    unsigned long long device = 0;
    buf err = BUF_INIT;
    assert_int_equal(fs_used_percent("/", &percent, &device, &err), 0);
    assert_true(percent >= 0 && percent <= 100);
    assert_int_equal(fs_used_percent("/nonexistent/emailng", &percent, &device, &err), -1);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_used),
        cmocka_unit_test(test_used_percent_of_a_real_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
