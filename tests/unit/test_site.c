/* Unit tests for the site file loader and validator (site.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "site.h"
#include "site_search.h"
#include "site_webmail.h"
#include "site_webmail_junk.h"
#include "site_quota_warning.h"
#include "site_storage.h"

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
    "demo_users: false\n"
    "admin_address: Hostmaster@Example.ORG\n";

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
    assert_string_equal(site.admin_address, "hostmaster@example.org");
    buf_free(&errors);
    site_free(&site);
}

/* admin_address (issue 11): where postmaster@ and abuse@ of every domain go. */
static void test_admin_address(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    /* With demo users: alice@ the primary domain; on the built-in site too. */
    assert_int_equal(parse("domains: [example.org, example.test]\n", &site, &errors), 0);
    assert_string_equal(site.admin_address, "alice@example.org");
    site_free(&site);
    site_default(&site);
    assert_string_equal(site.admin_address, "alice@example.test");
    site_free(&site);
    /* An address outside the site's domains is fine (a forwarding target). */
    assert_int_equal(parse("demo_users: false\nadmin_address: noc@isp.example\n", &site, &errors), 0);
    assert_string_equal(site.admin_address, "noc@isp.example");
    site_free(&site);
    buf_free(&errors);
    expect_error("demo_users: false\n", "site.yaml:1:13: admin_address: required when demo_users is false");
    expect_error("admin_address: alice\n", "site.yaml:1:16: admin_address: \"alice\" is not an address");
    expect_error("admin_address: \"a(b)@example.test\"\n", "site.yaml:1:16: admin_address: ");
    expect_error("admin_address: [a@example.test]\n", "site.yaml:1:16: admin_address");
    expect_error("domains: [example.test, b.test]\nadmin_address: Abuse@B.test\n",
                 "site.yaml:2:16: admin_address: abuse@b.test is one of the aliases that point to it (a loop)");
}

/* dkim: signing on by default, a replaced selector kept 7 days; bad
 * values and unknown keys at FILE:LINE:COL. */
static void test_dkim_section(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse("domains: [example.test]\n", &site, &errors), 0);
    assert_int_equal(site.dkim.enabled, 1);
    assert_int_equal(site.dkim.retire_days, 7);
    site_free(&site);
    assert_int_equal(parse("domains: [example.test]\ndkim: {enabled: false, retire_after_days: 30}\n", &site,
                           &errors), 0);
    assert_int_equal(site.dkim.enabled, 0);
    assert_int_equal(site.dkim.retire_days, 30);
    site_free(&site);
    buf_free(&errors);
    expect_error("dkim: {enabled: sometimes}\n", "site.yaml:1:17: dkim.enabled: \"sometimes\" is not true or false");
    expect_error("dkim:\n  retire_after_days: 400\n",
                 "site.yaml:2:22: dkim.retire_after_days: \"400\" is not a whole number from 0 to 365");
    expect_error("dkim:\n  retire_after_days: -1\n", "site.yaml:2:22: dkim.retire_after_days:");
    expect_error("dkim:\n  selector: \"x; rm -rf /\"\n", "site.yaml:2:3: dkim: unknown key \"selector\"");
    expect_error("dkim: [on]\n", "site.yaml:1:7: dkim:");
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
    assert_memory_equal(&site.metrics, &def.metrics, sizeof site.metrics);
    buf_free(&errors);
    site_free(&site);
    site_free(&def);
}

/* ---- policy: (emailng-policyd) ---- */

static void test_policy_defaults(void **state)
{
    (void)state;
    struct site site;
    site_default(&site);
    assert_int_equal(site.policy.user.msgs_per_hour, 100);
    assert_int_equal(site.policy.user.rcpts_per_msg, 100);
    assert_int_equal(site.policy.user.rcpts_per_day, 1000);
    assert_int_equal(site.policy.client.msgs_per_hour, 1000);
    assert_int_equal(site.policy.client.rcpts_per_day, 10000);
    assert_int_equal(site.policy.n_overrides, 0);
    assert_int_equal(site.policy.spf_enabled, 1);
    assert_int_equal(site.policy.spf_reject_fail, 0);
    assert_null(site.policy.spf_resolv_conf);
    assert_int_equal(site.policy.greylist_enabled, 0);
    assert_int_equal(site.policy.n_greylist_domains, 0);
    assert_int_equal(site.policy.greylist_delay, 300);
    assert_int_equal(site.policy.n_xclient_hosts, 0);
    site_free(&site);
}

