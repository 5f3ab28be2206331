/* Unit tests for the daemon log (src/lib/daemon_log.c) as emailng-policyd
 * uses it (src/policyd/log.c): one timestamped line per event, hostile
 * input never makes a second line, reopen after rotation (cmocka). */
#include <regex.h>
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
#include "log.h"

static char *read_all(const char *path)
{
    buf text = BUF_INIT, err = BUF_INIT;
    if (fs_read_file(path, 1 << 20, &text, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    buf_free(&err);
    buf_cstr(&text);
    return buf_steal(&text);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_lines(void **state)
{
    (void)state;
    char dir[] = "/tmp/policyd-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/policyd.log", dir);
    char *rotated = xasprintf("%s/policyd.log.1", dir);
    assert_int_equal(daemon_log_open("emailng-policyd", path), 0);
    assert_true(daemon_log_fd() > 2);

    daemon_log("table %s loaded: %d mailboxes", "t\nforged line\r\x1b[2J\xc3\xa9", 3);
    char *text = read_all(path);
    assert_int_equal(count_lines(text), 1);
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{4} "
                                  "emailng-policyd\\[[0-9]+\\]: table t\\?forged line\\?\\?\\[2J\\?\\? loaded: 3 mailboxes\n$",
                             REG_EXTENDED), 0);
    if (regexec(&re, text, 0, NULL, 0) != 0)
        fail_msg("unexpected log line: %s", text);
    regfree(&re);
    free(text);

    /* A decision: every value quoted and escaped, still one line. */
    request r;
    request_init(&r, NULL);
    static const char req[] = "protocol_state=RCPT\nclient_address=192.0.2.1\nsender=a\"b\\c@example.org\n"
                              "recipient=x@example.test\tforged=1\nqueue_id=Q1\n\n";
    size_t used;
    assert_int_equal(request_feed(&r, req, sizeof req - 1, &used), REQ_DONE);
    log_decision(&r, "DUNNO", "reason with \"quotes\"\nand a newline", 1.5);
    request_free(&r);
    text = read_all(path);
    assert_int_equal(count_lines(text), 2);
    const char *line = strchr(text, '\n') + 1;
    assert_non_null(strstr(line, " emailng-policyd["));
    assert_non_null(strstr(line, "]: decision queue_id=\"Q1\" state=\"RCPT\" client=\"192.0.2.1\" helo=\"\" "
                                 "sasl_user=\"\" sender=\"a\\\"b\\\\c@example.org\" "
                                 "recipient=\"x@example.test\\tforged=1\" action=\"DUNNO\" "
                                 "reason=\"reason with \\\"quotes\\\"\\nand a newline\" ms=1.500\n"));
    free(text);

    /* Rotation: the file is renamed away, SIGHUP reopens the path. */
    assert_int_equal(rename(path, rotated), 0);
    assert_int_equal(daemon_log_reopen(), 0);
    daemon_log_str("after rotation");
    text = read_all(path);
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, "]: after rotation\n"));
    free(text);
    text = read_all(rotated);
    assert_int_equal(count_lines(text), 2);
    free(text);

    /* A long message is cut, never split. */
    char *big = xmalloc(3 * DAEMON_LOG_MAX);
    memset(big, 'x', 3 * DAEMON_LOG_MAX - 1);
    big[3 * DAEMON_LOG_MAX - 1] = '\0';
    daemon_log_str(big);
    free(big);
    text = read_all(path);
    assert_int_equal(count_lines(text), 2);
    assert_true(strlen(text) < 2 * DAEMON_LOG_MAX);
    free(text);

    /* "-" is stderr; the file is closed. */
    assert_int_equal(daemon_log_open("emailng-policyd", "-"), 0);
    assert_int_equal(daemon_log_fd(), 2);
    assert_int_equal(daemon_log_reopen(), 0);
    assert_int_not_equal(daemon_log_open("emailng-policyd", "/nonexistent/dir/log"), 0);
    assert_int_equal(daemon_log_fd(), 2);
    daemon_log_close();

    unlink(path);
    unlink(rotated);
    rmdir(dir);
    free(path);
    free(rotated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
