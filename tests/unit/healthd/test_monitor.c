/* Unit tests for src/healthd/monitor.c: the store and pair state machines
 * driven by injected probe results and an injected clock (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "monitor.h"

static const store_policy POL = {3000, 5000, 3, 0, 0, 0};   /* fail grace, recover grace, probes; no fast_fail */

/* Feeds one probe at time t; returns the new state. */
static store_state feed(store_sm *s, const store_policy *p, int ok, int caught_up, long long t)
{
    buf why = BUF_INIT;
    store_state before = s->state;
    int changed = store_sm_feed(s, p, ok, caught_up, t, &why);
    assert_int_equal(changed, s->state != before);
    if (changed)
        assert_true(why.len > 0);           /* every change says why */
    buf_free(&why);
    return s->state;
}

static void test_starting(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_STARTING, 0);
    assert_int_equal(feed(&s, &POL, 1, 1, 0), ST_UP);
    store_sm_init(&s, ST_STARTING, 0);
    assert_int_equal(feed(&s, &POL, 0, 1, 0), ST_SUSPECT);
}

static void test_fail_grace(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &POL, 0, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, 0, 1, 2000), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, 0, 1, 3999), ST_SUSPECT);   /* 2999 ms < grace */
    assert_int_equal(feed(&s, &POL, 0, 1, 4000), ST_DOWN);      /* grace reached */
    assert_int_equal(s.since_ms, 4000);
    assert_int_equal(feed(&s, &POL, 0, 1, 5000), ST_DOWN);
}

static void test_blip_does_not_fail(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &POL, 0, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, 1, 1, 2000), ST_UP);
    /* The grace starts again at the next failure, not the first one. */
    assert_int_equal(feed(&s, &POL, 0, 1, 3000), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, 0, 1, 5000), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, 0, 1, 6000), ST_DOWN);
}

static void test_zero_grace(void **state)
{
    (void)state;
    store_policy p = {0, 0, 1, 0, 0, 0};
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &p, 0, 1, 10), ST_DOWN);
    assert_int_equal(feed(&s, &p, 1, 1, 20), ST_UP);
}

static void test_recovery_needs_probes_and_time(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_DOWN, 0);
    assert_int_equal(feed(&s, &POL, 1, 1, 10000), ST_RECOVERING);
    assert_int_equal(feed(&s, &POL, 1, 1, 11000), ST_RECOVERING);
    assert_int_equal(feed(&s, &POL, 1, 1, 12000), ST_RECOVERING);   /* 3 probes, 2 s */
    assert_false(store_sm_wants_catchup(&s, &POL, 12000));
    assert_int_equal(feed(&s, &POL, 1, 1, 14999), ST_RECOVERING);
    assert_int_equal(feed(&s, &POL, 1, 1, 15000), ST_UP);           /* 5 s since the first good */
    /* Time alone is not enough: at least recover_probes good probes. */
    store_policy p = {3000, 1000, 3, 0, 0, 0};
    store_sm_init(&s, ST_DOWN, 0);
    assert_int_equal(feed(&s, &p, 1, 1, 0), ST_RECOVERING);
    assert_int_equal(feed(&s, &p, 1, 1, 5000), ST_RECOVERING);
    assert_int_equal(feed(&s, &p, 1, 1, 6000), ST_UP);
}

static void test_recovery_interrupted(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_DOWN, 0);
    assert_int_equal(feed(&s, &POL, 1, 1, 1000), ST_RECOVERING);
    assert_int_equal(feed(&s, &POL, 1, 1, 2000), ST_RECOVERING);
    assert_int_equal(feed(&s, &POL, 0, 1, 3000), ST_DOWN);          /* one bad probe: down again */
    assert_int_equal(s.good, 0);
    assert_int_equal(feed(&s, &POL, 1, 1, 4000), ST_RECOVERING);    /* counting starts over */
    assert_int_equal(feed(&s, &POL, 1, 1, 8000), ST_RECOVERING);
    assert_int_equal(feed(&s, &POL, 1, 1, 9000), ST_UP);
}

static void test_catchup_gate(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_DOWN, 0);
    for (long long t = 0; t <= 5000; t += 1000)
        assert_int_equal(feed(&s, &POL, 1, 0, t), ST_RECOVERING);
    assert_true(store_sm_wants_catchup(&s, &POL, 5000));
    for (long long t = 6000; t <= 60000; t += 1000)
        assert_int_equal(feed(&s, &POL, 1, 0, t), ST_RECOVERING);   /* not caught up: waits */
    assert_int_equal(feed(&s, &POL, 1, 1, 61000), ST_UP);
    assert_false(store_sm_wants_catchup(&s, &POL, 61000));
}

