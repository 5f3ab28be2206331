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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "address.h"
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

/* A field is escaped exactly as address_quote escapes it, whatever its
 * bytes, and cut at DAEMON_LOG_FIELD_MAX. */
static void test_field_escaping(void **state)
{
    (void)state;
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    buf got = BUF_INIT, want = BUF_INIT;
    daemon_log_field(&got, "k", all);
    buf_append_str(&want, " k=");
    address_quote(&want, all);
    assert_string_equal(got.data, want.data);

    char *big = xmalloc(DAEMON_LOG_FIELD_MAX + 100);
    for (size_t i = 0; i < DAEMON_LOG_FIELD_MAX + 99; i++)
        big[i] = "a\"\\\n\xff"[i % 5];
    big[DAEMON_LOG_FIELD_MAX + 99] = '\0';
    buf_reset(&got);
    buf_reset(&want);
    daemon_log_field(&got, "key", big);
    big[DAEMON_LOG_FIELD_MAX] = '\0';
    buf_append_str(&want, " key=");
    address_quote(&want, big);
    assert_string_equal(got.data, want.data);
    free(big);
    buf_free(&got);
    buf_free(&want);
}

static int pending_calls;

static void on_pending(void *arg)
{
    assert_ptr_equal(arg, &pending_calls);
    pending_calls++;
}

/* Buffered: lines wait in memory, in order, until a flush, a full buffer,
 * a reopen (to the old file) or a close; a forked child does not write
 * them again. */
static void test_buffered(void **state)
{
    (void)state;
    char dir[] = "/tmp/policyd-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/policyd.log", dir);
    char *rotated = xasprintf("%s/policyd.log.1", dir);
    assert_int_equal(daemon_log_open("emailng-policyd", path), 0);
    assert_int_equal(daemon_log_buffer(1024, on_pending, &pending_calls), 0);

    daemon_log("one");
    daemon_log_str("two");
    assert_int_equal(pending_calls, 1);
    char *text = read_all(path);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(daemon_log_flush(), 0);
    assert_int_equal(daemon_log_flush(), 0);
    text = read_all(path);
    assert_int_equal(count_lines(text), 2);
    assert_non_null(strstr(text, "]: one\n"));
    assert_non_null(strstr(strstr(text, "]: one\n"), "]: two\n"));
    free(text);

    /* full: what is waiting is written before the line that does not fit */
    char msg[300];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    for (int i = 0; i < 4; i++)
        daemon_log_str(msg);
    assert_int_equal(pending_calls, 3);
    text = read_all(path);
    assert_int_equal(count_lines(text), 4);
    free(text);
    /* a line longer than the buffer goes out at once, after the others */
    char *big = xmalloc(2000);
    memset(big, 'b', 1999);
    big[1999] = '\0';
    daemon_log_str(big);
    free(big);
    text = read_all(path);
    assert_int_equal(count_lines(text), 7);
    assert_non_null(strstr(text, "bbbbbbbb\n"));
    assert_null(strstr(strstr(text, "bbbbbbbb\n"), "mmmm"));
    free(text);

    /* a forked child drops its parent's lines and writes its own at once */
    daemon_log("parent before fork");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        daemon_log("child");
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    text = read_all(path);
    assert_int_equal(count_lines(text), 8);
    char *want = xasprintf("[%ld]: child\n", (long)pid);
    assert_non_null(strstr(text, want));
    free(want);
    assert_null(strstr(text, "parent before fork"));
    free(text);

    /* rotation: the lines so far go to the old file */
    assert_int_equal(rename(path, rotated), 0);
    daemon_log("before reopen");
    assert_int_equal(daemon_log_reopen(), 0);
    daemon_log("after reopen");
    text = read_all(rotated);
    assert_int_equal(count_lines(text), 10);
    assert_non_null(strstr(text, "]: parent before fork\n"));
    assert_non_null(strstr(text, "]: before reopen\n"));
    assert_null(strstr(text, "after reopen"));
    free(text);

    /* a decision line, buffered like any other */
    request r;
    request_init(&r, NULL);
    static const char req[] = "queue_id=Q2\nsender=s@example.org\n\n";
    size_t used;
    assert_int_equal(request_feed(&r, req, sizeof req - 1, &used), REQ_DONE);
    log_decision(&r, "DUNNO", "ok", 0.25);
    request_free(&r);

    /* close (and turning buffering off) writes what waits */
    daemon_log_close();
    text = read_all(path);
    assert_int_equal(count_lines(text), 2);
    assert_non_null(strstr(text, "]: after reopen\n"));
    assert_non_null(strstr(text, "]: decision queue_id=\"Q2\" state=\"\" client=\"\" helo=\"\" sasl_user=\"\" "
                                 "sender=\"s@example.org\" recipient=\"\" action=\"DUNNO\" reason=\"ok\" ms=0.250\n"));
    free(text);
    assert_int_equal(daemon_log_open("emailng-policyd", path), 0);
    daemon_log("last");
    assert_int_equal(daemon_log_buffer(0, NULL, NULL), 0);
    text = read_all(path);
    assert_int_equal(count_lines(text), 3);
    free(text);
    daemon_log("unbuffered");
    text = read_all(path);
    assert_int_equal(count_lines(text), 4);
    free(text);
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
        cmocka_unit_test(test_field_escaping),
        cmocka_unit_test(test_buffered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