static void test_policy_section(void **state)
{
    (void)state;
    static const char text[] =
        "domains: [example.test, grey.test]\n"
        "policy:\n"
        "  limits:\n"
        "    user: {msgs_per_hour: 50, rcpts_per_day: 0}\n"
        "    client: {rcpts_per_msg: 20}\n"
        "    overrides:\n"
        "      Alice@Example.TEST: {msgs_per_hour: 10}\n"
        "      bob@example.test: {rcpts_per_msg: 5, rcpts_per_day: 100}\n"
        "  spf: {enabled: false, reject_fail: true, trusted_forwarders: [192.0.2.1, 198.51.100.0/24, \"2001:db8::/32\"],\n"
        "        resolv_conf: /tmp/resolv.conf}\n"
        "  greylist: {enabled: false, domains: [Grey.Test], delay: 60}\n"
        "  xclient_hosts: [127.0.0.2]\n";
    struct site site;
    buf errors = BUF_INIT;
    if (site_parse(text, strlen(text), "site.yaml", &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.policy.user.msgs_per_hour, 50);
    assert_int_equal(site.policy.user.rcpts_per_msg, 100);      /* default kept */
    assert_int_equal(site.policy.user.rcpts_per_day, 0);        /* 0 = no limit */
    assert_int_equal(site.policy.client.rcpts_per_msg, 20);
    assert_int_equal(site.policy.n_overrides, 2);
    assert_string_equal(site.policy.overrides[0].address, "alice@example.test");
    assert_int_equal(site.policy.overrides[0].limits.msgs_per_hour, 10);
    assert_int_equal(site.policy.overrides[0].limits.rcpts_per_msg, -1);   /* not overridden */
    assert_int_equal(site.policy.overrides[1].limits.rcpts_per_day, 100);
    assert_int_equal(site.policy.spf_enabled, 0);
    assert_int_equal(site.policy.spf_reject_fail, 1);
    assert_int_equal(site.policy.n_spf_trusted_forwarders, 3);
    assert_string_equal(site.policy.spf_trusted_forwarders[1], "198.51.100.0/24");
    assert_string_equal(site.policy.spf_resolv_conf, "/tmp/resolv.conf");
    assert_int_equal(site.policy.n_greylist_domains, 1);
    assert_string_equal(site.policy.greylist_domains[0], "grey.test");
    assert_int_equal(site.policy.greylist_delay, 60);
    assert_int_equal(site.policy.n_xclient_hosts, 1);
    assert_string_equal(site.policy.xclient_hosts[0], "127.0.0.2");
    buf_free(&errors);
    site_free(&site);
}

static void test_policy_errors(void **state)
{
    (void)state;
    expect_error("policy:\n  spf: {enabeld: true}\n",
                 "site.yaml:2:9: policy.spf: unknown key \"enabeld\"; expected one of: enabled, reject_fail, "
                 "trusted_forwarders, resolv_conf");
    expect_error("policy: {colour: blue}\n", "site.yaml:1:10: policy: unknown key \"colour\"");
    expect_error("policy: {limits: {user: {msgs_per_hour: -1}}}\n",
                 "policy.limits.user.msgs_per_hour: \"-1\" is not a whole number from 0 to 1000000000");
    expect_error("policy: {limits: {user: {msgs_per_day: 5}}}\n", "policy.limits.user: unknown key \"msgs_per_day\"");
    expect_error("policy: {limits: {overrides: {alice: {msgs_per_hour: 1}}}}\n",
                 "policy.limits.overrides: \"alice\" is not a full address");
    expect_error("policy: {limits: {overrides: {\"a*b@example.test\": {msgs_per_hour: 1}}}}\n",
                 "policy.limits.overrides:");
    expect_error("policy: {limits: {overrides: {a@example.test: {msgs_per_hour: 1}, A@example.test: {}}}}\n",
                 "policy.limits.overrides: a@example.test is listed twice");
    expect_error("policy: {limits: {overrides: {a@example.test: {speed: 1}}}}\n",
                 "policy.limits.overrides.a@example.test: unknown key \"speed\"");
    expect_error("policy: {spf: {trusted_forwarders: [192.0.2.0/33]}}\n",
                 "policy.spf.trusted_forwarders: \"192.0.2.0/33\" is not an IP address or network");
    expect_error("policy: {spf: {trusted_forwarders: 192.0.2.1}}\n",
                 "policy.spf.trusted_forwarders: expected a list, found a single value");
    expect_error("policy: {spf: {reject_fail: sometimes}}\n", "policy.spf.reject_fail: \"sometimes\" is not true or false");
    expect_error("policy: {spf: {resolv_conf: etc/resolv.conf}}\n", "policy.spf.resolv_conf: \"etc/resolv.conf\" is not an absolute path");
    expect_error("policy: {greylist: {domains: [other.test]}}\n",
                 "policy.greylist.domains: \"other.test\" is not one of the site's domains");
    expect_error("policy: {greylist: {domains: [\"bad domain\"]}}\n", "policy.greylist.domains: \"bad domain\" is not a domain name");
    expect_error("policy: {greylist: {delay: 0}}\n", "policy.greylist.delay: \"0\" is not a whole number from 1 to 86400");
    expect_error("policy: {xclient_hosts: [everyone]}\n", "policy.xclient_hosts: \"everyone\" is not an IP address or network");
    /* policyd has no port since it listens on a unix socket only */
    expect_error("ports: {policyd: 10040}\n", "ports: unknown key \"policyd\"");
}

/* examples/small-site.yaml documents the policy defaults too. */
static void test_example_policy_equals_default(void **state)
{
    (void)state;
    struct site site, def;
    buf errors = BUF_INIT;
    if (site_load(EMAILNG_DATADIR "/examples/small-site.yaml", &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    site_default(&def);
    assert_memory_equal(&site.policy.user, &def.policy.user, sizeof def.policy.user);
    assert_memory_equal(&site.policy.client, &def.policy.client, sizeof def.policy.client);
    assert_int_equal(site.policy.n_overrides, 0);
    assert_int_equal(site.policy.spf_enabled, def.policy.spf_enabled);
    assert_int_equal(site.policy.spf_reject_fail, def.policy.spf_reject_fail);
    assert_int_equal(site.policy.n_spf_trusted_forwarders, 0);
    assert_null(site.policy.spf_resolv_conf);
    assert_int_equal(site.policy.greylist_enabled, def.policy.greylist_enabled);
    assert_int_equal(site.policy.n_greylist_domains, 0);
    assert_int_equal(site.policy.greylist_delay, def.policy.greylist_delay);
    assert_int_equal(site.policy.n_xclient_hosts, 0);
    buf_free(&errors);
    site_free(&site);
    site_free(&def);
}

/* ---- filter: (issue 3) ---------------------------------------------------- */

static const char *const filter_base =
    "domains: [example.test]\n"
    "hosts:\n"
    "  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}\n";

static void test_filter_defaults(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(filter_base, &site, &errors), 0);
    assert_true(site.filter.enabled);
    assert_true(site.filter.before_queue);
    assert_int_equal(site.filter.virus_action, VIRUS_QUARANTINE);
    assert_int_equal(site.filter.spam_junk_tenths, 50);
    assert_int_equal(site.filter.spam_quarantine_tenths, 0);
    assert_true(site.filter.quarantine_size == 200ULL * 1024 * 1024);
    assert_string_equal(site.filter.signatures, "/var/lib/clamav");
    assert_int_equal(site.filter.processes, 3);
    buf_free(&errors);
    site_free(&site);
}

static void test_filter_section(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT, text = BUF_INIT;
    buf_printf(&text, "%sfilter:\n  enabled: false\n  before_queue: no\n  virus_action: discard\n"
               "  spam_junk_level: 4.5\n  spam_quarantine_level: 12\n  quarantine: {size: 5M}\n"
               "  signatures: /srv/clamav\n  processes: 4\n  network_tests: true\n", filter_base);
    if (parse(buf_cstr(&text), &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_false(site.filter.enabled);
    assert_false(site.filter.before_queue);
    assert_int_equal(site.filter.virus_action, VIRUS_DISCARD);
    assert_int_equal(site.filter.spam_junk_tenths, 45);
    assert_int_equal(site.filter.spam_quarantine_tenths, 120);
    assert_true(site.filter.quarantine_size == 5ULL * 1024 * 1024);
    assert_string_equal(site.filter.signatures, "/srv/clamav");
    assert_int_equal(site.filter.processes, 4);
    assert_true(site.filter.network_tests);
    buf_free(&errors);
    buf_free(&text);
    site_free(&site);
}

/* ---- dmarc: (issue 11) ----------------------------------------------------- */

static void test_dmarc_defaults_and_section(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT, text = BUF_INIT;
    assert_int_equal(parse(filter_base, &site, &errors), 0);
    assert_int_equal(site.dmarc.mode, DMARC_ENFORCE);
    assert_int_equal(site.dmarc.policy, DMARC_POLICY_NONE);
    site_free(&site);
    static const struct {
        const char *yaml;
        enum site_dmarc_mode mode;
        enum site_dmarc_policy policy;
    } cases[] = {
        {"dmarc: {mode: monitor}\n", DMARC_MONITOR, DMARC_POLICY_NONE},
        {"dmarc: {mode: off, policy: reject}\n", DMARC_OFF, DMARC_POLICY_REJECT},
        {"dmarc:\n  mode: enforce\n  policy: quarantine\n", DMARC_ENFORCE, DMARC_POLICY_QUARANTINE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_reset(&text);
        buf_printf(&text, "%s%s", filter_base, cases[i].yaml);
        if (parse(buf_cstr(&text), &site, &errors) != 0)
            fail_msg("%s: %s", cases[i].yaml, buf_cstr(&errors));
        assert_int_equal(site.dmarc.mode, cases[i].mode);
        assert_int_equal(site.dmarc.policy, cases[i].policy);
        site_free(&site);
    }
    buf_free(&errors);
    buf_free(&text);
}

/* ---- storage: (issue 15, ALT storage) --------------------------------------- */

static void test_storage_alt_section(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT, text = BUF_INIT;
    assert_int_equal(parse(filter_base, &site, &errors), 0);
    assert_null(site.storage.alt_path);
    assert_int_equal(site.storage.alt_after_days, 90);
    assert_null(site_storage_alt_dir(&site, &site.hosts[0]));
    site_free(&site);
    buf_printf(&text, "%sstorage: {alt_path: /srv/mail-alt/, alt_after_days: 365}\n", filter_base);
    if (parse(buf_cstr(&text), &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_string_equal(site.storage.alt_path, "/srv/mail-alt");   /* the trailing / dropped */
    assert_int_equal(site.storage.alt_after_days, 365);
    char *dir = site_storage_alt_dir(&site, &site.hosts[0]);
    assert_string_equal(dir, "/srv/mail-alt/mail");
    free(dir);
    site_free(&site);
    buf_free(&errors);
    buf_free(&text);
}

static void test_storage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *needle;
    } cases[] = {
        {"storage: {alt_path: alt}\n", "site.yaml:4:21: storage.alt_path: \"alt\" is not an absolute folder path"},
        {"storage: {alt_path: \"/srv/%u\"}\n", "site.yaml:4:21: storage.alt_path: \"/srv/%u\""},
        {"storage: {alt_path: \"/srv/a:b\"}\n", "storage.alt_path: \"/srv/a:b\""},
        {"storage: {alt_path: /}\n", "storage.alt_path: \"/\""},
        {"storage: {alt_path: /srv/../etc}\n", "storage.alt_path"},
        {"storage: {alt_after_days: 0}\n", "site.yaml:4:27: storage.alt_after_days"},
        {"storage: {alt_after_days: 36501}\n", "storage.alt_after_days"},
        {"storage: {alt: /srv}\n", "site.yaml:4:11: storage: unknown key \"alt\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf text = BUF_INIT;
        buf_printf(&text, "%s%s", filter_base, cases[i].yaml);
        expect_error(buf_cstr(&text), cases[i].needle);
        buf_free(&text);
    }
}

/* ---- quota.warnings (issue 13, U2) ------------------------------------------ */

static void test_quota_warnings(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT, text = BUF_INIT;
    struct render_context ctx = {0};
    assert_int_equal(parse(filter_base, &site, &errors), 0);
    assert_int_equal(site.n_quota_warnings, 2);
    assert_int_equal(site.quota_warnings[0], 95);
    assert_int_equal(site.quota_warnings[1], 80);
    render_context_set(&ctx, "etc_dir", "/e");
    site_quota_warning_render(&site, &ctx);
    assert_string_equal(render_context_get(&ctx, "quota_warning_settings"),
                        "  quota_warning = storage=95%% quota-warning 95 %u\n"
                        "  quota_warning2 = storage=80%% quota-warning 80 %u");
    assert_string_equal(render_context_get(&ctx, "quota_warning_message"), "/e/dovecot/quota-warning.txt");
    site_free(&site);
    /* Sorted highest first, whatever the file's order; a file of one's own. */
    buf_printf(&text, "%squota: {warnings: [50, 99, 75], warning_message: /etc/emailng/quota-de.txt}\n", filter_base);
    if (parse(buf_cstr(&text), &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.n_quota_warnings, 3);
    assert_int_equal(site.quota_warnings[0], 99);
    assert_int_equal(site.quota_warnings[1], 75);
    assert_int_equal(site.quota_warnings[2], 50);
    site_quota_warning_render(&site, &ctx);
    assert_non_null(strstr(render_context_get(&ctx, "quota_warning_settings"),
                           "\n  quota_warning3 = storage=50%% quota-warning 50 %u"));
    assert_string_equal(render_context_get(&ctx, "quota_warning_message"), "/etc/emailng/quota-de.txt");
    site_free(&site);
    buf_reset(&text);
    buf_printf(&text, "%squota: {warnings: []}\n", filter_base);
    assert_int_equal(parse(buf_cstr(&text), &site, &errors), 0);
    site_quota_warning_render(&site, &ctx);
    assert_string_equal(render_context_get(&ctx, "quota_warning_settings"), "");
    site_free(&site);
    render_context_free(&ctx);
    buf_free(&errors);
    buf_free(&text);
    static const struct {
        const char *yaml;
        const char *needle;
    } cases[] = {
        {"quota: {warnings: [80, 80]}\n", "site.yaml:4:24: quota.warnings: 80 is given twice"},
        {"quota: {warnings: [0]}\n", "site.yaml:4:20: quota.warnings"},
        {"quota: {warnings: [101]}\n", "quota.warnings"},
        {"quota: {warnings: [10, 20, 30, 40, 50, 60]}\n", "quota.warnings: 6 thresholds; at most 5"},
        {"quota: {warnings: 80}\n", "site.yaml:4:19: quota.warnings"},
        {"quota: {warning_message: quota.txt}\n", "quota.warning_message: \"quota.txt\" is not an absolute file path"},
        {"quota: {warning_message: \"/x/$(id).txt\"}\n", "quota.warning_message"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf t = BUF_INIT;
        buf_printf(&t, "%s%s", filter_base, cases[i].yaml);
        expect_error(buf_cstr(&t), cases[i].needle);
        buf_free(&t);
    }
}

static void test_dmarc_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *needle;
    } cases[] = {
        {"dmarc: {mode: strict}\n",
         "site.yaml:4:15: dmarc.mode: \"strict\" is not one of enforce, monitor or off"},
        {"dmarc:\n  policy: p=reject\n",
         "site.yaml:5:11: dmarc.policy: \"p=reject\" is not one of none, quarantine or reject"},
        {"dmarc: {mode: Enforce}\n", "site.yaml:4:15: dmarc.mode: \"Enforce\""},
        {"dmarc: {enforce: true}\n", "site.yaml:4:9: dmarc: unknown key \"enforce\""},
        {"dmarc: {mode: [off]}\n", "site.yaml:4:15: dmarc.mode"},
        {"dmarc: off\n", "site.yaml:4:8: dmarc: expected a mapping of keys"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf text = BUF_INIT;
        buf_printf(&text, "%s%s", filter_base, cases[i].yaml);
        expect_error(buf_cstr(&text), cases[i].needle);
        buf_free(&text);
    }
}

static void test_filter_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *needle;
    } cases[] = {
        {"filter: {enabeld: true}\n", "site.yaml:4:10: filter: unknown key \"enabeld\""},
        {"filter: {enabled: maybe}\n", "filter.enabled: \"maybe\" is not true or false"},
        {"filter: {virus_action: bounce}\n", "expected quarantine or discard"},
        {"filter: {spam_junk_level: 4.55}\n", "filter.spam_junk_level: \"4.55\" is not a score"},
        {"filter: {spam_junk_level: 11}\n", "from 0.5 to 10.0"},
        {"filter: {spam_junk_level: 6.0, spam_quarantine_level: 5}\n", "must be above spam_junk_level"},
        {"filter: {quarantine: {size: 10K}}\n", "at least 1M"},
        {"filter: {quarantine: {max: 10M}}\n", "filter.quarantine: unknown key \"max\""},
        {"filter: {signatures: var/lib/clamav}\n", "not an absolute path"},
        {"filter: {signatures: \"/a b\"}\n", "spaces, quotes"},
        {"filter: {processes: 0}\n", "filter.processes: \"0\" is not a whole number from 1 to 32"},
        {"filter: [on]\n", "filter: expected a mapping of keys"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf text = BUF_INIT;
        buf_printf(&text, "%s%s", filter_base, cases[i].yaml);
        expect_error(buf_cstr(&text), cases[i].needle);
        buf_free(&text);
    }
}

/* ---- srs: and outbound: (issue 11) ---------------------------------------- */

static void test_outbound_defaults(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(filter_base, &site, &errors), 0);
    assert_true(site.outbound.srs_enabled);
    assert_int_equal(site.outbound.tls, OUTBOUND_TLS_DEFAULT);
    assert_true(site.outbound.mta_sts);
    buf_free(&errors);
    site_free(&site);
}

static void test_outbound_section(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT, text = BUF_INIT;
    buf_printf(&text, "%ssrs: {enabled: false}\noutbound:\n  tls: dane\n  mta_sts: no\n", filter_base);
    if (parse(buf_cstr(&text), &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_false(site.outbound.srs_enabled);
    assert_int_equal(site.outbound.tls, OUTBOUND_TLS_DANE);
    assert_false(site.outbound.mta_sts);
    site_free(&site);
    buf_reset(&text);
    buf_printf(&text, "%soutbound: {tls: may}\n", filter_base);
    assert_int_equal(parse(buf_cstr(&text), &site, &errors), 0);
    assert_int_equal(site.outbound.tls, OUTBOUND_TLS_MAY);
    buf_free(&errors);
    buf_free(&text);
    site_free(&site);
}

static void test_outbound_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *needle;
    } cases[] = {
        {"srs: {enabeld: true}\n", "site.yaml:4:7: srs: unknown key \"enabeld\""},
        {"srs: {enabled: perhaps}\n", "site.yaml:4:16: srs.enabled: \"perhaps\" is not true or false"},
        {"srs: yes\n", "srs: expected a mapping of keys"},
        {"outbound: {tls: encrypt}\n",
         "site.yaml:4:17: outbound.tls: \"encrypt\" is not a TLS policy; expected may or dane"},
        {"outbound: {tls: [dane]}\n", "site.yaml:4:17: outbound.tls"},
        {"outbound: {mta_sts: 2}\n", "site.yaml:4:21: outbound.mta_sts: \"2\" is not true or false"},
        {"outbound: {sts: true}\n", "outbound: unknown key \"sts\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf text = BUF_INIT;
        buf_printf(&text, "%s%s", filter_base, cases[i].yaml);
        expect_error(buf_cstr(&text), cases[i].needle);
        buf_free(&text);
    }
}


/* ---- the full topology (several hosts) ---------------------------------- */

static const char *const ha_hosts =
    "hosts:\n"
    "  - {name: relay1, address: 198.18.0.11, roles: [relay]}\n"
    "  - {name: relay2, address: 198.18.0.12, roles: [relay]}\n"
    "  - {name: proxy1, address: 198.18.0.21, roles: [proxy]}\n"
    "  - {name: proxy2, address: 198.18.0.22, roles: [proxy]}\n"
    "  - {name: store1, address: 198.18.0.31, roles: [store], store_pair: pair1}\n"
    "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: pair1}\n"
    "  - {name: dir1, address: 198.18.0.41, roles: [directory]}\n";

/* ha_hosts with one line replaced (line 1..7 = host 1..7; NULL removes it). */
static char *ha_with(int line, const char *replacement)
{
    buf out = BUF_INIT;
    const char *p = ha_hosts;
    int n = 0;
    while (*p) {
        const char *end = strchr(p, '\n') + 1;
        if (n == line && replacement == NULL) {
        } else if (n == line) {
            buf_append_str(&out, replacement);
        } else {
            buf_append(&out, p, (size_t)(end - p));
        }
        n++;
        p = end;
    }
    return buf_steal(&out);
}

static void test_ha_example(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(site_load(EMAILNG_DATADIR "/examples/ha-site.yaml", &site, &errors), 0);
    assert_string_equal(buf_cstr(&errors), "");
    assert_int_equal(site.n_hosts, 7);
    assert_int_equal(site_count_role(&site, ROLE_RELAY), 2);
    assert_int_equal(site_count_role(&site, ROLE_PROXY), 2);
    assert_int_equal(site_count_role(&site, ROLE_STORE), 2);
    assert_int_equal(site_count_role(&site, ROLE_DIRECTORY), 1);
    assert_string_equal(site.hosts[4].name, "store1");
    assert_string_equal(site.hosts[4].store_pair, "pair1");
    assert_ptr_equal(site_store_partner(&site, &site.hosts[4]), &site.hosts[5]);
    assert_ptr_equal(site_store_partner(&site, &site.hosts[5]), &site.hosts[4]);
    assert_null(site_store_partner(&site, &site.hosts[0]));
    assert_null(site.hosts[0].store_pair);
    assert_string_equal(site.fabric.dns, "198.18.0.53");
    assert_string_equal(site.fabric.client, "198.18.0.100");
    assert_string_equal(site.tls_names[0], "mail.example.test");
    /* Only 198.18.0.0/24 in the example (the test fabric). */
    for (size_t i = 0; i < site.n_hosts; i++)
        assert_int_equal(strncmp(site.hosts[i].address, "198.18.0.", 9), 0);
    assert_true(site.hosts[0].line > 1);
    buf_free(&errors);
    site_free(&site);
}

static void test_ha_rules(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(ha_hosts, &site, &errors), 0);
    site_free(&site);
    buf_free(&errors);

    char *t;
    /* Same address twice, at the second host's address. */
    t = ha_with(2, "  - {name: relay2, address: 198.18.0.11, roles: [relay]}\n");
    expect_error(t, "site.yaml:3:29: hosts.address: 198.18.0.11 is the address of host \"relay1\" too");
    free(t);
    /* A relay is never the directory (X1). */
    t = ha_with(7, "  - {name: dir1, address: 198.18.0.41, roles: [directory, relay]}\n");
    expect_error(t, "site.yaml:8:47: hosts: host \"dir1\" has the roles relay and directory; a relay "
                    "stands in the DMZ and must not hold (or reach) the directory (X1)");
    free(t);
    /* One role per host in a site of several hosts. */
    t = ha_with(3, "  - {name: proxy1, address: 198.18.0.21, roles: [proxy, store], store_pair: pair1}\n");
    expect_error(t, "site.yaml:4:49: hosts: host \"proxy1\" has the roles proxy, store; in a site of several "
                    "hosts each host has exactly one role");
    free(t);
    /* Two relays, two proxies. */
    t = ha_with(2, NULL);
    expect_error(t, "hosts: 1 host(s) with the role relay; a site of several hosts needs two relays");
    free(t);
    t = ha_with(4, NULL);
    expect_error(t, "hosts: 1 host(s) with the role proxy; a site of several hosts needs two proxies");
    free(t);
    /* One directory. */
    t = ha_with(7, "  - {name: dir1, address: 198.18.0.41, roles: [directory]}\n"
                   "  - {name: dir2, address: 198.18.0.42, roles: [directory]}\n");
    expect_error(t, "hosts: 2 host(s) with the role directory; a site of several hosts needs exactly one directory host");
    free(t);
    /* Stores name their pair, and a pair is exactly two stores. */
    t = ha_with(6, "  - {name: store2, address: 198.18.0.32, roles: [store]}\n");
    expect_error(t, "site.yaml:7:5: hosts: store \"store2\" has no store_pair");
    free(t);
    t = ha_with(6, "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: pair2}\n");
    expect_error(t, "site.yaml:6:70: hosts.store_pair: the pair \"pair1\" has 1 store(s); a pair is exactly two stores");
    free(t);
    t = ha_with(6, "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: pair1}\n"
                   "  - {name: store3, address: 198.18.0.33, roles: [store], store_pair: pair1}\n");
    expect_error(t, "the pair \"pair1\" has 3 store(s)");
    free(t);
    /* Two pairs of two are fine. */
    t = ha_with(6, "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: pair1}\n"
                   "  - {name: store3, address: 198.18.0.33, roles: [store], store_pair: pair2}\n"
                   "  - {name: store4, address: 198.18.0.34, roles: [store], store_pair: pair2}\n");
    assert_int_equal(parse(t, &site, &errors), 0);
    site_free(&site);
    free(t);
    /* The fabric's own addresses. */
    t = xasprintf("%sfabric: {dns: 198.18.0.41, client: 198.18.0.100}\n", ha_hosts);
    expect_error(t, "site.yaml:9:15: fabric.dns: 198.18.0.41 is the address of host \"dir1\"");
    free(t);
    t = xasprintf("%sfabric: {dns: nameserver}\n", ha_hosts);
    expect_error(t, "site.yaml:9:15: fabric.dns: \"nameserver\" is not an IP address");
    free(t);
    t = xasprintf("%sfabric: {resolver: 198.18.0.53}\n", ha_hosts);
    expect_error(t, "fabric: unknown key \"resolver\"; expected one of: dns, client");
    free(t);
    /* A one-host site may combine roles (the small site); a relay and the
     * directory on one host is the small site, not a DMZ. */
    assert_int_equal(parse("hosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}\n",
                           &site, &errors), 0);
    assert_string_equal(site.hosts[0].store_pair, "pair1");
    site_free(&site);
    buf_free(&errors);
}

/* bruteforce (fail2ban, X2): defaults, values, and errors with positions. */
static void test_bruteforce_keys(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(ha_hosts, &site, &errors), 0);
    assert_int_equal(site.bruteforce.maxretry, 10);
    assert_int_equal(site.bruteforce.findtime, 600);
    assert_int_equal(site.bruteforce.bantime, 3600);
    assert_int_equal(site.bruteforce.n_ignore, 0);
    site_free(&site);

    char *t = xasprintf("%sbruteforce: {maxretry: 4, findtime: 60, bantime: 20, ignore: [192.0.2.0/24, \"2001:db8::1\"]}\n",
                        ha_hosts);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.bruteforce.maxretry, 4);
    assert_int_equal(site.bruteforce.findtime, 60);
    assert_int_equal(site.bruteforce.bantime, 20);
    assert_int_equal(site.bruteforce.n_ignore, 2);
    assert_string_equal(site.bruteforce.ignore[1], "2001:db8::1");
    site_free(&site);
    free(t);

    t = xasprintf("%sbruteforce: {maxretry: 0}\n", ha_hosts);
    expect_error(t, "site.yaml:9:24: bruteforce.maxretry: \"0\" is not a whole number from 1 to 1000");
    free(t);
    t = xasprintf("%sbruteforce: {ignore: [webmail.example.test]}\n", ha_hosts);
    expect_error(t, "site.yaml:9:23: bruteforce.ignore: \"webmail.example.test\" is not an IP address or network");
    free(t);
    t = xasprintf("%sbruteforce: {bantime: 10m}\n", ha_hosts);
    expect_error(t, "bruteforce.bantime: \"10m\" is not a whole number");
    free(t);
    t = xasprintf("%sbruteforce: {banaction: iptables}\n", ha_hosts);
    expect_error(t, "bruteforce: unknown key \"banaction\"");
    free(t);
    buf_free(&errors);
}

/* admin_hosts (ssh through the firewall) and resolver.forward (the relays'
 * unbound): a site of several hosts only, checked with positions. */
static void test_network_keys(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(ha_hosts, &site, &errors), 0);
    assert_int_equal(site.network.n_admin_hosts, 0);        /* default: nobody reaches ssh */
    assert_int_equal(site.network.n_resolver_forward, 0);   /* default: full recursion */
    site_free(&site);

    char *t = xasprintf("%sadmin_hosts: [192.0.2.0/24, 198.51.100.7, \"2001:db8::/32\"]\n"
                        "resolver: {forward: [192.0.2.53, \"2001:db8::53\"]}\n", ha_hosts);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.network.n_admin_hosts, 3);
    assert_string_equal(site.network.admin_hosts[0], "192.0.2.0/24");
    assert_string_equal(site.network.admin_hosts[1], "198.51.100.7");
    assert_string_equal(site.network.admin_hosts[2], "2001:db8::/32");
    assert_int_equal(site.network.n_resolver_forward, 2);
    assert_string_equal(site.network.resolver_forward[1], "2001:db8::53");
    site_free(&site);
    free(t);

    t = xasprintf("%sadmin_hosts: [192.0.2.0/24, ssh.example.test]\n", ha_hosts);
    expect_error(t, "site.yaml:9:29: admin_hosts: \"ssh.example.test\" is not an IP address or network");
    free(t);
    t = xasprintf("%sadmin_hosts: [192.0.2.5/24]\n", ha_hosts);
    expect_error(t, "site.yaml:9:15: admin_hosts: \"192.0.2.5/24\" has address bits set past its prefix length");
    free(t);
    t = xasprintf("%sadmin_hosts: [\"2001:db8::1/64\"]\n", ha_hosts);
    expect_error(t, "admin_hosts: \"2001:db8::1/64\" has address bits set past its prefix length");
    free(t);
    t = xasprintf("%sadmin_hosts: [10.0.0.0/33]\n", ha_hosts);
    expect_error(t, "site.yaml:9:15: admin_hosts: \"10.0.0.0/33\" is not an IP address or network");
    free(t);
    t = xasprintf("%sadmin_hosts: 192.0.2.0/24\n", ha_hosts);
    expect_error(t, "site.yaml:9:14: admin_hosts: expected a list, found a single value");
    free(t);
    t = xasprintf("%sresolver: {forward: [dns.example.test]}\n", ha_hosts);
    expect_error(t, "site.yaml:9:22: resolver.forward: \"dns.example.test\" is not an IP address");
    free(t);
    t = xasprintf("%sresolver: {recursion: yes}\n", ha_hosts);
    expect_error(t, "site.yaml:9:12: resolver: unknown key \"recursion\"; expected one of: forward");
    free(t);
    /* The one-host site has no firewall or resolver of ours to configure. */
    expect_error("hosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}\n"
                 "admin_hosts: [192.0.2.0/24]\n",
                 "admin_hosts: only a site of several hosts gets a firewall from EmailNG");
    expect_error("hosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}\n"
                 "resolver: {forward: [192.0.2.53]}\n",
                 "resolver: only the relays of a site of several hosts run EmailNG's caching resolver");
    buf_free(&errors);
}

/* ---- one walker (yaml_config.c): booleans, keys given twice, positions ---- */

/* true/yes/on and false/no/off mean the same in the site file as in the
 * daemons' configurations (ycfg_bool_word). */
static void test_booleans_on_off(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    static const char text[] =
        "demo_users: off\n"
        "admin_address: hostmaster@example.test\n"
        "filter: {enabled: on, before_queue: off, network_tests: on, spam_quarantine_level: off}\n"
        "policy: {spf: {enabled: off, reject_fail: on}, greylist: {enabled: yes}}\n";
    if (parse(text, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.demo_users, 0);
    assert_int_equal(site.filter.enabled, 1);
    assert_int_equal(site.filter.before_queue, 0);
    assert_int_equal(site.filter.network_tests, 1);
    assert_int_equal(site.filter.spam_quarantine_tenths, 0);
    assert_int_equal(site.policy.spf_enabled, 0);
    assert_int_equal(site.policy.spf_reject_fail, 1);
    assert_int_equal(site.policy.greylist_enabled, 1);
    buf_free(&errors);
    site_free(&site);
    expect_error("demo_users: On\n", "site.yaml:1:13: demo_users: \"On\" is not true or false");
}

/* libyaml keeps both of two equal keys; the site file refuses them, at the
 * second, naming the first's line, and still reports every other problem. */
static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_error("domains: [example.test]\nquota: {default: 1G}\ndomains: [example.org]\n",
                 "site.yaml:3:1: domains: the key is given twice; the first is on line 1; give each key once");
    expect_error("quota:\n  default: 1G\n  grace: 5%\n  default: 2G\n",
                 "site.yaml:4:3: quota.default: the key is given twice; the first is on line 2");
    expect_error("hosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory], name: x}\n",
                 "site.yaml:2:79: hosts.name: the key is given twice; the first is on line 2");
    expect_error("policy:\n  limits:\n    overrides:\n      a@example.test: {msgs_per_hour: 1}\n"
                 "      a@example.test: {msgs_per_hour: 2}\n",
                 "site.yaml:5:7: policy.limits.overrides.a@example.test: the key is given twice; the first is on line 4");
    /* Three times: two reports, each naming the first. */
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse("ports: {smtp: 2525, smtp: 2526, smtp: 2527}\ncolour: blue\n", &site, &errors), -1);
    assert_string_equal(buf_cstr(&errors),
                        "site.yaml:1:21: ports.smtp: the key is given twice; the first is on line 1; give each key once\n"
                        "site.yaml:1:33: ports.smtp: the key is given twice; the first is on line 1; give each key once\n"
                        "site.yaml:2:1: site file: unknown key \"colour\"; expected one of: site, domains, directory, "
                        "hosts, tls, quota, limits, ports, demo_users, filter, policy, fabric, admin_hosts, resolver, bruteforce, admin_address, dmarc, dkim, metrics, srs, outbound, storage, backup, search, webmail\n");
    buf_free(&errors);
    site_free(&site);
    /* Equal values are not equal keys. */
    assert_int_equal(parse("quota: {default: 1G, grace: 1G}\n", &site, &errors), -1);
    assert_null(strstr(buf_cstr(&errors), "given twice"));
    buf_free(&errors);
    site_free(&site);
}

