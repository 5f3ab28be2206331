/* Unit tests for emailng-syncwatch's counters (src/syncwatch/counters.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "counters.h"

static void test_format(void **state)
{
    (void)state;
    struct sw_counters c = {0};
    sw_count(&c, SW_END_KILLED);
    sw_count(&c, SW_END_KILLED);
    sw_count(&c, SW_RETRY_REQUESTED);
    sw_count(&c, SW_RETRY_SKIPPED);
    assert_int_equal(c.changed, 1);
    buf out = BUF_INIT;
    sw_format(&c, &out);
    assert_int_equal(c.changed, 0);
    assert_string_equal(buf_cstr(&out),
                        "# HELP emailng_syncwatch_interventions_total Stalled dsync runs ended (action end) and "
                        "syncs asked again of the partner (action retry).\n"
                        "# TYPE emailng_syncwatch_interventions_total counter\n"
                        "emailng_syncwatch_interventions_total{action=\"end\",result=\"killed\"} 2\n"
                        "emailng_syncwatch_interventions_total{action=\"end\",result=\"failed\"} 0\n"
                        "emailng_syncwatch_interventions_total{action=\"retry\",result=\"requested\"} 1\n"
                        "emailng_syncwatch_interventions_total{action=\"retry\",result=\"failed\"} 0\n"
                        "emailng_syncwatch_interventions_total{action=\"retry\",result=\"skipped\"} 1\n");
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
