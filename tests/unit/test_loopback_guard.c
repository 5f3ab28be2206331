/* Unit tests for the loopback guard (loopback_guard.c): which loopback TCP
 * services each kind of host guards, and for whom. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "loopback_guard.h"
#include "site.h"

static const char *const one_host =
    "domains: [example.test]\n"
    "hosts:\n"
    "  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}\n";

static const char *const ha =
    "domains: [example.test]\n"
    "hosts:\n"
    "  - {name: relay1, address: 198.18.0.11, roles: [relay]}\n"
    "  - {name: relay2, address: 198.18.0.12, roles: [relay]}\n"
    "  - {name: proxy1, address: 198.18.0.21, roles: [proxy]}\n"
    "  - {name: proxy2, address: 198.18.0.22, roles: [proxy]}\n"
    "  - {name: store1, address: 198.18.0.31, roles: [store], store_pair: a}\n"
    "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: a}\n"
    "  - {name: dir1, address: 198.18.0.41, roles: [directory]}\n";

static void load(const char *base, const char *extra, struct site *site)
{
    buf text = BUF_INIT, errors = BUF_INIT;
    buf_printf(&text, "%s%s", base, extra);
    if (site_parse(buf_cstr(&text), text.len, "site.yaml", site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    buf_free(&text);
    buf_free(&errors);
}

static const struct site_host *host(const struct site *site, const char *name)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (strcmp(site->hosts[i].name, name) == 0)
            return &site->hosts[i];
    fail_msg("no host %s", name);
    return NULL;
}

static const struct loopback_service *find(const struct loopback_service *svc, size_t n, int port)
{
    for (size_t i = 0; i < n; i++)
        if (svc[i].port == port)
            return &svc[i];
    return NULL;
}

/* The one-host site guards postsrsd, the three reinjection listeners
 * (SRS, local, mailing lists) and quota-status, each for its own daemon's
 * user. */
static void test_one_host(void **state)
{
    (void)state;
    struct site site;
    struct loopback_service svc[8];
    load(one_host, "", &site);
    size_t n = loopback_guard_services(&site, host(&site, "mail"), svc, 8);
    assert_int_equal(n, 6);
    assert_string_equal(find(svc, n, 10037)->users, "\"root\", \"emailng-list\"");
    assert_string_equal(find(svc, n, 10001)->users, "\"root\", \"postfix\"");
    assert_string_equal(find(svc, n, 10002)->users, "\"root\", \"postfix\"");
    assert_string_equal(find(svc, n, 10029)->users, "\"root\", \"postfix\"");
    assert_string_equal(find(svc, n, 10028)->users, "\"root\", \"vmail\", \"dovecot\"");
    assert_string_equal(find(svc, n, site.ports.quota_status)->users, "\"root\", \"emailng-policyd\"");
    buf rules = BUF_INIT;
    loopback_guard_rules(&site, host(&site, "mail"), &rules);
    assert_non_null(strstr(buf_cstr(&rules),
                           "oif \"lo\" tcp dport 10029 meta skuid != { \"root\", \"postfix\" } counter reject with tcp reset"));
    buf_free(&rules);
    site_free(&site);
}

/* A relay guards postsrsd and the SRS listener; with srs off, nothing
 * listens. A store guards the mailing lists' reinjection listener;
 * proxies have nothing to guard. */
static void test_relay_and_others(void **state)
{
    (void)state;
    struct site site;
    struct loopback_service svc[8];
    load(ha, "", &site);
    size_t n = loopback_guard_services(&site, host(&site, "relay1"), svc, 8);
    assert_int_equal(n, 3);
    assert_non_null(find(svc, n, 10029));
    assert_null(find(svc, n, 10028));
    assert_int_equal(loopback_guard_services(&site, host(&site, "store1"), svc, 8), 1);
    assert_string_equal(svc[0].users, "\"root\", \"emailng-list\"");
    assert_int_equal(svc[0].port, 10037);
    buf rules = BUF_INIT;
    loopback_guard_rules(&site, host(&site, "proxy1"), &rules);
    assert_string_equal(buf_cstr(&rules), "# (no TCP service on loopback here)");
    buf_free(&rules);
    site_free(&site);

    load(ha, "srs: {enabled: false}\n", &site);
    assert_int_equal(loopback_guard_services(&site, host(&site, "relay1"), svc, 8), 0);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_host),
        cmocka_unit_test(test_relay_and_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