/* Rules over several fields point at the field they are about (not at the
 * top of the file or the enclosing section). */
static void test_errors_point_at_the_field(void **state)
{
    (void)state;
    static const char one_host[] =
        "domains: [example.test]\n"
        "hosts:\n"
        "  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}\n";
    char *t;
    /* Two services on one port: the port given in the file. */
    expect_error("domains: [example.test]\nports: {submission: 443, smtp: 143}\n",
                 "site.yaml:2:32: ports: smtp and imap both use port 143");
    expect_error("ports:\n  imap: 2000\n  pop3: 2000\n", "site.yaml:3:9: ports: imap and pop3 both use port 2000");
    /* A greylisted domain that is not ours: the item. */
    expect_error("domains: [example.test]\npolicy: {greylist: {domains: [example.test, other.test]}}\n",
                 "site.yaml:2:45: policy.greylist.domains: \"other.test\" is not one of the site's domains");
    /* An override for an address outside the site's domains: its key. */
    expect_error("domains: [example.test]\npolicy:\n  limits:\n    overrides:\n      a@other.test: {msgs_per_hour: 1}\n",
                 "site.yaml:5:7: policy.limits.overrides: a@other.test is not in one of the site's domains");
    /* Keys refused on the one-host site: the key. */
    t = xasprintf("%sadmin_hosts: [192.0.2.0/24]\n", one_host);
    expect_error(t, "site.yaml:4:1: admin_hosts: only a site of several hosts");
    free(t);
    t = xasprintf("%sresolver: {forward: [192.0.2.53]}\n", one_host);
    expect_error(t, "site.yaml:4:1: resolver: only the relays");
    free(t);
    /* Roles no host has: the hosts key. */
    expect_error("domains: [example.test]\nhosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay]}\n",
                 "site.yaml:2:1: hosts: no host has the role(s) proxy, store, directory");
    /* store_pair on a host without the store role: the store_pair. */
    expect_error("hosts:\n  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, directory], store_pair: p}\n",
                 "site.yaml:2:84: hosts.store_pair: only a host with the store role has a store pair");
    /* The fabric's dns and client on one address: the client. */
    t = xasprintf("%sfabric: {dns: 198.18.0.53, client: 198.18.0.53}\n", ha_hosts);
    expect_error(t, "site.yaml:9:36: fabric: dns and client have the same address 198.18.0.53");
    free(t);
    /* Too few relays: the hosts key. */
    t = ha_with(2, NULL);
    expect_error(t, "site.yaml:1:1: hosts: 1 host(s) with the role relay");
    free(t);
    /* The quarantine level under the junk level: the quarantine level. */
    expect_error("filter:\n  spam_quarantine_level: 3\n  spam_junk_level: 6\n",
                 "site.yaml:2:26: filter.spam_quarantine_level: must be above spam_junk_level (6.0), or off");
}

