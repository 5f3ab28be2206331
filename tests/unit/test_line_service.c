/* Unit tests for src/lib/line_service.c: line_read's bounds, over a
 * socketpair as the daemons' clients write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "line_service.h"

/* Writes text to one end (then closes it), reads one line of at most max
 * from the other. */
static int read_from(const char *text, size_t len, size_t max, buf *line)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], text, len), (ssize_t)len);
    close(sv[0]);
    int rc = line_read(sv[1], line, max);
    close(sv[1]);
    return rc;
}

static void test_lines_within_the_bound(void **state)
{
    (void)state;
    buf line = BUF_INIT;
    assert_int_equal(read_from("spam a@b c@d\r\n", 14, 12, &line), 0);
    assert_string_equal(buf_cstr(&line), "spam a@b c@d");      /* 12 bytes, CR LF stripped */
    assert_int_equal(read_from("ham x\nmore\n", 11, 12, &line), 0);
    assert_string_equal(buf_cstr(&line), "ham x");             /* one line only */
    assert_int_equal(read_from("\n", 1, 12, &line), 0);
    assert_string_equal(buf_cstr(&line), "");
    buf_free(&line);
}

static void test_refused_lines(void **state)
{
    (void)state;
    buf line = BUF_INIT;
    assert_int_equal(read_from("spam a@b c@de\r\n", 15, 12, &line), -1);   /* 13 bytes */
    assert_int_equal(read_from("spam a@b c@de\n", 14, 12, &line), -1);
    assert_int_equal(read_from("spam\0x\n", 7, 12, &line), -1);             /* a NUL */
    assert_int_equal(read_from("no newline", 10, 12, &line), -1);           /* EOF first */
    buf_free(&line);
}

static void test_say_to_a_closed_peer(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    /* line_say reports it (SIGPIPE ignored, as daemon_signals_catch does). */
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(line_say(sv[0], "200 ready\r\n"), -1);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_within_the_bound),
        cmocka_unit_test(test_refused_lines),
        cmocka_unit_test(test_say_to_a_closed_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
