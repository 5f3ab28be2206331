/* Unit tests for the relays' table files (relay_tables.c): the text files
 * and the LMDB databases Postfix reads, built by the real postmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "process.h"
#include "relay_tables.h"

/* What `postmap -q key lmdb:path` answers (its output, "" if not found). */
static char *lookup(const char *dir, const char *path, const char *key)
{
    char *conf = xasprintf("%s/data/relay1/postfix/postmap", dir);
    char *map = xasprintf("lmdb:%s", path);
    const char *argv[] = {"/usr/sbin/postmap", "-c", conf, "-q", key, map, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int status = process_run(argv, NULL, &out, &err);
    assert_true(status == 0 || status == 1);        /* 1: not found */
    char *answer = xasprintf("%s", status == 0 ? buf_cstr(&out) : "");
    free(conf);
    free(map);
    buf_free(&out);
    buf_free(&err);
    return answer;
}

static struct timespec database_mtime(const char *path)
{
    char *db = xasprintf("%s.lmdb", path);
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    free(db);
    return st.st_mtim;
}

static void test_ensure_builds_missing_and_stale_databases(void **state)
{
    (void)state;
    char dir[] = "/tmp/emailng-tables-XXXXXX";
    assert_non_null(mkdtemp(dir));
    buf err = BUF_INIT;
    assert_int_equal(relay_tables_ensure(dir, "relay1", &err), 0);
    char *recipients = xasprintf("%s/data/relay1/postfix/relay-recipients", dir);
    char *senders = xasprintf("%s/data/relay1/postfix/sender-logins", dir);
    /* Both tables exist, as text and as a database, empty. */
    assert_true(fs_exists(recipients) && fs_exists(senders));
    struct timespec built = database_mtime(recipients);
    (void)database_mtime(senders);
    char *answer = lookup(dir, recipients, "alice@example.test");
    assert_string_equal(answer, "");
    free(answer);

    /* Unchanged text: the database is left as it is. */
    assert_int_equal(relay_tables_ensure(dir, "relay1", &err), 0);
    struct timespec again = database_mtime(recipients);
    assert_true(again.tv_sec == built.tv_sec && again.tv_nsec == built.tv_nsec);

    /* Text newer than its database (e.g. written by an older emailng or by
     * hand): rebuilt, and the lookup sees the new key. */
    const char text[] = "alice@example.test OK\n";
    assert_int_equal(fs_write_file(recipients, text, strlen(text), 0644, &err), 0);
    struct timespec later[2] = {{0, UTIME_OMIT}, {built.tv_sec + 5, 0}};
    assert_int_equal(utimensat(AT_FDCWD, recipients, later, 0), 0);
    assert_int_equal(relay_tables_ensure(dir, "relay1", &err), 0);
    answer = lookup(dir, recipients, "alice@example.test");
    assert_string_equal(answer, "OK\n");
    free(answer);

    assert_int_equal(fs_remove_tree(dir, &err), 0);
    free(recipients);
    free(senders);
    buf_free(&err);
}

/* A relay's pulled copy (emailng-tablesync): a valid table is installed
 * and looked up; one that does not parse is refused and the installed
 * text and database stay exactly as they were; the same text again
 * changes nothing. */
static void test_install_checks_before_it_replaces(void **state)
{
    (void)state;
    char dir[] = "/tmp/emailng-tables-XXXXXX";
    assert_non_null(mkdtemp(dir));
    buf err = BUF_INIT, after = BUF_INIT;
    char *recipients = xasprintf("%s/data/relay1/postfix/relay-recipients", dir);
    const char good[] = "# exported\nalice@example.test OK\n";
    int changed = 0;
    assert_int_equal(relay_tables_install(dir, "relay1", "relay-recipients", good, strlen(good), &changed, &err), 0);
    assert_int_equal(changed, 1);
    char *answer = lookup(dir, recipients, "alice@example.test");
    assert_string_equal(answer, "OK\n");
    free(answer);
    struct timespec built = database_mtime(recipients);

    const char bad[] = "# exported\nbob@example.test OK\nnot an address\n";
    buf_reset(&err);
    assert_int_equal(relay_tables_install(dir, "relay1", "relay-recipients", bad, strlen(bad), &changed, &err), -1);
    assert_int_equal(changed, 0);
    assert_non_null(strstr(buf_cstr(&err), "relay-recipients:3"));
    assert_int_equal(fs_read_file(recipients, 4096, &after, &err), 0);
    assert_string_equal(buf_cstr(&after), good);
    struct timespec kept = database_mtime(recipients);
    assert_true(kept.tv_sec == built.tv_sec && kept.tv_nsec == built.tv_nsec);
    answer = lookup(dir, recipients, "bob@example.test");
    assert_string_equal(answer, "");
    free(answer);

    assert_int_equal(relay_tables_install(dir, "relay1", "relay-recipients", good, strlen(good), &changed, &err), 0);
    assert_int_equal(changed, 0);

    assert_int_equal(fs_remove_tree(dir, &err), 0);
    free(recipients);
    buf_free(&err);
    buf_free(&after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ensure_builds_missing_and_stale_databases),
        cmocka_unit_test(test_install_checks_before_it_replaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