/* Every error, sorted by line and column: the rules over several fields
 * (checked after the walk) and keys given twice (found before it) too. */
static void test_errors_sorted_by_line(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    static const char text[] =
        "policy: {greylist: {domains: [other.test]}}\n"
        "domains: [example.test]\n"
        "quota: {default: lots, grace: 5%, grace: 6%}\n"
        "colour: blue\n";
    assert_int_equal(parse(text, &site, &errors), -1);
    assert_string_equal(buf_cstr(&errors),
                        "site.yaml:1:31: policy.greylist.domains: \"other.test\" is not one of the site's domains; "
                        "greylisting applies to mail for our own domains\n"
                        "site.yaml:3:18: quota.default: size \"lots\": expected a number of bytes, optionally followed by "
                        "K, M, G or T (e.g. 500M)\n"
                        "site.yaml:3:35: quota.grace: the key is given twice; the first is on line 3; give each key once\n"
                        "site.yaml:4:1: site file: unknown key \"colour\"; expected one of: site, domains, directory, "
                        "hosts, tls, quota, limits, ports, demo_users, filter, policy, fabric, admin_hosts, resolver, bruteforce, admin_address, dmarc, dkim, metrics, srs, outbound, storage, backup, search, webmail\n");
    buf_free(&errors);
    site_free(&site);
}

