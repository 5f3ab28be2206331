/* Unit tests for src/lib/store_mailbox.c (cmocka): which stores hold a
 * pair, whether a user's mailbox must be put away remotely (a store's
 * data not on this machine: the directory host of a deployed site), the
 * archive's name, and what a doveadm `fs stat` answer means (anything but
 * "+" and "-NOTFOUND" is a failure, never "no mailbox"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "store_mailbox.h"

static struct site_host hosts[] = {
    {.name = "relay1", .address = "198.18.0.11", .roles = ROLE_RELAY},
    {.name = "store1", .address = "198.18.0.31", .roles = ROLE_STORE, .store_pair = "pair1"},
    {.name = "store2", .address = "198.18.0.32", .roles = ROLE_STORE, .store_pair = "pair1"},
    {.name = "store3", .address = "198.18.0.33", .roles = ROLE_STORE, .store_pair = "pair2"},
    {.name = "store4", .address = "198.18.0.34", .roles = ROLE_STORE, .store_pair = "pair2"},
};
static struct site site = {.hosts = hosts, .n_hosts = sizeof hosts / sizeof hosts[0]};

static void test_holds_pair(void **state)
{
    (void)state;
    int pair1[] = {0, 1, 1, 0, 0}, any[] = {0, 1, 1, 1, 1};
    for (size_t i = 0; i < site.n_hosts; i++) {
        assert_int_equal(store_mailbox_holds_pair(&site, &hosts[i], "pair1"), pair1[i]);
        assert_int_equal(store_mailbox_holds_pair(&site, &hosts[i], NULL), any[i]);
        assert_int_equal(store_mailbox_holds_pair(&site, &hosts[i], ""), any[i]);
        /* A pair no store holds: every store is looked at. */
        assert_int_equal(store_mailbox_holds_pair(&site, &hosts[i], "pair9"), any[i]);
    }
    /* The small site: one store naming no pair holds every pair. */
    struct site_host mail = {.name = "mail", .address = "192.0.2.1", .roles = ROLE_STORE | ROLE_RELAY};
    struct site small = {.hosts = &mail, .n_hosts = 1};
    assert_int_equal(store_mailbox_holds_pair(&small, &mail, "pair1"), 1);
}

static void test_any_remote_by_data_dirs(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_store_mailbox.XXXXXX";
    assert_non_null(mkdtemp(dir));
    buf err = BUF_INIT;
    /* No store's data here (the directory host of a deployed site). */
    assert_int_equal(store_mailbox_any_remote(&site, dir, "pair1"), 1);
    /* Both stores of pair1 here (the one-machine fabric): local only,
     * whatever pair2's stores are. */
    char *d1 = xasprintf("%s/data/store1", dir), *d2 = xasprintf("%s/data/store2", dir);
    assert_int_equal(fs_mkdirs(d1, 0700, &err), 0);
    assert_int_equal(store_mailbox_any_remote(&site, dir, "pair1"), 1);   /* store2 still elsewhere */
    assert_int_equal(fs_mkdirs(d2, 0700, &err), 0);
    assert_int_equal(store_mailbox_any_remote(&site, dir, "pair1"), 0);
    assert_int_equal(store_mailbox_any_remote(&site, dir, "pair2"), 1);
    assert_int_equal(store_mailbox_data_here(dir, &hosts[1]), 1);
    assert_int_equal(store_mailbox_data_here(dir, &hosts[3]), 0);
    char *path = store_mailbox_path(dir, &hosts[2], "alice@example.test");
    char *want = xasprintf("%s/data/store2/mail/example.test/alice", dir);
    assert_string_equal(path, want);
    free(path);
    free(want);
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    free(d1);
    free(d2);
    buf_free(&err);
}

static void test_archive_leaf(void **state)
{
    (void)state;
    time_t when = 1796664600;            /* 2026-12-07 17:30:00 UTC */
    char *a = store_mailbox_archive_leaf("alice@example.test", when, 1);
    char *b = store_mailbox_archive_leaf("alice@example.test", when, 2);
    char *c = store_mailbox_archive_leaf("a.b@example.test", when, 12);
    assert_string_equal(a, "alice.20261207T173000Z");
    assert_string_equal(b, "alice.20261207T173000Z-2");
    assert_string_equal(c, "a.b.20261207T173000Z-12");
    free(a);
    free(b);
    free(c);
}

static void test_presence_fails_closed(void **state)
{
    (void)state;
    struct doveadm_reply r = {0};
    r.ok = 1;
    assert_int_equal(store_mailbox_presence(&r), STORE_MAILBOX_PRESENT);
    r.ok = 0;
    r.code = "NOTFOUND";
    assert_int_equal(store_mailbox_presence(&r), STORE_MAILBOX_ABSENT);
    const char *others[] = {"TEMPFAIL", "NOPERM", "NOTFOUNDX", "", NULL};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        r.code = (char *)others[i];
        assert_int_equal(store_mailbox_presence(&r), STORE_MAILBOX_UNKNOWN);
    }
}

static void test_presence_of_parsed_replies(void **state)
{
    (void)state;
    /* As the doveadm server of 2.3.19 answered `fs stat posix "" PATH`. */
    struct { const char *bytes; enum store_mailbox_presence want; } cases[] = {
        {"/var/lib/emailng/data/store1/mail/example.test/alice\t4096\t\n+\n", STORE_MAILBOX_PRESENT},
        {"\n-NOTFOUND\n", STORE_MAILBOX_ABSENT},
        {"\n-TEMPFAIL\n", STORE_MAILBOX_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct doveadm_reply r;
        buf err = BUF_INIT;
        assert_int_equal(doveadm_reply_parse(cases[i].bytes, strlen(cases[i].bytes), &r, &err), 0);
        assert_int_equal(store_mailbox_presence(&r), cases[i].want);
        doveadm_reply_free(&r);
        buf_free(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holds_pair),
        cmocka_unit_test(test_any_remote_by_data_dirs),
        cmocka_unit_test(test_archive_leaf),
        cmocka_unit_test(test_presence_fails_closed),
        cmocka_unit_test(test_presence_of_parsed_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
