/* Unit tests for src/lib/import_list.c and src/lib/import_report.c
 * (cmocka): the list file of `emailng import` (every bad line as
 * FILE:LINE) and what it reads from doveadm's answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "import_list.h"
#include "import_report.h"

static void test_good_lines(void **state)
{
    (void)state;
    const char *text = "# users of the old server\n"
                       "\n"
                       "Alice@Example.TEST\timap  alice.old  /root/pw/alice   # comment\r\n"
                       "bob@example.test maildir /srv/old/bob/Maildir\n"
                       "carol@example.test maildir /srv/old/carol fs";
    struct import_list list;
    buf errors = BUF_INIT;
    assert_int_equal(import_list_parse("users.list", text, strlen(text), &list, &errors), 0);
    assert_string_equal(buf_cstr(&errors), "");
    assert_int_equal(list.n, 3);
    assert_string_equal(list.entries[0].address, "alice@example.test");
    assert_int_equal(list.entries[0].source, IMPORT_IMAP);
    assert_string_equal(list.entries[0].login, "alice.old");
    assert_string_equal(list.entries[0].password_file, "/root/pw/alice");
    assert_int_equal(list.entries[0].line, 3);
    assert_int_equal(list.entries[1].source, IMPORT_MAILDIR);
    assert_string_equal(list.entries[1].maildir, "/srv/old/bob/Maildir");
    assert_string_equal(list.entries[1].layout, "maildir++");
    assert_string_equal(list.entries[2].layout, "fs");
    assert_non_null(import_list_find(&list, "bob@example.test"));
    assert_null(import_list_find(&list, "dave@example.test"));
    import_list_free(&list);
    buf_free(&errors);
}

static void test_every_bad_line_reported(void **state)
{
    (void)state;
    const char text[] = "a@example.test imap x /p\n"
                        "nonsense\n"
                        "b@@example.test imap x /p\n"
                        "c@example.test imap x p\n"
                        "d@example.test imap x /p extra\n"
                        "e@example.test pop3 x /p\n"
                        "f@example.test maildir /m other\n"
                        "g@example.test maildir /m:INDEX=/x\n"
                        "a@example.test maildir /m\n"
                        "h@example.test imap x\x01y /p\n"
                        "i@example.test imap x /p\0hidden\n";
    struct import_list list;
    buf errors = BUF_INIT;
    assert_int_equal(import_list_parse("l", text, sizeof text - 1, &list, &errors), 10);
    assert_int_equal(list.n, 1);
    const char *e = buf_cstr(&errors);
    assert_non_null(strstr(e, "l:2: expected ADDRESS"));
    assert_non_null(strstr(e, "l:3: ADDRESS: "));
    assert_non_null(strstr(e, "l:4: PASSWORD_FILE must be an absolute path"));
    assert_non_null(strstr(e, "l:5: an imap line has 4 fields"));
    assert_non_null(strstr(e, "l:6: the source must be imap or maildir"));
    assert_non_null(strstr(e, "l:7: layout must be maildir++ or fs"));
    assert_non_null(strstr(e, "l:8: PATH must be an absolute path without ':'"));
    assert_non_null(strstr(e, "l:9: a@example.test is listed twice (line 1)"));
    assert_non_null(strstr(e, "l:10: LOGIN"));
    assert_non_null(strstr(e, "l:11: a NUL byte"));
    import_list_free(&list);
    buf_free(&errors);
}

static void test_dsync_output(void **state)
{
    (void)state;
    const char *out = "dsync(a@b): Info: imapc(127.0.0.1:143): Connected\n"
                      "dsync(a@b): Error: Failed to save mail: Quota exceeded\n"
                      "AQAAAJneMBkjVsvhslr+BpfzyO46YRZr\n"
                      "doveadm(a@b): Error: second\n";
    char *st = import_dsync_state(out);
    assert_string_equal(st, "AQAAAJneMBkjVsvhslr+BpfzyO46YRZr");
    free(st);
    assert_null(import_dsync_state("dsync(x): Error: nothing\n"));
    buf first = BUF_INIT;
    assert_int_equal(import_error_lines(out, &first), 2);
    assert_string_equal(buf_cstr(&first), "Failed to save mail: Quota exceeded; second");
    buf_free(&first);
}

static void test_mailbox_totals_and_quota(void **state)
{
    (void)state;
    struct import_totals t;
    buf err = BUF_INIT;
    assert_int_equal(import_mailbox_totals("doveadm(x): Info: connected\nmailbox\tmessages\tvsize\n"
                                           "INBOX\t5\t5228\nA&B\t0\t0\n\xc3\x9c\t1\t50\n", &t, &err), 0);
    assert_true(t.folders == 3 && t.messages == 6 && t.bytes == 5278);
    assert_int_equal(import_mailbox_totals("mailbox\tmessages\tvsize\nINBOX\tx\t1\n", &t, &err), -1);
    buf_reset(&err);
    assert_int_equal(import_mailbox_totals("doveadm(x): Error: User doesn't exist\n", &t, &err), -1);
    long long used, limit;
    assert_int_equal(import_quota_storage("Quota name\tType\tValue\tLimit\t%\nUser quota\tSTORAGE\t6\t2\t300\n"
                                          "User quota\tMESSAGE\t7\t-\t0\n", &used, &limit, &err), 0);
    assert_true(used == 6 && limit == 2);
    assert_int_equal(import_quota_storage("Quota name\tType\tValue\tLimit\t%\nUser quota\tSTORAGE\t6\t-\t0\n", &used,
                                          &limit, &err), 0);
    assert_true(limit == -1);
    buf_free(&err);
}

static void test_user_state_round_trip(void **state)
{
    (void)state;
    struct import_user_state s = {.pass = 3, .here = {4, 10, 1000}, .source = {4, 11, 1100}, .new_messages = 2,
                                  .quota_used_kib = 5, .quota_limit_kib = -1, .seconds = 1.5};
    s.phase = strdup("final");
    s.result = strdup("done");
    s.dsync_state = strdup("AQAAAA==");
    s.finished = strdup("2026-12-07T07:00:00Z");
    s.error = strdup("two\nlines");
    buf text = BUF_INIT, err = BUF_INIT;
    import_user_state_format(&s, &text);
    struct import_user_state r;
    assert_int_equal(import_user_state_parse(buf_cstr(&text), &r, &err), 0);
    assert_true(r.pass == 3 && r.here.messages == 10 && r.source.bytes == 1100 && r.new_messages == 2);
    assert_true(r.quota_limit_kib == -1 && r.seconds > 1.4 && r.seconds < 1.6);
    assert_string_equal(r.phase, "final");
    assert_string_equal(r.dsync_state, "AQAAAA==");
    assert_string_equal(r.error, "two lines");
    import_user_state_free(&r);
    assert_int_equal(import_user_state_parse("pass x\n", &r, &err), -1);
    import_user_state_free(&s);
    buf_free(&text);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_lines),
        cmocka_unit_test(test_every_bad_line_reported),
        cmocka_unit_test(test_dsync_output),
        cmocka_unit_test(test_mailbox_totals_and_quota),
        cmocka_unit_test(test_user_state_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