/* tls.source, tls.files, tls.acme (site_cert_source.c). */
static void test_cert_source(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse("domains: [example.test]\n", &site, &errors), 0);
    assert_int_equal(site.cert_source, CERT_SOURCE_SITE_CA);
    site_free(&site);
    assert_int_equal(parse("tls:\n  source: acme\n  acme:\n    directory: https://acme.test/dir\n"
                           "    email: Hostmaster@Example.TEST\n    ca_bundle: /etc/pebble/ca.pem\n",
                           &site, &errors), 0);
    assert_string_equal(buf_cstr(&errors), "");
    assert_int_equal(site.cert_source, CERT_SOURCE_ACME);
    assert_string_equal(site.acme.directory, "https://acme.test/dir");
    assert_string_equal(site.acme.email, "hostmaster@example.test");
    assert_string_equal(site.acme.ca_bundle, "/etc/pebble/ca.pem");
    site_free(&site);
    assert_int_equal(parse("tls:\n  source: files\n  files: {certificate: /c.pem, key: /k.pem}\n", &site, &errors),
                     0);
    assert_int_equal(site.cert_source, CERT_SOURCE_FILES);
    assert_string_equal(site.cert_files.certificate, "/c.pem");
    assert_string_equal(site.cert_files.key, "/k.pem");
    assert_null(site.cert_files.chain);
    site_free(&site);
    buf_free(&errors);

    expect_error("tls: {source: letsencrypt}\n",
                 "site.yaml:1:15: tls.source: \"letsencrypt\" is not a certificate source; expected one of: "
                 "site-ca, files, acme");
    expect_error("tls:\n  source: acme\n  acme: {directory: \"https://a.test/dir\"}\n",
                 "site.yaml:3:9: tls.acme.email: missing; ACME needs a contact address");
    expect_error("tls: {source: acme}\n", "site.yaml:1:15: tls.acme.email: missing");
    expect_error("tls: {source: acme}\n", "site.yaml:1:15: tls.acme.directory: missing");
    expect_error("tls:\n  source: acme\n  acme: {directory: \"http://a.test/dir\", email: a@b.test}\n",
                 "site.yaml:3:21: tls.acme.directory: \"http://a.test/dir\" is not an https:// URL");
    expect_error("tls:\n  source: acme\n  acme: {directory: \"https://a.test/dir\", email: nobody}\n",
                 "site.yaml:3:50: tls.acme.email: \"nobody\" is not an address");
    expect_error("tls:\n  source: files\n  files: {certificate: /c.pem}\n",
                 "site.yaml:3:10: tls.files.key: missing");
    expect_error("tls:\n  source: files\n  files: {certificate: c.pem, key: /k.pem}\n",
                 "site.yaml:3:24: tls.files.certificate: \"c.pem\" is not an absolute path");
    expect_error("tls:\n  files: {certificate: /c.pem, key: /k.pem}\n",
                 "site.yaml:2:10: tls.files: given, but tls.source is site-ca");
    expect_error("tls:\n  source: files\n  acme: {directory: \"https://a.test/dir\", email: a@b.test}\n"
                 "  files: {certificate: /c.pem, key: /k.pem}\n",
                 "site.yaml:3:9: tls.acme: given, but tls.source is files");
    expect_error("tls:\n  source: files\n  files: {certificate: /c.pem, key: /k.pem, cert: /x}\n",
                 "tls.files: unknown key \"cert\"");
    /* Several hosts: files and acme are accepted (the proxies' relay
     * logins keep the site CA; public_names.h says who serves what). */
    char *text = xasprintf("%stls:\n  names: [mail.example.test]\n  source: acme\n"
                           "  acme: {directory: \"https://a.test/dir\", email: a@b.test}\n", ha_hosts);
    buf errors2 = BUF_INIT;
    assert_int_equal(parse(text, &site, &errors2), 0);
    assert_string_equal(buf_cstr(&errors2), "");
    assert_int_equal(site.cert_source, CERT_SOURCE_ACME);
    assert_int_equal(site.n_hosts, 7);
    site_free(&site);
    free(text);
    text = xasprintf("%stls:\n  names: [mail.example.test]\n  source: files\n"
                     "  files: {certificate: /c.pem, key: /k.pem}\n", ha_hosts);
    assert_int_equal(parse(text, &site, &errors2), 0);
    assert_int_equal(site.cert_source, CERT_SOURCE_FILES);
    site_free(&site);
    free(text);
    buf_free(&errors2);
    /* ... but the proxies' public name must be a DNS name. */
    text = xasprintf("%stls:\n  names: [198.18.0.21]\n  source: files\n"
                     "  files: {certificate: /c.pem, key: /k.pem}\n", ha_hosts);
    expect_error(text, "site.yaml:10:11: tls.names: the first name is the public host name and must be a DNS "
                       "name, not \"198.18.0.21\"");
    free(text);
    text = xasprintf("%stls:\n  names: [localhost]\n  source: acme\n"
                     "  acme: {directory: \"https://a.test/dir\", email: a@b.test}\n", ha_hosts);
    expect_error(text, "site.yaml:11:11: tls.source: acme on a site of several hosts needs a DNS name as "
                       "tls.names[0] (the proxies' public name, e.g. mail.example.org), not \"localhost\"");
    free(text);
}