/* fast_fail on, refusals confirmed after 200 ms; fail grace 3000 ms. */
static const store_policy FAST = {3000, 5000, 3, 1, 200, 0};

static void test_refused_goes_down_after_confirm(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1100), ST_SUSPECT);   /* 100 < 200 */
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1200), ST_DOWN);      /* not 3000 */
    assert_int_equal(s.since_ms, 1200);
}

static void test_refused_run_broken_by_other_results(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1000), ST_SUSPECT);
    /* A timeout in between: the refusals start over, the grace goes on. */
    assert_int_equal(feed(&s, &FAST, VERDICT_BAD, 1, 1100), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1250), ST_SUSPECT);   /* run from 1250 */
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1400), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1450), ST_DOWN);
    /* A good probe ends it all: a store that listens again is up. */
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_GOOD, 1, 1100), ST_UP);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1250), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1300), ST_SUSPECT);   /* 50 ms of this run */
}

static void test_refused_after_plain_failure(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &FAST, VERDICT_BAD, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1500), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1700), ST_DOWN);
    assert_int_equal(s.first_bad_ms, 1000);
}

static void test_refused_without_fast_fail_is_a_plain_failure(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &POL, VERDICT_REFUSED, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, VERDICT_REFUSED, 1, 1200), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, VERDICT_REFUSED, 1, 3999), ST_SUSPECT);
    assert_int_equal(feed(&s, &POL, VERDICT_REFUSED, 1, 4000), ST_DOWN);       /* fail grace */
}

static void test_refused_zero_confirm_and_other_states(void **state)
{
    (void)state;
    const store_policy at_once = {3000, 5000, 3, 1, 0, 0};
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &at_once, VERDICT_REFUSED, 1, 1000), ST_DOWN);
    store_sm_init(&s, ST_STARTING, 0);
    assert_int_equal(feed(&s, &at_once, VERDICT_REFUSED, 1, 10), ST_DOWN);
    /* Down stays down; recovering falls back to down, like any failure. */
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 1000), ST_DOWN);
    assert_int_equal(feed(&s, &FAST, VERDICT_GOOD, 0, 2000), ST_RECOVERING);
    assert_int_equal(feed(&s, &FAST, VERDICT_REFUSED, 1, 2100), ST_DOWN);
}

/* A store that keeps answering, however slowly, never takes the fast
 * path: bad rounds (timeouts) still need the whole fail grace. */
static void test_slow_store_needs_the_grace(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    for (long long t = 1000; t < 4000; t += 250)
        assert_int_equal(feed(&s, &FAST, VERDICT_BAD, 1, t), ST_SUSPECT);
    assert_int_equal(feed(&s, &FAST, VERDICT_BAD, 1, 4000), ST_DOWN);
}

/* Fail grace 3000 ms, busy grace 60000 ms. */
static const store_policy BUSY = {3000, 5000, 3, 1, 200, 60000};

static void test_busy_store_needs_the_busy_grace(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    /* A login storm: the store greets but the probe's login waits. */
    for (long long t = 1000; t < 61000; t += 1000)
        assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, t), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 61000), ST_DOWN);   /* 60 s not good */
    /* A good round in between starts over. */
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_GOOD, 1, 50000), ST_UP);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 51000), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 100000), ST_SUSPECT);
}

static void test_busy_breaks_a_run_of_failures(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BAD, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BAD, 1, 3000), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 3500), ST_SUSPECT);  /* it answered */
    assert_int_equal(feed(&s, &BUSY, VERDICT_BAD, 1, 4000), ST_SUSPECT);   /* not 3000 since 1000 */
    assert_int_equal(feed(&s, &BUSY, VERDICT_BAD, 1, 6999), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BAD, 1, 7000), ST_DOWN);      /* 3000 since 4000 */
    /* Refusals still go down fast while busy rounds came before. */
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_REFUSED, 1, 2000), ST_SUSPECT);
    assert_int_equal(feed(&s, &BUSY, VERDICT_REFUSED, 1, 2200), ST_DOWN);
}

static void test_busy_is_no_recovery(void **state)
{
    (void)state;
    store_sm s;
    store_sm_init(&s, ST_DOWN, 0);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 1000), ST_DOWN);
    assert_int_equal(feed(&s, &BUSY, VERDICT_GOOD, 1, 2000), ST_RECOVERING);
    assert_int_equal(feed(&s, &BUSY, VERDICT_BUSY, 1, 3000), ST_DOWN);
    /* A busy grace under the fail grace counts as the fail grace. */
    store_policy p = {3000, 5000, 3, 0, 0, 0};
    store_sm_init(&s, ST_UP, 0);
    assert_int_equal(feed(&s, &p, VERDICT_BUSY, 1, 1000), ST_SUSPECT);
    assert_int_equal(feed(&s, &p, VERDICT_BUSY, 1, 3999), ST_SUSPECT);
    assert_int_equal(feed(&s, &p, VERDICT_BUSY, 1, 4000), ST_DOWN);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(store_state_name(ST_UP), "up");
    assert_string_equal(store_state_name(ST_SUSPECT), "suspect");
    assert_string_equal(store_state_name(ST_DOWN), "down");
    assert_string_equal(store_state_name(ST_RECOVERING), "recovering");
    assert_string_equal(store_state_name(ST_STARTING), "starting");
}

