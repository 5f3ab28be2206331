/* Unit tests for the doveadm reply parser (doveadm_client.c) and the
 * replicator status and secret of replication.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doveadm_client.h"
#include "fsutil.h"
#include "replication.h"

static int parse(const char *text, struct doveadm_reply *r, buf *err)
{
    return doveadm_reply_parse(text, strlen(text), r, err);
}

static void test_reply_values_and_status(void **state)
{
    (void)state;
    struct doveadm_reply r;
    buf err = BUF_INIT;
    assert_int_equal(parse("bob@example.test\tnone\t00:00:06\t00:00:06\t-\ty\t\n+\n", &r, &err), 0);
    assert_true(r.ok);
    assert_int_equal(r.n_fields, 6);
    assert_string_equal(r.fields[0], "bob@example.test");
    assert_string_equal(r.fields[4], "-");
    assert_string_equal(r.fields[5], "y");
    doveadm_reply_free(&r);
    /* No output, success (a sync). */
    assert_int_equal(parse("\n+\n", &r, &err), 0);
    assert_true(r.ok);
    assert_int_equal(r.n_fields, 0);
    doveadm_reply_free(&r);
    /* Failure with a code, and without one. */
    assert_int_equal(parse("\n-NOUSER\n", &r, &err), 0);
    assert_false(r.ok);
    assert_string_equal(r.code, "NOUSER");
    doveadm_reply_free(&r);
    assert_int_equal(parse("\n-\n", &r, &err), 0);
    assert_false(r.ok);
    assert_string_equal(r.code, "");
    doveadm_reply_free(&r);
    /* Empty values and escapes. */
    assert_int_equal(parse("\t\001t\001n\0011x\001r\t\n+\n", &r, &err), 0);
    assert_int_equal(r.n_fields, 2);
    assert_string_equal(r.fields[0], "");
    assert_string_equal(r.fields[1], "\t\n\001x\r");
    doveadm_reply_free(&r);
    buf_free(&err);
}

static void test_reply_incomplete_needs_more(void **state)
{
    (void)state;
    struct doveadm_reply r;
    buf err = BUF_INIT;
    static const char *const partial[] = {"", "bob\tnone\t", "bob\t\n", "bob\t\n+", "\n-TEMP"};
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++)
        assert_int_equal(doveadm_reply_parse(partial[i], strlen(partial[i]), &r, &err), 1);
    /* Split anywhere, the whole is still read the same. */
    const char *whole = "a\tb\001tc\t\n+\n";
    for (size_t cut = 0; cut < strlen(whole); cut++)
        assert_int_equal(doveadm_reply_parse(whole, cut, &r, &err), 1);
    assert_int_equal(doveadm_reply_parse(whole, strlen(whole), &r, &err), 0);
    assert_string_equal(r.fields[1], "b\tc");
    doveadm_reply_free(&r);
    assert_int_equal(err.len, 0);
    buf_free(&err);
}

static void test_reply_malformed(void **state)
{
    (void)state;
    struct doveadm_reply r;
    buf err = BUF_INIT;
    static const char *const bad[] = {
        "value-without-tab\n+\n",      /* every value ends with a tab */
        "a\001\t\n+\n",                /* unknown escape */
        "a\001",                       /* (incomplete, see below) */
        "a\t\nOK\n",                   /* status neither + nor - */
        "a\t\n+x\n",
        "a\t\n+\n\n+\n",               /* two replies */
        "a\001\n+\n",                  /* escape at the end of the output */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_reset(&err);
        int rc = doveadm_reply_parse(bad[i], strlen(bad[i]), &r, &err);
        if (i == 2) {
            assert_int_equal(rc, 1);
            continue;
        }
        assert_int_equal(rc, -1);
        assert_true(err.len > 0);
        assert_null(r.fields);
        assert_null(r.code);
    }
    /* A NUL byte inside the reply. */
    assert_int_equal(doveadm_reply_parse("a\0b\t\n+\n", 7, &r, &err), -1);
    buf_free(&err);
}

static void test_tab_escape(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    doveadm_tab_escape("a\tb\nc\rd\001e*", &out);
    assert_string_equal(buf_cstr(&out), "a\001tb\001nc\001rd\0011e*");
    /* Round trip through the parser. */
    buf reply = BUF_INIT;
    buf_printf(&reply, "%s\t\n+\n", buf_cstr(&out));
    struct doveadm_reply r;
    buf err = BUF_INIT;
    assert_int_equal(doveadm_reply_parse(reply.data, reply.len, &r, &err), 0);
    assert_string_equal(r.fields[0], "a\tb\nc\rd\001e*");
    doveadm_reply_free(&r);
    buf_free(&out);
    buf_free(&reply);
    buf_free(&err);
}