/* metrics: (O1): defaults, given ports, and bad values at their field,
 * including a clash with a mail port given later in the file. */
static void test_metrics_keys(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(good, &site, &errors), 0);
    assert_int_equal(site.metrics.enabled, 1);
    assert_int_equal(site.metrics.dovecot_port, 9900);
    assert_int_equal(site.metrics.postfix_port, 9154);
    assert_int_equal(site.metrics.emailng_port, 9901);
    site_free(&site);

    char *t = xasprintf("%smetrics: {enabled: false, dovecot: 19900, postfix: 19154, emailng: 19901}\n", good);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.metrics.enabled, 0);
    assert_int_equal(site.metrics.dovecot_port, 19900);
    assert_int_equal(site.metrics.postfix_port, 19154);
    assert_int_equal(site.metrics.emailng_port, 19901);
    site_free(&site);
    free(t);

    t = xasprintf("%smetrics: {dovecot: 70000}\n", good);
    expect_error(t, "site.yaml:14:20: metrics.dovecot: \"70000\" is not a whole number from 1 to 65535");
    free(t);
    t = xasprintf("%smetrics: {enabled: maybe}\n", good);
    expect_error(t, "site.yaml:14:20: metrics.enabled: \"maybe\"");
    free(t);
    t = xasprintf("%smetrics: {prometheus: 9090}\n", good);
    expect_error(t, "site.yaml:14:11: metrics: unknown key \"prometheus\"");
    free(t);
    t = xasprintf("%smetrics: {postfix: 9900}\n", good);
    expect_error(t, "site.yaml:14:20: metrics: dovecot and postfix both use port 9900");
    free(t);
    /* metrics before ports: the clash is still found, at the metrics port. */
    t = "metrics: {emailng: 2526}\n"
        "site: {name: s}\n"
        "domains: [example.test]\n"
        "hosts: [{name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}]\n"
        "ports: {smtp: 2526}\n";
    expect_error(t, "site.yaml:1:20: metrics.emailng: port 2526 is the port of ports.smtp");
    buf_free(&errors);
}

