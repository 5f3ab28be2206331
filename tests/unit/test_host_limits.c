/* Unit tests for src/lib/host_limits.c (cmocka): raising kernel limits in a
 * directory laid out like /proc/sys, and reporting those it cannot raise.
 * A sysctl root cannot write is a real one: /proc/sys/kernel/cap_last_cap
 * (mode 0444, a small number), reached through a symbolic link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "host_limits.h"

static char dir[] = "/tmp/emailng-limits-XXXXXX";

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/fs/inotify/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    char sub[256];
    strcpy(dir, "/tmp/emailng-limits-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sub, sizeof sub, "%s/fs", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/fs/inotify", dir);
    return mkdir(sub, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_raises_low_values_and_keeps_high_ones(void **state)
{
    (void)state;
    put("max_user_instances", "128\n");
    put("max_user_watches", "1000000\n");
    buf low = BUF_INIT;
    assert_int_equal(host_kernel_limits_check(dir, &low), 1);
    assert_non_null(strstr(buf_cstr(&low), "fs.inotify.max_user_instances is 128"));
    buf_free(&low);

    assert_int_equal(host_kernel_limits_raise(dir, &low), 0);
    assert_int_equal(low.len, 0);
    assert_int_equal(host_kernel_limit_read(dir, &host_kernel_limits[0]), host_kernel_limits[0].want);
    /* Never lowered. */
    assert_int_equal(host_kernel_limit_read(dir, &host_kernel_limits[1]), 1000000);
    assert_int_equal(host_kernel_limits_check(dir, &low), 0);
    buf_free(&low);
}

static void test_reports_what_it_cannot_raise(void **state)
{
    (void)state;
    char link[256];
    snprintf(link, sizeof link, "%s/fs/inotify/max_user_instances", dir);
    assert_int_equal(symlink("/proc/sys/kernel/cap_last_cap", link), 0);
    put("max_user_watches", "1000000\n");
    buf low = BUF_INIT;
    assert_int_equal(host_kernel_limits_raise(dir, &low), 1);
    assert_non_null(strstr(buf_cstr(&low), "fs.inotify.max_user_instances is "));
    assert_non_null(strstr(buf_cstr(&low), "Permission denied"));
    assert_non_null(strstr(buf_cstr(&low), "polls every 30 s"));
    buf_free(&low);
}

static void test_unreadable_is_low(void **state)
{
    (void)state;
    put("max_user_instances", "not a number\n");   /* and no max_user_watches at all */
    buf low = BUF_INIT;
    assert_int_equal(host_kernel_limits_check(dir, &low), 2);
    assert_non_null(strstr(buf_cstr(&low), "cannot read it"));
    buf_free(&low);
}

static void test_warning_lines(void **state)
{
    (void)state;
    char text[256] = "";
    FILE *f = fmemopen(text, sizeof text, "w");
    assert_non_null(f);
    host_limits_warn(f, "store1: ", "a is 1\nb is 2\n");
    host_limits_warn(f, "", "");
    assert_int_equal(fclose(f), 0);
    assert_string_equal(text, "emailng: warning: store1: a is 1\nemailng: warning: store1: b is 2\n");
}

static void test_nofile_raised_and_restorable(void **state)
{
    (void)state;
    struct rlimit before, saved, now;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &before), 0);
    struct rlimit small = {256, before.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &small), 0);
    buf err = BUF_INIT;
    int rc = host_nofile_raise(HOST_NOFILE_WANT, &saved, &err);
    assert_int_equal(saved.rlim_cur, 256);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
    /* Raising the hard limit needs CAP_SYS_RESOURCE (a container may lack
     * it): then the soft limit goes as far as the hard one, and says so. */
    if (rc == 0) {
        assert_true(now.rlim_cur >= HOST_NOFILE_WANT);
    } else {
        assert_int_equal(rc, 1);
        assert_true(before.rlim_max < HOST_NOFILE_WANT);
        assert_int_equal(now.rlim_cur, before.rlim_max);
        assert_non_null(strstr(buf_cstr(&err), "EmailNG wants 16384"));
    }
    /* Raising from 256 to the wanted value or the hard limit must work here. */
    if (before.rlim_max >= HOST_NOFILE_WANT)
        assert_int_equal(rc, 0);
    buf_free(&err);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &before), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_raises_low_values_and_keeps_high_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports_what_it_cannot_raise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_is_low, setup, teardown),
        cmocka_unit_test(test_warning_lines),
        cmocka_unit_test(test_nofile_raised_and_restorable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
