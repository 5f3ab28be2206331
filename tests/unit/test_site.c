/* Unit tests for the site file loader and validator (site.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "site.h"

static int parse(const char *text, struct site *site, buf *errors)
{
    return site_parse(text, strlen(text), "site.yaml", site, errors);
}

/* The errors must contain `needle`; returns nothing, fails the test. */
static void expect_error(const char *text, const char *needle)
{
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(text, &site, &errors), -1);
    if (strstr(buf_cstr(&errors), needle) == NULL)
        fail_msg("expected \"%s\" in errors:\n%s", needle, buf_cstr(&errors));
    buf_free(&errors);
    site_free(&site);
}

static const char *const good =
    "site: {name: small-site}\n"
    "domains: [example.test, Example.ORG]\n"
    "directory: {base: \"dc=example,dc=test\"}\n"
    "hosts:\n"
    "  - name: mail\n"
    "    address: 127.0.0.1\n"
    "    roles: [relay, proxy, store, directory]\n"
    "tls: {names: [mail.example.test, localhost, 127.0.0.1]}\n"
    "quota: {default: 2G, grace: 5%}\n"
    "limits: {message_size: 10M, line_length: 4096}\n"
    "ports: {smtp: 2525}\n"
    "demo_users: false\n";

static void test_good_site(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(good, &site, &errors), 0);
    assert_string_equal(buf_cstr(&errors), "");
    assert_string_equal(site.name, "small-site");
    assert_int_equal(site.n_domains, 2);
    assert_string_equal(site.domains[1], "example.org");
    assert_int_equal(site.n_hosts, 1);
    assert_int_equal(site.hosts[0].roles, ROLE_ALL);
    assert_string_equal(site.hosts[0].store_pair, "pair1");
    assert_true(site.quota_default == 2ULL << 30);
    assert_int_equal(site.quota_grace_percent, 5);
    assert_true(site.message_size == 10ULL << 20);
    assert_true(site.line_length == 4096);
    assert_int_equal(site.ports.smtp, 2525);
    assert_int_equal(site.ports.imap, 143);
    assert_int_equal(site.demo_users, 0);
    buf_free(&errors);
    site_free(&site);
}

static void test_defaults_derived_from_domain(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse("domains: [uni.example]\n", &site, &errors), 0);
    assert_string_equal(site.ldap_base, "dc=uni,dc=example");
    assert_string_equal(site.tls_names[0], "mail.uni.example");
    buf_free(&errors);
    site_free(&site);
}

static void test_default_profile(void **state)
{
    (void)state;
    struct site site;
    site_default(&site);
    assert_string_equal(site.domains[0], "example.test");
    assert_int_equal(site.hosts[0].roles, ROLE_ALL);
    assert_string_equal(site.hosts[0].address, "127.0.0.1");
    site_free(&site);
}

static void test_unknown_key_with_position(void **state)
{
    (void)state;
    expect_error("domains: [example.test]\nquota:\n  defualt: 1G\n",
                 "site.yaml:3:3: quota: unknown key \"defualt\"; expected one of: default, grace");
    expect_error("colour: blue\n", "site.yaml:1:1: site file: unknown key \"colour\"");
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("hosts:\n  - {name: mail, address: 127.0.0.1, roles: 5}\n",
                 "site.yaml:2:45: hosts.roles: expected a list, found a single value");
    expect_error("domains: [\"bad domain\"]\n", "is not a domain name");
    expect_error("domains: []\n", "domains: the list is empty");
    expect_error("hosts:\n  - {name: mail, address: 300.1.1.1, roles: [relay, proxy, store, directory]}\n",
                 "hosts.address: \"300.1.1.1\" is not an IP address");
    expect_error("hosts:\n  - {name: Mail_1, address: 127.0.0.1, roles: [relay, proxy, store, directory]}\n",
                 "hosts.name: \"Mail_1\" is not a host name");
    expect_error("hosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay, mailman]}\n",
                 "unknown role \"mailman\"");
    expect_error("hosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay]}\n",
                 "no host has the role(s) proxy, store, directory");
    expect_error("quota: {grace: lots}\n", "quota.grace: \"lots\" is not a percentage");
    expect_error("quota: {default: 12Q}\n", "quota.default:");
    expect_error("ports: {smtp: 143}\n", "ports: smtp and imap both use port 143");
    expect_error("ports: {smtp: 70000}\n", "ports.smtp: \"70000\" is not a whole number from 1 to 65535");
    expect_error("demo_users: maybe\n", "demo_users: \"maybe\" is not true or false");
    expect_error("directory: {base: \"o=x)(\"}\n", "directory.base:");
    expect_error("tls: {names: [127.0.0.1]}\n", "the first name is the public host name");
}

static void test_yaml_syntax_error(void **state)
{
    (void)state;
    expect_error("domains: [example.test\nhosts: x\n", "site.yaml:");
    expect_error("domains: [example.test\n", "not valid YAML");
}

static void test_every_error_reported(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse("colour: blue\nsize: 3\n", &site, &errors), -1);
    assert_non_null(strstr(buf_cstr(&errors), "site.yaml:1:1:"));
    assert_non_null(strstr(buf_cstr(&errors), "site.yaml:2:1:"));
    buf_free(&errors);
    site_free(&site);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(site_load("/nonexistent/site.yaml", &site, &errors), -1);
    assert_non_null(strstr(buf_cstr(&errors), "/nonexistent/site.yaml:1:1: cannot open the site file"));
    buf_free(&errors);
    site_free(&site);
}

/* examples/small-site.yaml documents the built-in default: `up` copies it
 * into the state directory when no --site is given, so they must agree. */
static void test_example_equals_default(void **state)
{
    (void)state;
    struct site site, def;
    buf errors = BUF_INIT;
    int rc = site_load(EMAILNG_DATADIR "/examples/small-site.yaml", &site, &errors);
    if (rc != 0)
        fail_msg("%s", buf_cstr(&errors));
    site_default(&def);
    assert_string_equal(site.name, def.name);
    assert_int_equal(site.n_domains, def.n_domains);
    for (size_t i = 0; i < def.n_domains; i++)
        assert_string_equal(site.domains[i], def.domains[i]);
    assert_string_equal(site.ldap_base, def.ldap_base);
    assert_int_equal(site.n_hosts, def.n_hosts);
    assert_string_equal(site.hosts[0].name, def.hosts[0].name);
    assert_string_equal(site.hosts[0].address, def.hosts[0].address);
    assert_int_equal(site.hosts[0].roles, def.hosts[0].roles);
    assert_string_equal(site.hosts[0].store_pair, def.hosts[0].store_pair);
    assert_int_equal(site.n_tls_names, def.n_tls_names);
    for (size_t i = 0; i < def.n_tls_names; i++)
        assert_string_equal(site.tls_names[i], def.tls_names[i]);
    assert_true(site.quota_default == def.quota_default);
    assert_int_equal(site.quota_grace_percent, def.quota_grace_percent);
    assert_true(site.message_size == def.message_size);
    assert_true(site.line_length == def.line_length);
    assert_int_equal(site.demo_users, def.demo_users);
    assert_memory_equal(&site.ports, &def.ports, sizeof site.ports);
    buf_free(&errors);
    site_free(&site);
    site_free(&def);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_site),
        cmocka_unit_test(test_defaults_derived_from_domain),
        cmocka_unit_test(test_default_profile),
        cmocka_unit_test(test_unknown_key_with_position),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_yaml_syntax_error),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_example_equals_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