/* webmail: (C3): on by default on the one-host site, off on several hosts;
 * the password page wherever it runs (the one host, the proxies); the nginx
 * include and Roundcube's mail servers; a bad value at its field. */
static void test_webmail_keys(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    struct render_context ctx = {0};
    assert_int_equal(parse(good, &site, &errors), 0);
    assert_true(site_webmail_enabled(&site));
    assert_true(site_webmail_passwords(&site, &site.hosts[0]));
    render_context_set(&ctx, "etc_dir", "/s/etc/mail");
    render_context_set(&ctx, "tls_ca", "/s/tls/ca.crt");
    render_context_set(&ctx, "client_imap_host", "mail.example.test");
    render_context_set(&ctx, "client_smtp_host", "mail.example.test");
    site_webmail_render(&site, &site.hosts[0], &ctx);
    assert_string_equal(render_context_get(&ctx, "nginx_webmail"), "include /s/etc/mail/nginx/webmail.conf;");
    assert_string_equal(render_context_get(&ctx, "webmail_imap_uri"), "ssl://127.0.0.1:993");
    assert_string_equal(render_context_get(&ctx, "webmail_sieve_uri"), "tls://127.0.0.1:4190");
    assert_string_equal(render_context_get(&ctx, "webmail_smtp_relays"),
                        "\n    ['host' => '127.0.0.1', 'port' => 465, 'peer' => 'mail.example.test'],\n");
    assert_string_equal(render_context_get(&ctx, "webmail_imap_peer"), "mail.example.test");
    assert_string_equal(render_context_get(&ctx, "webmail_tls_ca"), "/s/tls/ca.crt");
    assert_string_equal(render_context_get(&ctx, "webmail_max_upload"), "10485760");
    assert_non_null(strstr(render_context_get(&ctx, "webmail_plugins"), "'password'"));
    assert_string_equal(render_context_get(&ctx, "webmail_trusted_hosts"),
                        "'mail.example.test', 'localhost', '127.0.0.1'");
    assert_string_equal(render_context_get(&ctx, "webmail_product_name"), "'small-site'");
    render_context_free(&ctx);
    site_free(&site);

    char *t = xasprintf("%swebmail: {enabled: false}\n", good);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_false(site_webmail_enabled(&site));
    assert_false(site_webmail_passwords(&site, &site.hosts[0]));
    site_free(&site);
    free(t);
    /* Several hosts: off unless given; then on the proxies only. */
    assert_int_equal(parse(ha_hosts, &site, &errors), 0);
    assert_false(site_webmail_passwords(&site, &site.hosts[2]));
    site_free(&site);
    t = xasprintf("%swebmail: {enabled: true}\n", ha_hosts);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_true(site_webmail_passwords(&site, &site.hosts[2]));     /* proxy1 */
    assert_true(site_webmail_passwords(&site, &site.hosts[3]));     /* proxy2 */
    assert_false(site_webmail_passwords(&site, &site.hosts[0]));    /* relay1 */
    assert_false(site_webmail_passwords(&site, &site.hosts[4]));    /* store1 */
    assert_false(site_webmail_passwords(&site, &site.hosts[6]));    /* dir1 */
    /* Junk feeds the spam lists there too (emailng-junklist on each proxy). */
    assert_true(site_webmail_junklists(&site, &site.hosts[2]));
    assert_true(site_webmail_junklists(&site, &site.hosts[3]));
    assert_false(site_webmail_junklists(&site, &site.hosts[0]));
    assert_false(site_webmail_junklists(&site, &site.hosts[4]));
    assert_false(site_webmail_junklists(&site, &site.hosts[6]));
    /* Submission: both relays in site order, each checked for its own name
     * (Roundcube takes the first that accepts a connection). */
    memset(&ctx, 0, sizeof ctx);
    render_context_set(&ctx, "etc_dir", "/s/etc/proxy1");
    render_context_set(&ctx, "client_imap_host", "mail.example.test");
    render_context_set(&ctx, "client_smtp_host", "relay1.example.test");
    site_webmail_render(&site, &site.hosts[2], &ctx);
    assert_string_equal(render_context_get(&ctx, "webmail_imap_uri"), "ssl://198.18.0.21:993");
    assert_string_equal(render_context_get(&ctx, "webmail_smtp_relays"),
                        "\n    ['host' => '198.18.0.11', 'port' => 465, 'peer' => 'relay1.example.test'],"
                        "\n    ['host' => '198.18.0.12', 'port' => 465, 'peer' => 'relay2.example.test'],\n");
    render_context_free(&ctx);
    site_free(&site);
    free(t);
    t = xasprintf("%swebmail: {enabled: false}\n", good);
    assert_int_equal(parse(t, &site, &errors), 0);
    memset(&ctx, 0, sizeof ctx);
    render_context_set(&ctx, "etc_dir", "/s/etc/mail");
    site_webmail_render(&site, &site.hosts[0], &ctx);
    assert_int_equal(render_context_get(&ctx, "nginx_webmail")[0], '#');
    render_context_free(&ctx);
    site_free(&site);
    free(t);

    assert_int_equal(site_load(EMAILNG_DATADIR "/examples/ha-site.yaml", &site, &errors), 0);
    assert_false(site_webmail_enabled(&site));
    site_free(&site);

    t = xasprintf("%swebmail: {enabled: maybe}\n", good);
    expect_error(t, "site.yaml:14:20: webmail.enabled: \"maybe\" is not true or false");
    free(t);
    t = xasprintf("%swebmail: {url: /mail/}\n", good);
    expect_error(t, "site.yaml:14:11: webmail: unknown key \"url\"");
    free(t);
    buf_free(&errors);
}

