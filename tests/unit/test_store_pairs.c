/* Unit tests for src/lib/store_pairs.c (cmocka): every pair once, by its
 * exact name. The proxies' first pair table once found pairs with strstr
 * in the text written so far, so pair1 after pair10 was left out.
 * Several store pairs (issue 15, A2): the site of tests/e2e_pairs (a
 * second pair store3/store4) renders each pair's replication between its
 * own two stores only, every pair into the hosts that list stores; and a
 * new user's pair is the one with the fewest users. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "render.h"
#include "store_pairs.h"

static struct site_host hosts[] = {
    {.name = "store10a", .address = "198.18.0.41", .roles = ROLE_STORE, .store_pair = "pair10"},
    {.name = "proxy1", .address = "198.18.0.21", .roles = ROLE_PROXY},
    {.name = "store10b", .address = "198.18.0.42", .roles = ROLE_STORE, .store_pair = "pair10"},
    {.name = "store1a", .address = "198.18.0.31", .roles = ROLE_STORE, .store_pair = "pair1"},
    {.name = "store1b", .address = "198.18.0.32", .roles = ROLE_STORE, .store_pair = "pair1"},
    {.name = "storexa", .address = "198.18.0.51", .roles = ROLE_STORE, .store_pair = "pair"},
};

static void test_first_host_of_each_pair(void **state)
{
    (void)state;
    struct site site = {.hosts = hosts, .n_hosts = sizeof hosts / sizeof hosts[0]};
    int expected[] = {1, 0, 0, 1, 0, 1};
    for (size_t i = 0; i < site.n_hosts; i++)
        assert_int_equal(store_pair_first_host(&site, i), expected[i]);
}

static void test_default_passwd_has_pair1_after_pair10(void **state)
{
    (void)state;
    struct site site = {.hosts = hosts, .n_hosts = sizeof hosts / sizeof hosts[0]};
    buf out = BUF_INIT;
    store_pairs_default_passwd(&site, &out);
    assert_string_equal(buf_cstr(&out),
                        "pair10:::::::host=198.18.0.41 nopassword\n"
                        "pair1:::::::host=198.18.0.31 nopassword\n"
                        "pair:::::::host=198.18.0.51 nopassword\n");
    buf_free(&out);
    const char **names;
    assert_int_equal(store_pairs_list(&site, &names), 3);
    assert_string_equal(names[0], "pair10");
    assert_string_equal(names[1], "pair1");
    assert_string_equal(names[2], "pair");
    free(names);
    assert_string_equal(store_pairs_first_store(&site, "pair1")->name, "store1a");
    assert_string_equal(store_pairs_first_store(&site, "pair")->name, "storexa");
    assert_null(store_pairs_first_store(&site, "pair2"));
}

#define TWO_PAIRS EMAILNG_DATADIR "/tests/e2e_pairs/ha-site-2pairs.yaml"

static void load(const char *path, struct site *site)
{
    buf err = BUF_INIT;
    if (site_load(path, site, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    buf_free(&err);
}

static char *read_rendered(const char *dir, const char *rel)
{
    buf text = BUF_INIT, err = BUF_INIT;
    char *path = xasprintf("%s/%s", dir, rel);
    if (fs_read_file(path, 1 << 20, &text, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    free(path);
    buf_free(&err);
    return buf_steal(&text);
}

static void assert_contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("missing \"%s\" in:\n%s", want, text);
}

/* The fixture is examples/ha-site.yaml plus store3 and store4 (pair2),
 * and nothing else about the hosts differs. */
static void test_fixture_is_ha_site_plus_a_pair(void **state)
{
    (void)state;
    struct site ha, two;
    load(EMAILNG_DATADIR "/examples/ha-site.yaml", &ha);
    load(TWO_PAIRS, &two);
    assert_int_equal(two.n_hosts, ha.n_hosts + 2);
    size_t j = 0;
    for (size_t i = 0; i < two.n_hosts; i++) {
        const struct site_host *h = &two.hosts[i];
        if (strcmp(h->name, "store3") == 0 || strcmp(h->name, "store4") == 0) {
            assert_string_equal(h->store_pair, "pair2");
            continue;
        }
        assert_string_equal(h->name, ha.hosts[j].name);
        assert_string_equal(h->address, ha.hosts[j].address);
        assert_int_equal(h->roles, ha.hosts[j].roles);
        j++;
    }
    assert_int_equal(j, ha.n_hosts);
    const char **names;
    assert_int_equal(store_pairs_list(&two, &names), 2);
    assert_string_equal(names[0], "pair1");
    assert_string_equal(names[1], "pair2");
    free(names);
    assert_true(store_pairs_has(&two, "pair2"));
    assert_false(store_pairs_has(&two, "pair"));        /* exact names only */
    assert_false(store_pairs_has(&ha, "pair2"));
    assert_string_equal(store_pairs_first_store(&two, "pair2")->name, "store3");
    assert_null(store_pairs_first_store(&two, "pair3"));
    site_free(&ha);
    site_free(&two);
}

