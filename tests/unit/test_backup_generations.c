/* Unit tests for src/lib/backup_generations.c (cmocka): generation names,
 * their order, the listing of a backup folder, and retention (only full
 * generations count toward keep; a one-user generation goes only with the
 * full ones older than it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup_generations.h"
#include "fsutil.h"

static void test_names(void **state)
{
    (void)state;
    assert_true(backup_generation_name_valid("20261207T072809Z"));
    assert_true(backup_generation_name_valid("20261207T072809Z-2"));
    assert_true(backup_generation_name_valid("20261207T072809Z-10"));
    assert_false(backup_generation_name_valid("20261207T072809Z-1"));
    assert_false(backup_generation_name_valid("20261207T072809Z-02"));
    assert_false(backup_generation_name_valid("20261207T072809Z-"));
    assert_false(backup_generation_name_valid("20261207T072809Z.partial"));
    assert_false(backup_generation_name_valid("20261207T072809"));
    assert_false(backup_generation_name_valid("2026120xT072809Z"));
    assert_false(backup_generation_name_valid(".lock"));
    assert_false(backup_generation_name_valid(""));
    buf b = BUF_INIT;
    backup_generation_stamp(0, &b);
    assert_string_equal(buf_cstr(&b), "19700101T000000Z");
    buf_reset(&b);
    backup_generation_stamp(1796628181, &b);
    assert_string_equal(buf_cstr(&b), "20261207T072301Z");
    buf_free(&b);
}

static void test_order_and_listing(void **state)
{
    (void)state;
    assert_true(backup_generation_compare("20261207T072809Z", "20261207T072809Z-2") < 0);
    assert_true(backup_generation_compare("20261207T072809Z-2", "20261207T072809Z-10") < 0);
    assert_true(backup_generation_compare("20261207T072809Z-10", "20261208T000000Z") < 0);
    assert_int_equal(backup_generation_compare("20261207T072809Z", "20261207T072809Z"), 0);

    char dir[] = "/tmp/emailng-test-gens-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *made[] = {"20261208T000000Z", "20261207T072809Z-10", "20261207T072809Z", "20261207T072809Z-2",
                          "20261209T000000Z.partial", "mail", ".lock"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        char *p = xasprintf("%s/%s", dir, made[i]);
        assert_int_equal(mkdir(p, 0700), 0);
        free(p);
    }
    char **names;
    size_t n;
    buf err = BUF_INIT;
    assert_int_equal(backup_generations_list(dir, &names, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "20261207T072809Z");
    assert_string_equal(names[1], "20261207T072809Z-2");
    assert_string_equal(names[2], "20261207T072809Z-10");
    assert_string_equal(names[3], "20261208T000000Z");
    backup_generations_free(names, n);
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    /* A folder not made yet: no generation, no error. */
    assert_int_equal(backup_generations_list(dir, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    backup_generations_free(names, n);
    buf_free(&err);
}

static void test_retention(void **state)
{
    (void)state;
    char *names[] = {"a", "b", "c", "d", "e", "f"};
    int remove[6];
    /* full, user, full, full, user, full; keep 2: the two newest full are
     * d and f, so a, b and c go; e (newer than d) stays. */
    int full[] = {1, 0, 1, 1, 0, 1};
    assert_int_equal(backup_generations_retain(names, full, 6, 2, remove), 3);
    int expected[] = {1, 1, 1, 0, 0, 0};
    assert_memory_equal(remove, expected, sizeof expected);
    /* keep as many as there are full ones: nothing goes. */
    assert_int_equal(backup_generations_retain(names, full, 6, 4, remove), 0);
    assert_int_equal(backup_generations_retain(names, full, 6, 10, remove), 0);
    /* only one-user generations: none counts, none goes. */
    int none_full[] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(backup_generations_retain(names, none_full, 6, 1, remove), 0);
    /* keep 1 of one user generation before the first full one. */
    int user_first[] = {0, 1, 1};
    assert_int_equal(backup_generations_retain(names, user_first, 3, 1, remove), 2);
    int expected2[] = {1, 1, 0};
    assert_memory_equal(remove, expected2, sizeof expected2);
}

/* A run in a second that already has generations sorts after all of them,
 * even when retention removed the first ("...Z") meanwhile. */
static void test_new_name_never_reuses_a_second(void **state)
{
    (void)state;
    static const struct {
        const char *existing[4];
        const char *want;
    } cases[] = {
        {{NULL}, "20261207T091405Z"},
        {{"20261207T091404Z", NULL}, "20261207T091405Z"},
        {{"20261207T091405Z", NULL}, "20261207T091405Z-2"},
        {{"20261207T091405Z", "20261207T091405Z-2", NULL}, "20261207T091405Z-3"},
        {{"20261207T091405Z-2", "20261207T091405Z-3", NULL}, "20261207T091405Z-4"},
        {{"20261207T091405Z-9", "20261207T091405Z-10", NULL}, "20261207T091405Z-11"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        while (cases[i].existing[n])
            n++;
        buf out = BUF_INIT;
        backup_generation_new_name("20261207T091405Z", (char *const *)cases[i].existing, n, &out);
        assert_string_equal(buf_cstr(&out), cases[i].want);
        assert_int_equal(backup_generation_name_valid(buf_cstr(&out)), 1);
        for (size_t k = 0; k < n; k++)
            assert_true(backup_generation_compare(cases[i].existing[k], buf_cstr(&out)) < 0);
        buf_free(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_name_never_reuses_a_second),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_order_and_listing),
        cmocka_unit_test(test_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
