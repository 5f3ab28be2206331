/* Unit tests for the Prometheus text format writer (src/lib/promtext.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "promtext.h"

static void test_escape(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    prom_escape("a\\b\"c\nd", &out);
    assert_string_equal(buf_cstr(&out), "a\\\\b\\\"c\\nd");
    buf_free(&out);
}

static void test_family_and_samples(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    prom_family(&out, "x_total", "counter", "Things.");
    static const char *const labels[] = {"policy", "spf", "action", "re\"ject", NULL};
    prom_sample_u(&out, "x_total", labels, 18446744073709551615ULL);
    prom_sample_u(&out, "x_total", NULL, 0);
    prom_sample_d(&out, "y_seconds", NULL, 0.25);
    prom_sample_d(&out, "y_seconds", NULL, INFINITY);
    assert_string_equal(buf_cstr(&out), "# HELP x_total Things.\n# TYPE x_total counter\n"
                                        "x_total{policy=\"spf\",action=\"re\\\"ject\"} 18446744073709551615\n"
                                        "x_total 0\n"
                                        "y_seconds 0.25\n"
                                        "y_seconds +Inf\n");
    buf_free(&out);
}

/* A value on a bound falls into that bucket (le: less or equal); one above
 * the last bound only into +Inf; buckets are cumulative. */
static void test_histogram(void **state)
{
    (void)state;
    static const double bounds[] = {0.001, 0.01, 1};
    prom_histogram h;
    prom_histogram_init(&h, bounds, 3);
    prom_histogram_observe(&h, 0.0005);
    prom_histogram_observe(&h, 0.001);
    prom_histogram_observe(&h, 0.5);
    prom_histogram_observe(&h, 2);
    buf out = BUF_INIT;
    static const char *const labels[] = {"kind", "a", NULL};
    prom_histogram_format(&out, "d_seconds", labels, &h);
    assert_string_equal(buf_cstr(&out), "d_seconds_bucket{kind=\"a\",le=\"0.001\"} 2\n"
                                        "d_seconds_bucket{kind=\"a\",le=\"0.01\"} 2\n"
                                        "d_seconds_bucket{kind=\"a\",le=\"1\"} 3\n"
                                        "d_seconds_bucket{kind=\"a\",le=\"+Inf\"} 4\n"
                                        "d_seconds_sum{kind=\"a\"} 2.5015000000000001\n"
                                        "d_seconds_count{kind=\"a\"} 4\n");
    buf_reset(&out);
    prom_histogram_format(&out, "e_seconds", NULL, &h);
    assert_non_null(strstr(buf_cstr(&out), "e_seconds_bucket{le=\"+Inf\"} 4\ne_seconds_sum 2.5"));
    assert_non_null(strstr(buf_cstr(&out), "\ne_seconds_count 4\n"));
    buf_free(&out);
    prom_histogram_free(&h);
}

/* The file is replaced whole and readable by other users (metricsd's). */
static void test_file_write(void **state)
{
    (void)state;
    char dir[] = "/tmp/promtext-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/x.prom", dir);
    buf text = BUF_INIT, err = BUF_INIT, back = BUF_INIT;
    buf_append_str(&text, "a_total 1\n");
    assert_int_equal(prom_file_write(path, &text, &err), 0);
    buf_reset(&text);
    buf_append_str(&text, "a_total 2\n");
    assert_int_equal(prom_file_write(path, &text, &err), 0);
    assert_int_equal(fs_read_file(path, 1024, &back, &err), 0);
    assert_string_equal(buf_cstr(&back), "a_total 2\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    unlink(path);
    rmdir(dir);
    buf_free(&text);
    buf_free(&err);
    buf_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_file_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
