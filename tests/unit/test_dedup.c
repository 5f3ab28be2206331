/* Unit tests for dedup.c: which copies of a message delivered to both
 * stores of a pair are removed (the Sieve duplicate rule's semantics:
 * same mailbox, same non-empty Message-ID, different GUIDs, within a
 * day, something new since the window began; the kept copy is the
 * smallest GUID) and the parsing of the fetch values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dedup.h"

#define T0 1800000000LL         /* the window begins here */
#define DAY DEDUP_PERIOD_S

struct row {
    const char *mailbox_guid, *mailbox, *uid, *guid;
    long long saved;
    const char *msgid;
};

/* Builds the fetch values of rows as one store's and appends them. */
static void load_store(struct dedup_list *l, int store, const struct row *rows, size_t n)
{
    char **fields = calloc(n * 6, sizeof *fields);
    assert_non_null(fields);
    for (size_t i = 0; i < n; i++) {
        fields[6 * i] = xstrdup(rows[i].mailbox_guid);
        fields[6 * i + 1] = xstrdup(rows[i].mailbox);
        fields[6 * i + 2] = xstrdup(rows[i].uid);
        fields[6 * i + 3] = xstrdup(rows[i].guid);
        fields[6 * i + 4] = xasprintf("%lld", rows[i].saved);
        fields[6 * i + 5] = xstrdup(rows[i].msgid);
    }
    buf err = BUF_INIT;
    assert_int_equal(dedup_parse(fields, n * 6, store, l, &err), 0);
    for (size_t i = 0; i < n * 6; i++)
        free(fields[i]);
    free(fields);
    buf_free(&err);
}

static void load(struct dedup_list *l, const struct row *rows, size_t n)
{
    memset(l, 0, sizeof *l);
    load_store(l, 0, rows, n);
}

/* 1 if the copy with this uid in that mailbox on that store is marked for
 * removal. */
static int removed_on(const struct dedup_list *l, int store, const char *mailbox_guid, const char *uid)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->copies[i].store == store && strcmp(l->copies[i].mailbox_guid, mailbox_guid) == 0
            && strcmp(l->copies[i].uid, uid) == 0)
            return l->copies[i].remove;
    fail_msg("no copy with uid %s on store %d", uid, store);
    return -1;
}

static int removed(const struct dedup_list *l, const char *mailbox_guid, const char *uid)
{
    return removed_on(l, 0, mailbox_guid, uid);
}

static void test_both_stores_read_together(void **state)
{
    (void)state;
    /* store1 (0) came back with its own copy A and already the partner's B
     * (its start-up sync); store2 (1) has B only: A never reached it. B's
     * GUID sorts after A's: B goes on both stores, A stays where it is. The
     * same GUID on both stores is one message, never a duplicate. */
    const struct row store1[] = {
        {"mb1", "INBOX", "5", "aaaa", T0 - 2, "<a@x>"},
        {"mb1", "INBOX", "6", "bbbb", T0 + 30, "<a@x>"},
        {"mb1", "INBOX", "7", "cccc", T0 + 31, "<c@x>"},
    };
    const struct row store2[] = {
        {"mb1", "INBOX", "6", "bbbb", T0 + 30, "<a@x>"},
        {"mb1", "INBOX", "7", "cccc", T0 + 31, "<c@x>"},
    };
    struct dedup_list l = {0};
    load_store(&l, 0, store1, 3);
    load_store(&l, 1, store2, 2);
    assert_int_equal(dedup_plan(&l, T0, DAY), 2);
    assert_false(removed_on(&l, 0, "mb1", "5"));
    assert_true(removed_on(&l, 0, "mb1", "6"));
    assert_true(removed_on(&l, 1, "mb1", "6"));
    assert_false(removed_on(&l, 0, "mb1", "7"));
    assert_false(removed_on(&l, 1, "mb1", "7"));
    dedup_list_free(&l);
    /* Each store alone: store2 sees nothing to do (B alone), store1 the
     * same decision as together. */
    load(&l, store2, 2);
    assert_int_equal(dedup_plan(&l, T0, DAY), 0);
    dedup_list_free(&l);
    load(&l, store1, 3);
    assert_int_equal(dedup_plan(&l, T0, DAY), 1);
    assert_true(removed(&l, "mb1", "6"));
    dedup_list_free(&l);
}

