/* list_message: a list's own addresses and id from the recipient Postfix
 * gives, the loop check on List-Id (folded lines, case, only the header
 * section), and the headers the list adds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "list_message.h"

static void test_address(void **state)
{
    (void)state;
    struct list_address a;
    list_address_init(&a);
    buf err = BUF_INIT;
    assert_int_equal(list_address_parse("Team+Foo@Example.TEST", &a, &err), 0);
    assert_string_equal(buf_cstr(&a.list), "team@example.test");
    assert_string_equal(buf_cstr(&a.id), "team.example.test");
    assert_string_equal(buf_cstr(&a.owner), "team+owner@example.test");
    assert_string_equal(buf_cstr(&a.members), "team+members@example.test");
    assert_string_equal(buf_cstr(&a.extension), "foo");
    assert_int_equal(list_address_parse("team@example.test", &a, &err), 0);
    assert_string_equal(buf_cstr(&a.extension), "");
    assert_string_equal(buf_cstr(&a.list), "team@example.test");

    static const char *const bad[] = {"team", "@example.test", "team@", "+x@example.test",
                                      "te am@example.test", "team@exa\xc3\xa9mple.test", "<team@example.test>", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_reset(&err);
        if (list_address_parse(bad[i], &a, &err) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_true(err.len > 0);
    }
    buf_free(&err);
    list_address_free(&a);
}

static int has(const char *text, const char *id)
{
    return list_message_has_list_id(text, strlen(text), id);
}

static void test_loop_check(void **state)
{
    (void)state;
    assert_true(has("From: a@b\nList-Id: Team <team.example.test>\nSubject: x\n\nbody\n", "team.example.test"));
    /* case-insensitive name and value, CRLF lines */
    assert_true(has("LIST-ID: <Team.Example.Test>\r\n\r\n", "team.example.test"));
    /* folded value */
    assert_true(has("List-Id: \"The team\"\n\t<team.example.test>\nSubject: x\n\n", "team.example.test"));
    /* several List-Id fields (nested lists): any one counts */
    assert_true(has("List-Id: <other.example.test>\nList-Id: <team.example.test>\n\n", "team.example.test"));
    /* another list, a longer id, no brackets, a look-alike header */
    assert_false(has("List-Id: <other.example.test>\n\n", "team.example.test"));
    assert_false(has("List-Id: <xteam.example.test>\n\n", "team.example.test"));
    assert_false(has("List-Id: <team.example.test.org>\n\n", "team.example.test"));
    assert_false(has("List-Id: team.example.test\n\n", "team.example.test"));
    assert_false(has("X-List-Id: <team.example.test>\n\n", "team.example.test"));
    assert_false(has("List-Ids: <team.example.test>\n\n", "team.example.test"));
    /* only the header section counts, not a quoted message in the body */
    assert_false(has("Subject: x\n\nList-Id: <team.example.test>\n", "team.example.test"));
    assert_false(has("Subject: x\r\n\r\nList-Id: <team.example.test>\r\n", "team.example.test"));
    assert_false(has("", "team.example.test"));
    /* a folded line of another field that mentions the id is not List-Id */
    assert_false(has("Subject: about\n <team.example.test>\n\n", "team.example.test"));
}

static void test_headers(void **state)
{
    (void)state;
    struct list_address a;
    list_address_init(&a);
    buf err = BUF_INIT, out = BUF_INIT;
    assert_int_equal(list_address_parse("team@example.test", &a, &err), 0);
    list_message_headers(&a, &out);
    assert_string_equal(buf_cstr(&out),
                        "List-Id: <team.example.test>\r\n"
                        "List-Owner: <mailto:team+owner@example.test>\r\n"
                        "List-Unsubscribe: <mailto:team+owner@example.test?subject=unsubscribe%20team@example.test>\r\n"
                        "Precedence: list\r\n");
    /* what the list adds, it recognises as its own */
    assert_true(list_message_has_list_id(out.data, out.len, buf_cstr(&a.id)));
    buf_free(&err);
    buf_free(&out);
    list_address_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_loop_check),
        cmocka_unit_test(test_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
