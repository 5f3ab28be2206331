/* Unit tests for src/lib/junk_request.c (cmocka): the one-line reports
 * the webmail's markasjunk plugin sends emailng-junklist, and what it
 * refuses before the directory or doveadm is asked anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "junk_request.h"

static void test_spam_and_ham(void **state)
{
    (void)state;
    struct junk_request r;
    buf err = BUF_INIT;
    assert_int_equal(junk_request_parse("spam Alice@Example.TEST Bad.Guy@Spam.EXAMPLE", &r, &err), 0);
    assert_int_equal(r.verdict, JUNK_SPAM);
    assert_string_equal(buf_cstr(&r.user), "alice@example.test");
    assert_string_equal(buf_cstr(&r.sender), "bad.guy@spam.example");
    assert_string_equal(junk_verdict_list(r.verdict), "emailngSpamDeny");
    assert_string_equal(junk_verdict_other_list(r.verdict), "emailngSpamAllow");
    junk_request_free(&r);
    assert_int_equal(junk_request_parse("ham alice@example.test friend+tag@example.org", &r, &err), 0);
    assert_int_equal(r.verdict, JUNK_HAM);
    assert_string_equal(buf_cstr(&r.sender), "friend+tag@example.org");
    assert_string_equal(junk_verdict_list(r.verdict), "emailngSpamAllow");
    assert_string_equal(junk_verdict_other_list(r.verdict), "emailngSpamDeny");
    assert_string_equal(junk_verdict_name(r.verdict), "ham");
    junk_request_free(&r);
    buf_free(&err);
}

static void expect_refused(const char *line, const char *why)
{
    struct junk_request r;
    buf err = BUF_INIT;
    assert_int_equal(junk_request_parse(line, &r, &err), -1);
    if (strstr(buf_cstr(&err), why) == NULL)
        fail_msg("%s: error %s lacks %s", line, buf_cstr(&err), why);
    junk_request_free(&r);
    buf_free(&err);
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("", "expected: spam|ham USER SENDER");
    expect_refused("spam alice@example.test", "expected: spam|ham USER SENDER");
    expect_refused("spam alice@example.test  bob@example.org", "expected");         /* double space */
    expect_refused("spam alice@example.test bob@example.org x", "expected");
    expect_refused("SPAM alice@example.test bob@example.org", "unknown verdict \"SPAM\"");
    expect_refused("deny alice@example.test bob@example.org", "unknown verdict");
    expect_refused("spam alice bob@example.org", "user");                           /* no domain */
    expect_refused("spam alice@example.test @example.org", "sender");               /* no domain lists */
    expect_refused("spam alice@example.test bob", "sender");
    expect_refused("spam alice@example.test (uid=*)@example.org", "sender");        /* LDAP filter syntax */
    expect_refused("spam alice@example.test bob@example.org\r", "sender");
    expect_refused("ham alice@example.test \"b c\"@example.org", "expected");
    expect_refused("ham alice@example.test b\xc3\xa9@example.org", "sender");
}

static void test_length_bound(void **state)
{
    (void)state;
    buf line = BUF_INIT;
    buf_append_str(&line, "spam alice@example.test ");
    for (int i = 0; i < 600; i++)
        buf_append_char(&line, 'a');
    buf_append_str(&line, "@example.org");
    expect_refused(buf_cstr(&line), "request longer than");
    buf_free(&line);
    /* a local part past 64 bytes, the whole within bounds */
    expect_refused("ham alice@example.test "
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org", "sender");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spam_and_ham),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_length_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