static void test_status_parse(void **state)
{
    (void)state;
    char *fields[] = {"alice@example.test", "none", "00:00:01", "00:02:00", "00:00:01", "-",
                      "bob@example.test", "high", "00:00:05", "00:02:00", "00:03:00", "-",
                      "carol@example.test", "none", "00:00:05", "00:02:00", "-", "y"};
    struct replication_status st;
    buf err = BUF_INIT;
    assert_int_equal(replication_status_parse(fields, 18, &st, &err), 0);
    assert_int_equal(st.n_users, 3);
    assert_string_equal(st.users[0].username, "alice@example.test");
    assert_false(replication_pending(&st.users[0]));
    assert_true(replication_pending(&st.users[1]));     /* queued */
    assert_true(replication_pending(&st.users[2]));     /* failed */
    assert_true(st.users[2].failed);
    assert_string_equal(st.users[2].success_sync, "-");
    replication_status_free(&st);
    /* No users at all. */
    assert_int_equal(replication_status_parse(NULL, 0, &st, &err), 0);
    assert_int_equal(st.n_users, 0);
    /* Not six values per user, an unknown priority or failed mark, no name. */
    assert_int_equal(replication_status_parse(fields, 17, &st, &err), -1);
    char *bad_priority[] = {"a", "urgent", "x", "x", "x", "-"};
    assert_int_equal(replication_status_parse(bad_priority, 6, &st, &err), -1);
    char *bad_failed[] = {"a", "none", "x", "x", "x", "n"};
    assert_int_equal(replication_status_parse(bad_failed, 6, &st, &err), -1);
    char *no_name[] = {"", "none", "x", "x", "x", "-"};
    assert_int_equal(replication_status_parse(no_name, 6, &st, &err), -1);
    char *second_bad[] = {"a", "none", "x", "x", "x", "-", "b", "none", "x", "x", "x", "?"};
    assert_int_equal(replication_status_parse(second_bad, 12, &st, &err), -1);
    assert_null(st.users);
    buf_free(&err);
}

static void test_secret_made_once_and_private(void **state)
{
    (void)state;
    char dir[] = "/tmp/emailng-repl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    buf err = BUF_INIT, first = BUF_INIT, second = BUF_INIT;
    assert_int_equal(replication_secret_ensure(dir, &err), 0);
    char *path = replication_secret_path(dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *secrets = xasprintf("%s/secrets", dir);
    assert_int_equal(stat(secrets, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(fs_read_file(path, 4096, &first, &err), 0);
    assert_int_equal(first.len, 32);
    assert_null(strchr(first.data, '\n'));
    /* A second call keeps it (both stores read the same one). */
    assert_int_equal(replication_secret_ensure(dir, &err), 0);
    assert_int_equal(fs_read_file(path, 4096, &second, &err), 0);
    assert_string_equal(buf_cstr(&first), buf_cstr(&second));
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    free(path);
    free(secrets);
    buf_free(&first);
    buf_free(&second);
    buf_free(&err);
}

/* A rotation (`deploy --rotate-secret doveadm`) puts a new secret of the
 * same form in its place, 0600, and leaves no temporary file. */
static void test_secret_rotated_in_place(void **state)
{
    (void)state;
    char dir[] = "/tmp/emailng-repl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    buf err = BUF_INIT, old = BUF_INIT, new = BUF_INIT;
    assert_int_equal(replication_secret_ensure(dir, &err), 0);
    char *path = replication_secret_path(dir);
    char *next = xasprintf("%s.new", path);
    assert_int_equal(fs_read_file(path, 4096, &old, &err), 0);
    assert_int_equal(fs_write_file(next, "left over", 9, 0644, &err), 0);   /* an interrupted rotation */
    assert_int_equal(replication_secret_rotate(dir, &err), 0);
    assert_int_equal(fs_read_file(path, 4096, &new, &err), 0);
    assert_int_equal(new.len, 32);
    assert_null(strchr(new.data, '\n'));
    assert_string_not_equal(buf_cstr(&old), buf_cstr(&new));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_false(fs_exists(next));
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    free(path);
    free(next);
    buf_free(&old);
    buf_free(&new);
    buf_free(&err);
}

/* The secret file as readers take it: one line, a trailing newline or two
 * tolerated; empty or two lines refused with the path named. */
static void test_secret_file_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/emailng-secret-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/secret", dir);
    static const struct {
        const char *content;
        const char *want;       /* NULL: refused */
    } cases[] = {
        {"s3cret", "s3cret"}, {"s3cret\n", "s3cret"}, {"s3cret\n\n", "s3cret"},
        {"", NULL}, {"\n", NULL}, {"one\ntwo\n", NULL},
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
        }
        buf_free(&err);
        buf_free(&out);
    }
    buf err = BUF_INIT;
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    buf_free(&err);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_values_and_status),
        cmocka_unit_test(test_reply_incomplete_needs_more),
        cmocka_unit_test(test_reply_malformed),
        cmocka_unit_test(test_tab_escape),
        cmocka_unit_test(test_status_parse),
        cmocka_unit_test(test_secret_made_once_and_private),
        cmocka_unit_test(test_secret_rotated_in_place),
        cmocka_unit_test(test_secret_file_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