static void test_second_delivery_removed_smallest_guid_kept(void **state)
{
    (void)state;
    /* A was stored on store1 just before it died; B is the sender's retry
     * on store2 20 s later. The smallest GUID is kept, whichever came first. */
    const struct row rows[] = {
        {"mb1", "INBOX", "7", "bbbb", T0 - 5, "<a@x>"},
        {"mb1", "INBOX", "8", "aaaa", T0 + 15, " <a@x>\r\n"},
        {"mb1", "INBOX", "9", "cccc", T0 + 20, "<other@x>"},
    };
    struct dedup_list l;
    load(&l, rows, 3);
    assert_int_equal(dedup_plan(&l, T0, DAY), 1);
    assert_true(removed(&l, "mb1", "7"));
    assert_false(removed(&l, "mb1", "8"));
    assert_false(removed(&l, "mb1", "9"));
    dedup_list_free(&l);
}

static void test_never_without_message_id(void **state)
{
    (void)state;
    const struct row rows[] = {
        {"mb1", "INBOX", "1", "aaaa", T0 + 1, ""},
        {"mb1", "INBOX", "2", "bbbb", T0 + 2, "  "},
    };
    struct dedup_list l;
    load(&l, rows, 2);
    assert_int_equal(dedup_plan(&l, T0, DAY), 0);
    dedup_list_free(&l);
}

static void test_copies_of_one_message_are_not_duplicates(void **state)
{
    (void)state;
    /* An IMAP COPY within the mailbox keeps the GUID. */
    const struct row rows[] = {
        {"mb1", "INBOX", "1", "aaaa", T0 + 1, "<a@x>"},
        {"mb1", "INBOX", "2", "aaaa", T0 + 2, "<a@x>"},
    };
    struct dedup_list l;
    load(&l, rows, 2);
    assert_int_equal(dedup_plan(&l, T0, DAY), 0);
    dedup_list_free(&l);
}

static void test_other_mailbox_and_foreign_folders_untouched(void **state)
{
    (void)state;
    /* The same Message-ID in another folder (the user's own copy in Sent,
     * a message filed elsewhere) is not a second delivery; another user's
     * shared folder is that user's to judge. */
    const struct row rows[] = {
        {"mb1", "INBOX", "1", "aaaa", T0 + 1, "<a@x>"},
        {"mb2", "Sent", "1", "bbbb", T0 + 2, "<a@x>"},
        {"mb3", "Shared/bob@x/INBOX", "4", "cccc", T0 + 1, "<s@x>"},
        {"mb3", "Shared/bob@x/INBOX", "5", "dddd", T0 + 2, "<s@x>"},
        {"mb4", "Public/news", "4", "eeee", T0 + 1, "<p@x>"},
        {"mb4", "Public/news", "5", "ffff", T0 + 2, "<p@x>"},
    };
    struct dedup_list l;
    load(&l, rows, 6);
    assert_int_equal(dedup_plan(&l, T0, DAY), 0);
    dedup_list_free(&l);
}