/* search: (M5): full-text search off by default (opt-in: fts-xapian's
 * answers miss short words); on includes fts.conf; bad values at their field. */
static void test_search_keys(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    struct render_context ctx = {0};
    assert_int_equal(parse(good, &site, &errors), 0);
    assert_int_equal(site.search.fts, 0);
    site_free(&site);
    char *t = xasprintf("%ssearch: {fts: true}\n", good);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.search.fts, 1);
    site_search_render(&site, &ctx);
    assert_string_equal(render_context_get(&ctx, "dovecot_fts"), "!include fts.conf");
    render_context_free(&ctx);
    site_free(&site);
    free(t);

    t = xasprintf("%ssearch: {fts: false}\n", good);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_int_equal(site.search.fts, 0);
    memset(&ctx, 0, sizeof ctx);
    site_search_render(&site, &ctx);
    const char *v = render_context_get(&ctx, "dovecot_fts");
    assert_non_null(v);
    assert_int_equal(v[0], '#');
    assert_null(strstr(v, "!include"));
    render_context_free(&ctx);
    site_free(&site);
    free(t);

    t = xasprintf("%ssearch: {fts: maybe}\n", good);
    expect_error(t, "site.yaml:14:15: search.fts: \"maybe\" is not true or false");
    free(t);
    t = xasprintf("%ssearch: {decoder: pdf}\n", good);
    expect_error(t, "site.yaml:14:10: search: unknown key \"decoder\"");
    free(t);
    buf_free(&errors);
}

/* backup: (M6): the default, given values, and bad values at their field. */
static void test_backup_keys(void **state)
{
    (void)state;
    struct site site;
    buf errors = BUF_INIT;
    assert_int_equal(parse(good, &site, &errors), 0);
    assert_null(site.backup.path);
    assert_int_equal(site.backup.keep, 7);
    site_free(&site);

    char *t = xasprintf("%sbackup: {path: /srv/emailng-backup, keep: 14}\n", good);
    if (parse(t, &site, &errors) != 0)
        fail_msg("%s", buf_cstr(&errors));
    assert_string_equal(site.backup.path, "/srv/emailng-backup");
    assert_int_equal(site.backup.keep, 14);
    site_free(&site);
    free(t);

    t = xasprintf("%sbackup: {path: backups}\n", good);
    expect_error(t, "site.yaml:14:16: backup.path: \"backups\" is not an absolute folder; expected e.g. "
                    "/srv/emailng-backup");
    free(t);
    t = xasprintf("%sbackup: {path: /srv/../etc}\n", good);
    expect_error(t, "site.yaml:14:16: backup.path: \"/srv/../etc\" is not an absolute folder");
    free(t);
    t = xasprintf("%sbackup: {path: \"/srv/a:b\"}\n", good);
    expect_error(t, "site.yaml:14:16: backup.path: \"/srv/a:b\" has a ':'");
    free(t);
    t = xasprintf("%sbackup: {keep: 0}\n", good);
    expect_error(t, "site.yaml:14:16: backup.keep: \"0\" is not a whole number from 1 to 1000");
    free(t);
    t = xasprintf("%sbackup: {days: 3}\n", good);
    expect_error(t, "site.yaml:14:10: backup: unknown key \"days\"");
    free(t);
    buf_free(&errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_keys),
        cmocka_unit_test(test_search_keys),
        cmocka_unit_test(test_webmail_keys),
        cmocka_unit_test(test_good_site),
        cmocka_unit_test(test_admin_address),
        cmocka_unit_test(test_cert_source),
        cmocka_unit_test(test_dkim_section),
        cmocka_unit_test(test_defaults_derived_from_domain),
        cmocka_unit_test(test_default_profile),
        cmocka_unit_test(test_unknown_key_with_position),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_yaml_syntax_error),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_example_equals_default),
        cmocka_unit_test(test_policy_defaults),
        cmocka_unit_test(test_policy_section),
        cmocka_unit_test(test_policy_errors),
        cmocka_unit_test(test_example_policy_equals_default),
        cmocka_unit_test(test_filter_defaults),
        cmocka_unit_test(test_filter_section),
        cmocka_unit_test(test_filter_errors),
        cmocka_unit_test(test_dmarc_defaults_and_section),
        cmocka_unit_test(test_dmarc_errors),
        cmocka_unit_test(test_storage_alt_section),
        cmocka_unit_test(test_storage_errors),
        cmocka_unit_test(test_quota_warnings),
        cmocka_unit_test(test_outbound_defaults),
        cmocka_unit_test(test_outbound_section),
        cmocka_unit_test(test_outbound_errors),
        cmocka_unit_test(test_ha_example),
        cmocka_unit_test(test_ha_rules),
        cmocka_unit_test(test_network_keys),
        cmocka_unit_test(test_booleans_on_off),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_errors_point_at_the_field),
        cmocka_unit_test(test_errors_sorted_by_line),
        cmocka_unit_test(test_bruteforce_keys),
        cmocka_unit_test(test_metrics_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
