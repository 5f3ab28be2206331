/* catchup: the check program gets the pair's names in its environment and,
 * when configured, the secret as one line on standard input (never argv);
 * its standard error goes to the log descriptor given (healthd's log);
 * its exit status is the answer; an overrun is killed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catchup.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the shell script as the check (its stderr on log_fd) and waits
 * for its answer. */
static int run_check_at(const char *script, const char *secret, long long away_since, int log_fd, long timeout_ms,
                        buf *detail)
{
    char *const argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    catchup_job job = {0};
    buf err = BUF_INIT;
    assert_int_equal(catchup_start(&job, argv, "pair1", "198.18.0.31", "198.18.0.32", secret, away_since, log_fd,
                                   timeout_ms, now_ms(), &err), 0);
    buf_free(&err);
    int r;
    while ((r = catchup_poll(&job, now_ms(), detail)) < 0)
        usleep(10 * 1000);
    return r;
}

static int run_check(const char *script, const char *secret, long timeout_ms, buf *detail)
{
    return run_check_at(script, secret, 0, -1, timeout_ms, detail);
}

/* The time the store stopped serving, when the monitor saw it; else no
 * such variable at all (not an empty one). */
static void test_down_since_in_the_environment(void **state)
{
    (void)state;
    buf detail = BUF_INIT;
    assert_int_equal(run_check_at("[ \"$HEALTHD_DOWN_SINCE\" = 1800000000 ]", NULL, 1800000000LL, -1, 5000, &detail),
                     1);
    setenv("HEALTHD_DOWN_SINCE", "1", 1);      /* not inherited from the monitor's own environment */
    assert_int_equal(run_check("[ -z \"${HEALTHD_DOWN_SINCE+set}\" ]", NULL, 5000, &detail), 1);
    unsetenv("HEALTHD_DOWN_SINCE");
    buf_free(&detail);
}

/* What the check writes to stderr lands in the log; its stdout does not. */
static void test_stderr_goes_to_the_log(void **state)
{
    (void)state;
    char path[] = "/tmp/test_catchup_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    buf detail = BUF_INIT;
    assert_int_equal(run_check_at("echo to-stdout; echo 'action=\"duplicate-removed\"' >&2", NULL, 0, fd, 5000,
                                  &detail), 1);
    char text[256] = {0};
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    assert_true(n > 0);
    assert_string_equal(text, "action=\"duplicate-removed\"\n");
    close(fd);
    unlink(path);
    buf_free(&detail);
}

static void test_secret_arrives_on_stdin(void **state)
{
    (void)state;
    buf detail = BUF_INIT;
    assert_int_equal(run_check("read s && [ \"$s\" = 's3cret line' ] && [ \"$HEALTHD_PAIR\" = pair1 ] "
                               "&& [ \"$HEALTHD_STORE\" = 198.18.0.31 ] && [ \"$HEALTHD_PARTNER\" = 198.18.0.32 ]",
                               "s3cret line", 5000, &detail),
                     1);
    /* Nothing else follows the one line. */
    assert_int_equal(run_check("read s; if read more; then exit 1; fi; [ -z \"$more\" ]", "x", 5000, &detail), 1);
    buf_free(&detail);
}

static void test_without_secret_stdin_is_empty(void **state)
{
    (void)state;
    buf detail = BUF_INIT;
    assert_int_equal(run_check("if read s; then exit 1; fi; [ -z \"$s\" ]", NULL, 5000, &detail), 1);
    buf_free(&detail);
}

static void test_not_yet_and_overrun(void **state)
{
    (void)state;
    buf detail = BUF_INIT;
    assert_int_equal(run_check("exit 1", "x", 5000, &detail), 0);
    /* A check that does not read its secret and runs past the deadline. */
    buf_reset(&detail);
    assert_int_equal(run_check("sleep 30", "x", 200, &detail), 0);
    assert_non_null(strstr(buf_cstr(&detail), "time"));
    buf_free(&detail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_arrives_on_stdin),
        cmocka_unit_test(test_without_secret_stdin_is_empty),
        cmocka_unit_test(test_not_yet_and_overrun),
        cmocka_unit_test(test_stderr_goes_to_the_log),
        cmocka_unit_test(test_down_since_in_the_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