static int decide(store_state p, store_state s, int active)
{
    buf why = BUF_INIT;
    int next = pair_decide(p, s, active, &why);
    if (next != active)
        assert_true(why.len > 0);
    else
        assert_int_equal(why.len, 0);
    buf_free(&why);
    return next;
}

static void test_pair(void **state)
{
    (void)state;
    /* Primary serving: stays. */
    assert_int_equal(decide(ST_UP, ST_UP, 0), 0);
    assert_int_equal(decide(ST_SUSPECT, ST_UP, 0), 0);        /* suspect still serves */
    assert_int_equal(decide(ST_STARTING, ST_STARTING, 0), 0);
    /* Primary down: to the secondary if it serves. */
    assert_int_equal(decide(ST_DOWN, ST_UP, 0), 1);
    assert_int_equal(decide(ST_DOWN, ST_SUSPECT, 0), 1);
    assert_int_equal(decide(ST_RECOVERING, ST_UP, 0), 1);
    /* Both down: keep the last. */
    assert_int_equal(decide(ST_DOWN, ST_DOWN, 0), 0);
    assert_int_equal(decide(ST_DOWN, ST_DOWN, 1), 1);
    /* On the secondary: back only when the primary is up (caught up). */
    assert_int_equal(decide(ST_RECOVERING, ST_UP, 1), 1);
    assert_int_equal(decide(ST_SUSPECT, ST_UP, 1), 1);
    assert_int_equal(decide(ST_STARTING, ST_UP, 1), 1);
    assert_int_equal(decide(ST_UP, ST_UP, 1), 0);
    assert_int_equal(decide(ST_UP, ST_DOWN, 1), 0);
    /* Active dead, partner answering but not caught up: live beats dead. */
    assert_int_equal(decide(ST_RECOVERING, ST_DOWN, 1), 0);
    assert_int_equal(decide(ST_DOWN, ST_RECOVERING, 0), 1);
    /* Both recovering: no reason to move. */
    assert_int_equal(decide(ST_RECOVERING, ST_RECOVERING, 1), 1);
}

/* A whole failover and return, the way main.c drives it. */
static void test_scenario(void **state)
{
    (void)state;
    store_sm p, s;
    store_sm_init(&p, ST_STARTING, 0);
    store_sm_init(&s, ST_STARTING, 0);
    int active = 0;
    long long switched = -1, back = -1;
    for (long long t = 0; t <= 30000; t += 500) {
        int p_ok = !(t >= 5000 && t < 12000);   /* primary dead from 5 s to 12 s */
        feed(&p, &POL, p_ok, 1, t);
        feed(&s, &POL, 1, 1, t);
        int next = decide(p.state, s.state, active);
        if (next != active && next == 1 && switched < 0)
            switched = t;
        if (next != active && next == 0 && switched >= 0)
            back = t;
        active = next;
    }
    assert_int_equal(switched, 8000);           /* first bad at 5 s + 3 s grace */
    assert_int_equal(back, 17000);              /* first good at 12 s + 5 s recover grace */
    assert_int_equal(active, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starting),
        cmocka_unit_test(test_fail_grace),
        cmocka_unit_test(test_blip_does_not_fail),
        cmocka_unit_test(test_zero_grace),
        cmocka_unit_test(test_recovery_needs_probes_and_time),
        cmocka_unit_test(test_recovery_interrupted),
        cmocka_unit_test(test_catchup_gate),
        cmocka_unit_test(test_refused_goes_down_after_confirm),
        cmocka_unit_test(test_refused_run_broken_by_other_results),
        cmocka_unit_test(test_refused_after_plain_failure),
        cmocka_unit_test(test_refused_without_fast_fail_is_a_plain_failure),
        cmocka_unit_test(test_refused_zero_confirm_and_other_states),
        cmocka_unit_test(test_slow_store_needs_the_grace),
        cmocka_unit_test(test_busy_store_needs_the_busy_grace),
        cmocka_unit_test(test_busy_breaks_a_run_of_failures),
        cmocka_unit_test(test_busy_is_no_recovery),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_pair),
        cmocka_unit_test(test_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