/* Each pair replicates between its own stores; each store's userdb holds
 * only its pair's users; the proxies' monitor, the default pair table,
 * the relays' quota checks and the firewalls name both pairs. */
static void test_two_pairs_render(void **state)
{
    (void)state;
    struct site site;
    buf err = BUF_INIT;
    load(TWO_PAIRS, &site);
    char st[] = "/tmp/emailng-render-2pairs-XXXXXX";
    assert_non_null(mkdtemp(st));
    char *etc = xasprintf("%s/etc", st);
    if (render_site(&site, EMAILNG_DATADIR "/templates", st, etc, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    static const struct {
        const char *store, *replica, *pair;
    } stores[] = {
        {"store1", "198.18.0.32", "pair1"},
        {"store2", "198.18.0.31", "pair1"},
        {"store3", "198.18.0.34", "pair2"},
        {"store4", "198.18.0.33", "pair2"},
    };
    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++) {
        char *rel = xasprintf("%s/dovecot/dovecot.conf", stores[i].store);
        char *conf = read_rendered(etc, rel);
        char *want = xasprintf("mail_replica = tcps:%s:12345\n", stores[i].replica);
        assert_contains(conf, want);
        /* one replica only: never a store of the other pair */
        assert_null(strstr(strstr(conf, "mail_replica =") + 1, "mail_replica ="));
        free(want);
        free(conf);
        free(rel);
        rel = xasprintf("%s/dovecot/dovecot-ldap-userdb.conf.ext", stores[i].store);
        conf = read_rendered(etc, rel);
        want = xasprintf("(emailngMailHost=%s))\n", stores[i].pair);
        assert_contains(conf, want);
        free(want);
        free(conf);
        free(rel);
        rel = xasprintf("%s/nftables/sets.nft", stores[i].store);
        conf = read_rendered(etc, rel);
        want = xasprintf("set partner_v4 { type ipv4_addr; elements = { %s } }", stores[i].replica);
        assert_contains(conf, want);
        assert_contains(conf, "elements = { 198.18.0.31, 198.18.0.32, 198.18.0.33, 198.18.0.34 }");
        free(want);
        free(conf);
        free(rel);
    }
    char *healthd = read_rendered(etc, "proxy2/healthd/healthd.yaml");
    assert_contains(healthd, "\n  pair1: {primary: \"198.18.0.31\", secondary: \"198.18.0.32\"}\n");
    assert_contains(healthd, "\n  pair2: {primary: \"198.18.0.33\", secondary: \"198.18.0.34\"}\n");
    free(healthd);
    char *policyd = read_rendered(etc, "relay1/policyd/policyd.conf");
    assert_contains(policyd, "    pair2: [\"198.18.0.33:12340\", \"198.18.0.34:12340\"]");
    free(policyd);
    char *relay = read_rendered(etc, "relay2/postfix/main.cf");
    assert_contains(relay, "mynetworks = 198.18.0.31 198.18.0.32 198.18.0.33 198.18.0.34\n");
    free(relay);
    buf table = BUF_INIT;
    store_pairs_default_passwd(&site, &table);
    assert_string_equal(buf_cstr(&table), "pair1:::::::host=198.18.0.31 nopassword\n"
                                          "pair2:::::::host=198.18.0.33 nopassword\n");
    buf_free(&table);
    assert_int_equal(fs_remove_tree(st, &err), 0);
    free(etc);
    buf_free(&err);
    site_free(&site);
}

/* A new user goes to the pair with the fewest users, the earliest on a tie. */
static void test_fewest_users(void **state)
{
    (void)state;
    static const size_t one[] = {7};
    assert_int_equal(store_pairs_fewest(one, 1), 0);
    static const size_t tie[] = {5, 5, 5};
    assert_int_equal(store_pairs_fewest(tie, 3), 0);
    static const size_t new_pair[] = {1200, 0};
    assert_int_equal(store_pairs_fewest(new_pair, 2), 1);
    static const size_t middle[] = {3, 1, 1, 2};
    assert_int_equal(store_pairs_fewest(middle, 4), 1);
    static const size_t last[] = {9, 8, 7};
    assert_int_equal(store_pairs_fewest(last, 3), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_host_of_each_pair),
        cmocka_unit_test(test_default_passwd_has_pair1_after_pair10),
        cmocka_unit_test(test_fixture_is_ha_site_plus_a_pair),
        cmocka_unit_test(test_two_pairs_render),
        cmocka_unit_test(test_fewest_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
