/* Unit tests for src/lib/acl_rights.c (cmocka): the rights `emailng share`
 * and `emailng public` pass to doveadm acl set, and the folder names they
 * refuse before any doveadm runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "acl_rights.h"

static void expect_rights(const char *text, const char *const *want, size_t n_want)
{
    const char *names[ACL_RIGHTS_MAX];
    size_t n = 99;
    buf err = BUF_INIT;
    assert_int_equal(acl_rights_parse(text, names, &n, &err), 0);
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    assert_int_equal(err.len, 0);
    buf_free(&err);
}

static void test_presets(void **state)
{
    (void)state;
    const char *read[] = {"lookup", "read", "write-seen"};
    expect_rights("read", read, 3);
    const char *write[] = {"lookup", "read", "write", "write-seen", "insert", "post", "create", "delete",
                           "write-deleted", "expunge"};
    const char *got[ACL_RIGHTS_MAX];
    size_t n = 0;
    buf err = BUF_INIT;
    assert_int_equal(acl_rights_parse("write", got, &n, &err), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {   /* same set as lrswipkxte, no admin */
        int found = 0;
        for (size_t j = 0; j < 10; j++)
            found |= strcmp(got[i], write[j]) == 0;
        assert_true(found);
        assert_string_not_equal(got[i], "admin");
    }
    buf_free(&err);
}

static void test_letters_in_order_repeats_ignored(void **state)
{
    (void)state;
    const char *want[] = {"insert", "lookup", "admin"};
    expect_rights("illa", want, 3);
}

static void test_bad_rights_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", "lrz", "READ", "l r", "rw\n", "c", "d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *names[ACL_RIGHTS_MAX];
        size_t n = 99;
        buf err = BUF_INIT;
        assert_int_equal(acl_rights_parse(bad[i], names, &n, &err), -1);
        assert_int_equal(n, 0);
        assert_true(strncmp(buf_cstr(&err), "rights:", 7) == 0);
        buf_free(&err);
    }
}

static void test_folder_names(void **state)
{
    (void)state;
    const char *good[] = {"INBOX", "Projects/2026", "Büro", "a.b", "Reports-1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        buf err = BUF_INIT;
        assert_int_equal(acl_folder_check(good[i], 1, &err), 0);
        buf_free(&err);
    }
    const char *bad[] = {"", "-u", "/etc", "a/../b", "..", "*", "a%", "a\tb", "x\x7f", "Shared/bob/INBOX",
                         "Public/News"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf err = BUF_INIT;
        assert_int_equal(acl_folder_check(bad[i], 1, &err), -1);
        assert_true(err.len > 0);
        buf_free(&err);
    }
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    buf err = BUF_INIT;
    assert_int_equal(acl_folder_check(longname, 1, &err), -1);
    buf_free(&err);
    /* A Public/ name is given without its prefix; "Shared/x" there is just a name. */
    err = (buf)BUF_INIT;
    assert_int_equal(acl_folder_check("Shared/x", 0, &err), 0);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_letters_in_order_repeats_ignored),
        cmocka_unit_test(test_bad_rights_refused),
        cmocka_unit_test(test_folder_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
