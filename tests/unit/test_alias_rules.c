/* Unit tests for src/lib/alias_rules.c and the relays' tables built from
 * one directory snapshot (policy_table.c, relay_tables.c): cmocka, on
 * snapshots made here (the rules and builders read no LDAP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alias_rules.h"
#include "policy_table.h"
#include "relay_tables.h"

static const char *const domains[] = {"example.test", "example.org"};

static char *alice_alternates[] = {"a.smith@example.org"};
static char *services_all[] = {"smtp", "lmtp", "imap"};
static struct directory_user users[] = {
    {.mail = "alice@example.test", .status = "active", .services = services_all, .n_services = 3,
     .mail_host = "", .alternate_addresses = alice_alternates, .n_alternate_addresses = 1},
    {.mail = "bob@example.test", .status = "active", .mail_host = "pair2"},
    /* no emailngAccountStatus at all: added by hand or by another tool */
    {.mail = "nostatus@example.test", .status = ""},
    {.mail = "off@example.test", .status = "disabled"},
};
static char *team_members[] = {"alice@example.test", "friends@example.test"};
static char *friends_members[] = {"bob@example.test", "someone@elsewhere.test"};
static char *nostatus_members[] = {"alice@example.test"};
static char *chain_members[] = {"team@example.test"};
static char *news_owners[] = {"alice@example.test"};
static struct directory_alias aliases[] = {
    {.mail = "chain@example.test", .destinations = chain_members, .n_destinations = 1, .status = "active"},
    {.mail = "friends@example.test", .destinations = friends_members, .n_destinations = 2, .status = "active"},
    /* a mailing list (U4) with no member yet, and one not active */
    {.mail = "news@example.test", .status = "active", .is_list = 1, .list_policy = "announce", .owners = news_owners,
     .n_owners = 1},
    {.mail = "oldnews@example.test", .status = "disabled", .is_list = 1, .list_policy = "open"},
    {.mail = "quiet@example.test", .destinations = nostatus_members, .n_destinations = 1, .status = ""},
    {.mail = "team@example.test", .destinations = team_members, .n_destinations = 2, .status = "active"},
};
static const struct directory_snapshot snapshot = {users, 4, aliases, 6};

static void expect_refused(const char *alias, const char *member, const char *want)
{
    buf err = BUF_INIT;
    const char *members[] = {member};
    assert_int_equal(alias_rules_check(&snapshot, domains, 2, alias, members, 1, &err), -1);
    if (strstr(buf_cstr(&err), want) == NULL)
        fail_msg("%s += %s: error \"%s\" lacks \"%s\"", alias, member, buf_cstr(&err), want);
    buf_free(&err);
}

static void expect_allowed(const char *alias, const char *member)
{
    buf err = BUF_INIT;
    const char *members[] = {member};
    if (alias_rules_check(&snapshot, domains, 2, alias, members, 1, &err) != 0)
        fail_msg("%s += %s refused: %s", alias, member, buf_cstr(&err));
    buf_free(&err);
}

static void test_members_must_exist(void **state)
{
    (void)state;
    expect_refused("team@example.test", "ghost@example.test",
                   "ghost@example.test is not a user, user address or alias of this site");
    expect_refused("new@example.test", "ghost@example.org", "is not a user");
    expect_allowed("team@example.test", "bob@example.test");         /* a user */
    expect_allowed("team@example.test", "a.smith@example.org");      /* a user's other address */
    expect_allowed("new@example.test", "friends@example.test");      /* an alias */
    expect_allowed("team@example.test", "off@example.test");         /* exists, disabled */
    expect_allowed("team@example.test", "anyone@outside.test");      /* forwarding out */
    expect_refused("team@example.test", "team@example.test", "cannot forward to itself");
}

static void test_loops_refused(void **state)
{
    (void)state;
    /* friends -> team -> friends */
    expect_refused("friends@example.test", "team@example.test",
                   "loop: friends@example.test -> team@example.test -> friends@example.test");
    /* team -> chain -> team */
    expect_refused("team@example.test", "chain@example.test",
                   "loop: team@example.test -> chain@example.test -> team@example.test");
    /* friends -> chain -> team -> friends: three hops */
    expect_refused("friends@example.test", "chain@example.test",
                   "friends@example.test -> chain@example.test -> team@example.test -> friends@example.test");
    expect_allowed("chain@example.test", "friends@example.test");    /* chain -> friends: no way back */
}

static void test_domain_served(void **state)
{
    (void)state;
    assert_true(alias_rules_domain_served("x@EXAMPLE.test", domains, 2));
    assert_true(alias_rules_domain_served("x@example.org", domains, 2));
    assert_false(alias_rules_domain_served("x@example.net", domains, 2));
    assert_false(alias_rules_domain_served("x@sub.example.test", domains, 2));
    assert_false(alias_rules_domain_served("no-at-sign", domains, 2));
}

static int has_line(buf *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = buf_cstr(text); (p = strstr(p, line)) != NULL; p += n)
        if ((p == buf_cstr(text) || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

/* The policy table and the relays' Postfix tables come from one snapshot
 * with one rule for "active": a user or alias without a status is in
 * neither (the relay once accepted what the stores refused). */
static void test_tables_agree(void **state)
{
    (void)state;
    struct site site;
    site_default(&site);
    buf policy = BUF_INIT, recipients = BUF_INIT, senders = BUF_INIT;
    policy_table_build(&snapshot, &site, "pair1", &policy);
    relay_tables_build(&snapshot, &recipients, &senders);

    assert_true(has_line(&policy, "mailbox alice@example.test pair1"));
    assert_true(has_line(&policy, "mailbox bob@example.test pair2"));
    assert_true(has_line(&policy, "alternate a.smith@example.org alice@example.test"));
    assert_true(has_line(&policy, "alias team@example.test alice@example.test friends@example.test"));
    assert_true(has_line(&recipients, "alice@example.test OK"));
    assert_true(has_line(&recipients, "a.smith@example.org OK"));
    assert_true(has_line(&recipients, "team@example.test OK"));
    assert_true(has_line(&senders, "a.smith@example.org alice@example.test"));
    /* a list: who may post (policyd), and an address the relays accept */
    assert_true(has_line(&policy, "list news@example.test announce alice@example.test"));
    assert_true(has_line(&recipients, "news@example.test OK"));

    const char *inactive[] = {"nostatus@example.test", "off@example.test", "quiet@example.test",
                              "oldnews@example.test"};
    for (size_t i = 0; i < 4; i++) {
        if (strstr(buf_cstr(&policy), inactive[i]) || strstr(buf_cstr(&recipients), inactive[i])
            || strstr(buf_cstr(&senders), inactive[i]))
            fail_msg("%s (not active) is in a relay table", inactive[i]);
    }
    assert_false(directory_status_is_active(NULL));
    assert_false(directory_status_is_active(""));
    assert_false(directory_status_is_active("Active "));
    assert_true(directory_status_is_active("active"));
    buf_free(&policy);
    buf_free(&recipients);
    buf_free(&senders);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_must_exist),
        cmocka_unit_test(test_loops_refused),
        cmocka_unit_test(test_domain_served),
        cmocka_unit_test(test_tables_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
