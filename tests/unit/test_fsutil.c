/* Unit tests for the arithmetic in src/lib/fsutil.c that `emailng status`
 * warns with (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* fs_read_secret, shared by healthd, syncwatch and `emailng replication`:
 * LF or CRLF line ends dropped, one line only, and a refused file leaves
 * nothing of its content in the caller's buffer. */
static void test_read_secret(void **state)
{
    (void)state;
    char dir[] = "/tmp/emailng-fsutil-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/secret", dir);
    static const struct {
        const char *content;
        const char *want;       /* NULL: refused */
        const char *why;
    } cases[] = {
        {"s3cret", "s3cret", NULL}, {"s3cret\n", "s3cret", NULL}, {"s3cret\r\n", "s3cret", NULL},
        {"s3cret\n\n", "s3cret", NULL}, {"s3\"cr et\\", "s3\"cr et\\", NULL},
        {"", NULL, "empty"}, {"\r\n", NULL, "empty"}, {"one\ntwo\n", NULL, "one line"},
        {"one\rtwo\n", NULL, "one line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf err = BUF_INIT, out = BUF_INIT;
        assert_int_equal(fs_write_file(path, cases[i].content, strlen(cases[i].content), 0600, &err), 0);
        int rc = fs_read_secret(path, 1024, &out, &err);
        if (cases[i].want) {
            assert_int_equal(rc, 0);
            assert_string_equal(buf_cstr(&out), cases[i].want);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(buf_cstr(&err), path));
            assert_non_null(strstr(buf_cstr(&err), cases[i].why));
            assert_int_equal(out.len, 0);
            for (size_t k = 0; k < out.cap; k++)
                assert_int_equal(out.data[k], 0);        /* wiped, not only emptied */
        }
        buf_free(&err);
        buf_free(&out);
    }
    /* too large: refused, and the part read is wiped too */
    buf err = BUF_INIT, out = BUF_INIT;
    assert_int_equal(fs_write_file(path, "0123456789abcdef", 16, 0600, &err), 0);
    assert_int_equal(fs_read_secret(path, 8, &out, &err), -1);
    assert_int_equal(out.len, 0);
    for (size_t k = 0; k < out.cap; k++)
        assert_int_equal(out.data[k], 0);
    buf_free(&out);
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    buf_free(&err);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_used),
        cmocka_unit_test(test_used_percent_of_a_real_path),
        cmocka_unit_test(test_read_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