static void test_more_than_a_day_apart_kept(void **state)
{
    (void)state;
    /* The Sieve rule remembers a Message-ID for a day: a copy a day and a
     * second later was a delivery it would have kept too. */
    const struct row rows[] = {
        {"mb1", "INBOX", "1", "aaaa", T0 - DAY + 9, "<a@x>"},
        {"mb1", "INBOX", "2", "bbbb", T0 + 10, "<a@x>"},
        {"mb1", "INBOX", "3", "cccc", T0 - DAY + 20, "<b@x>"},
        {"mb1", "INBOX", "4", "dddd", T0 + 20, "<b@x>"},
    };
    struct dedup_list l;
    load(&l, rows, 4);
    assert_int_equal(dedup_plan(&l, T0, DAY), 1);
    assert_false(removed(&l, "mb1", "1"));
    assert_false(removed(&l, "mb1", "2"));
    assert_false(removed(&l, "mb1", "3"));
    assert_true(removed(&l, "mb1", "4"));
    dedup_list_free(&l);
}

static void test_older_than_the_window_untouched(void **state)
{
    (void)state;
    /* Both copies before the window began (replication worked then): not
     * a failover's duplicate, not ours to judge. */
    const struct row rows[] = {
        {"mb1", "INBOX", "1", "aaaa", T0 - 100, "<a@x>"},
        {"mb1", "INBOX", "2", "bbbb", T0 - 1, "<a@x>"},
    };
    struct dedup_list l;
    load(&l, rows, 2);
    assert_int_equal(dedup_plan(&l, T0, DAY), 0);
    dedup_list_free(&l);
}

static void test_three_copies_two_removed(void **state)
{
    (void)state;
    const struct row rows[] = {
        {"mb1", "INBOX", "3", "cccc", T0 + 3, "<a@x>"},
        {"mb1", "INBOX", "1", "bbbb", T0 + 1, "<a@x>"},
        {"mb1", "INBOX", "2", "aaaa", T0 + 2, "<a@x>"},
    };
    struct dedup_list l;
    load(&l, rows, 3);
    assert_int_equal(dedup_plan(&l, T0, DAY), 2);
    assert_true(removed(&l, "mb1", "1"));
    assert_false(removed(&l, "mb1", "2"));
    assert_true(removed(&l, "mb1", "3"));
    dedup_list_free(&l);
}

static void test_parse_rejects_malformed(void **state)
{
    (void)state;
    buf err = BUF_INIT;
    struct dedup_list l = {0};
    char *five[] = {"mb1", "INBOX", "1", "aaaa", "1800000000"};
    assert_int_equal(dedup_parse(five, 5, 0, &l, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "6 per message"));
    /* A bad value after a good one: the good one stays in the list (freed
     * by the caller). */
    char *bad_uid[] = {"mb1", "INBOX", "1", "aaaa", "1800000000", "<a@x>",
                       "mb1", "INBOX", "1x", "bbbb", "1800000000", "<a@x>"};
    buf_reset(&err);
    assert_int_equal(dedup_parse(bad_uid, 12, 0, &l, &err), -1);
    assert_int_equal(l.n, 1);
    dedup_list_free(&l);
    char *bad_time[] = {"mb1", "INBOX", "1", "aaaa", "-5", "<a@x>"};
    assert_int_equal(dedup_parse(bad_time, 6, 0, &l, &err), -1);
    char *no_guid[] = {"mb1", "INBOX", "1", "", "1800000000", "<a@x>"};
    assert_int_equal(dedup_parse(no_guid, 6, 0, &l, &err), -1);
    char *empty[] = {NULL};
    assert_int_equal(dedup_parse(empty, 0, 0, &l, &err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(dedup_plan(&l, T0, DAY), 0);
    dedup_list_free(&l);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_delivery_removed_smallest_guid_kept),
        cmocka_unit_test(test_never_without_message_id),
        cmocka_unit_test(test_copies_of_one_message_are_not_duplicates),
        cmocka_unit_test(test_other_mailbox_and_foreign_folders_untouched),
        cmocka_unit_test(test_more_than_a_day_apart_kept),
        cmocka_unit_test(test_older_than_the_window_untouched),
        cmocka_unit_test(test_three_copies_two_removed),
        cmocka_unit_test(test_both_stores_read_together),
        cmocka_unit_test(test_parse_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
