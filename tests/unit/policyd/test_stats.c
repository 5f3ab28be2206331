/* Unit tests for emailng-policyd's counters and their text (src/policyd/stats.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "stats.h"

static void expect_line(const buf *out, const char *line)
{
    buf want = BUF_INIT, have = BUF_INIT;
    buf_printf(&want, "\n%s\n", line);
    buf_printf(&have, "\n%s", buf_cstr((buf *)out));
    if (strstr(buf_cstr(&have), buf_cstr(&want)) == NULL)
        fail_msg("expected the line \"%s\" in:\n%s", line, buf_cstr((buf *)out));
    buf_free(&want);
    buf_free(&have);
}

static void test_action_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *action;
        enum stats_action kind;
    } cases[] = {
        {"DUNNO", STATS_DUNNO},
        {"", STATS_DUNNO},
        {"dunno", STATS_DUNNO},
        {"PREPEND Received-SPF: pass (x)", STATS_PREPEND},
        {"DEFER_IF_PERMIT 4.7.1 Greylisted", STATS_DEFER},
        {"DEFER 4.3.0 later", STATS_DEFER},
        {"450 4.7.1 too many messages", STATS_DEFER},
        {"552 5.2.2 full", STATS_REJECT},
        {"REJECT no", STATS_REJECT},
        {"DUNNOX", STATS_OTHER},
        {"OK", STATS_OTHER},
        {"HOLD", STATS_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (stats_action_kind(cases[i].action) != cases[i].kind)
            fail_msg("\"%s\": kind %d, expected %d", cases[i].action, stats_action_kind(cases[i].action),
                     cases[i].kind);
}

/* Every family is there from the start (zeros); requests count by state
 * and action, the histogram counts every answer (bad requests too). */
static void test_format(void **state)
{
    (void)state;
    policy_stats s;
    stats_init(&s, 1700000000.5);
    buf out = BUF_INIT;
    stats_format(&s, &out);
    assert_int_equal(s.changed, 0);
    expect_line(&out, "# TYPE emailng_policyd_requests_total counter");
    expect_line(&out, "emailng_policyd_requests_total{state=\"RCPT\",action=\"reject\"} 0");
    expect_line(&out, "emailng_policyd_actions_total{policy=\"greylist\",action=\"defer\"} 0");
    expect_line(&out, "# TYPE emailng_policyd_request_duration_seconds histogram");
    expect_line(&out, "emailng_policyd_request_duration_seconds_count 0");
    expect_line(&out, "emailng_policyd_start_time_seconds 1700000000.5");

    stats_request(&s, "RCPT", "PREPEND Received-SPF: pass", 0.0002);
    stats_request(&s, "RCPT", "DUNNO", 0.0002);
    stats_request(&s, "END-OF-MESSAGE", "DUNNO", 0.00005);
    stats_request(&s, "CONNECT", "DUNNO", 0.00005);
    stats_request(&s, "RCPT", "550 5.7.23 SPF fail", 3);
    stats_bad_request(&s, 0.001);
    stats_policy_answer(&s, STATS_SPF, "550 5.7.23 SPF fail");
    assert_int_equal(s.changed, 1);
    buf_reset(&out);
    stats_format(&s, &out);
    expect_line(&out, "emailng_policyd_requests_total{state=\"RCPT\",action=\"prepend\"} 1");
    expect_line(&out, "emailng_policyd_requests_total{state=\"RCPT\",action=\"dunno\"} 1");
    expect_line(&out, "emailng_policyd_requests_total{state=\"RCPT\",action=\"reject\"} 1");
    expect_line(&out, "emailng_policyd_requests_total{state=\"END-OF-MESSAGE\",action=\"dunno\"} 1");
    expect_line(&out, "emailng_policyd_requests_total{state=\"other\",action=\"dunno\"} 1");
    expect_line(&out, "emailng_policyd_actions_total{policy=\"spf\",action=\"reject\"} 1");
    expect_line(&out, "emailng_policyd_bad_requests_total 1");
    expect_line(&out, "emailng_policyd_request_duration_seconds_bucket{le=\"0.0001\"} 2");
    expect_line(&out, "emailng_policyd_request_duration_seconds_bucket{le=\"0.00025\"} 4");
    expect_line(&out, "emailng_policyd_request_duration_seconds_bucket{le=\"0.001\"} 5");
    expect_line(&out, "emailng_policyd_request_duration_seconds_bucket{le=\"2.5\"} 5");
    expect_line(&out, "emailng_policyd_request_duration_seconds_bucket{le=\"5\"} 6");
    expect_line(&out, "emailng_policyd_request_duration_seconds_bucket{le=\"+Inf\"} 6");
    expect_line(&out, "emailng_policyd_request_duration_seconds_count 6");
    buf_free(&out);
    stats_free(&s);
}

/* The counters cost nothing when not kept (the engine's tests). */
static void test_null_stats(void **state)
{
    (void)state;
    stats_request(NULL, "RCPT", "DUNNO", 0.1);
    stats_bad_request(NULL, 0.1);
    stats_policy_answer(NULL, STATS_QUOTA, "DUNNO");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_kinds),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_null_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
