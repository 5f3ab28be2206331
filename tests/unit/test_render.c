/* Unit tests for the template renderer (render.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"
#include "host_kind.h"
#include "render.h"
#include "replication.h"
#include "site_tls.h"

static void test_substitution(void **state)
{
    (void)state;
    struct render_context ctx = {0};
    render_context_set(&ctx, "domain", "example.test");
    render_context_set(&ctx, "port", "25");
    render_context_set(&ctx, "port", "2525");     /* a later value wins */
    buf out = BUF_INIT, err = BUF_INIT;
    assert_int_equal(render_text(&ctx, "a {{domain}}:{{port}} {b} }} {{domain}}\n", "t", &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "a example.test:2525 {b} }} example.test\n");
    buf_free(&out);
    buf_free(&err);
    render_context_free(&ctx);
}

static void test_unknown_placeholder_names_line(void **state)
{
    (void)state;
    struct render_context ctx = {0};
    render_context_set(&ctx, "x", "1");
    buf out = BUF_INIT, err = BUF_INIT;
    assert_int_equal(render_text(&ctx, "one {{x}}\ntwo\nthree {{nope}}\n", "main.cf", &out, &err), -1);
    assert_string_equal(buf_cstr(&err), "main.cf:3: unknown placeholder {{nope}}");
    buf_reset(&err);
    assert_int_equal(render_text(&ctx, "a\n{{x\n}}", "dovecot.conf", &out, &err), -1);
    assert_string_equal(buf_cstr(&err), "dovecot.conf:2: \"{{\" without a closing \"}}\" on the same line");
    buf_free(&out);
    buf_free(&err);
    render_context_free(&ctx);
}

static void test_components_by_role(void **state)
{
    (void)state;
    const char *const *c = render_components(ROLE_ALL);
    assert_string_equal(c[0], "slapd");
    assert_string_equal(c[1], "dovecot");
    assert_string_equal(c[2], "postfix");
    int policyd = 0;            /* the relay's border policy server */
    for (size_t i = 3; c[i]; i++)
        policyd |= strcmp(c[i], "policyd") == 0;
    assert_true(policyd);
    /* The one-host site: no resolver of ours, and of nftables only the
     * loopback guard (templates/nftables-local), never a network firewall. */
    const char *const *t = host_kind_of(ROLE_ALL)->templates;
    int guard = 0;
    for (size_t i = 0; c[i]; i++) {
        assert_string_not_equal(c[i], "unbound");
        if (strcmp(c[i], "nftables") == 0) {
            assert_string_equal(t[i], "nftables-local");
            guard = 1;
        }
    }
    assert_true(guard);
    c = render_components(ROLE_DIRECTORY);
    assert_string_equal(c[0], "slapd");
    assert_string_equal(c[1], "nftables");
    assert_string_equal(c[2], "logrotate");      /* every host rotates its logs */
    assert_null(c[3]);
    /* A relay of several hosts: its caching resolver and its firewall. */
    c = render_components(ROLE_RELAY);
    int unbound = 0, nftables = 0;
    for (size_t i = 0; c[i]; i++) {
        unbound |= strcmp(c[i], "unbound") == 0;
        nftables |= strcmp(c[i], "nftables") == 0;
    }
    assert_true(unbound && nftables);
}

static void test_context_values(void **state)
{
    (void)state;
    struct site site;
    site_default(&site);
    struct render_context ctx = {0};
    buf err = BUF_INIT;
    assert_int_equal(render_context_for_host(&site, &site.hosts[0], "/var/lib/emailng", &ctx, &err), 0);
    assert_string_equal(render_context_get(&ctx, "ldap_uri"),
                        "ldapi://%2Fvar%2Flib%2Femailng%2Frun%2Fmail%2Fldapi");
    assert_string_equal(render_context_get(&ctx, "quota_default"), "1G");
    assert_string_equal(render_context_get(&ctx, "quota_grace"), "10%");
    assert_string_equal(render_context_get(&ctx, "message_size_limit"), "26214400");
    assert_string_equal(render_context_get(&ctx, "public_hostname"), "mail.example.test");
    assert_string_equal(render_context_get(&ctx, "etc_dir"), "/var/lib/emailng/etc/mail");
    assert_non_null(render_context_get(&ctx, "vmail_uid"));
    /* emailng-policyd */
    assert_null(render_context_get(&ctx, "port_policyd"));     /* no TCP port: a unix socket */
    assert_string_equal(render_context_get(&ctx, "policyd_socket"), "/var/lib/emailng/run/mail/policyd/policy");
    assert_string_equal(render_context_get(&ctx, "policyd_quota_stores"), "    pair1: [\"127.0.0.1:12340\"]");
    assert_string_equal(render_context_get(&ctx, "policyd_msgs_per_hour"), "100");
    assert_string_equal(render_context_get(&ctx, "policyd_client_rcpts_per_day"), "10000");
    assert_string_equal(render_context_get(&ctx, "policyd_spf_enabled"), "true");
    assert_string_equal(render_context_get(&ctx, "policyd_spf_reject_fail"), "false");
    assert_string_equal(render_context_get(&ctx, "policyd_spf_resolv_conf"), "");
    assert_string_equal(render_context_get(&ctx, "policyd_trusted_forwarders"), "");
    assert_string_equal(render_context_get(&ctx, "policyd_greylist_enabled"), "false");
    assert_string_equal(render_context_get(&ctx, "policyd_greylist_domains"), "");
    assert_string_equal(render_context_get(&ctx, "policyd_greylist_delay"), "300");
    assert_string_equal(render_context_get(&ctx, "postfix_xclient_hosts"), "");
    assert_string_equal(render_context_get(&ctx, "mail_alt"), "");      /* no ALT storage */
    /* The announcement folders' owner account (stores of several hosts). */
    assert_string_equal(render_context_get(&ctx, "public_owner"), "public-folders@example.test");
    assert_string_equal(render_context_get(&ctx, "public_owner_dir"), "example.test/public-folders");
    assert_string_equal(render_context_get(&ctx, "mail_alt_public"), "");
    render_context_free(&ctx);
    /* ALT storage: this store's folder in alt_path, per user like the mail. */
    site.storage.alt_path = xstrdup("/srv/mail-alt");
    struct render_context alt = {0};
    assert_int_equal(render_context_for_host(&site, &site.hosts[0], "/var/lib/emailng", &alt, &err), 0);
    assert_string_equal(render_context_get(&alt, "mail_alt"), ":ALT=/srv/mail-alt/mail/%d/%n");
    assert_string_equal(render_context_get(&alt, "mail_alt_public"), ":ALT=/srv/mail-alt/mail/example.test/public-folders");
    render_context_free(&alt);
    buf_free(&err);
    site_free(&site);
}

static void test_render_site_is_deterministic(void **state)
{
    (void)state;
    char a[] = "/tmp/emailng-render-a-XXXXXX", b[] = "/tmp/emailng-render-b-XXXXXX";
    assert_non_null(mkdtemp(a));
    assert_non_null(mkdtemp(b));
    struct site site;
    site_default(&site);
    buf err = BUF_INIT;
    int rc = render_site(&site, EMAILNG_DATADIR "/templates", "/var/lib/emailng", a, &err);
    if (rc != 0)
        fail_msg("%s", buf_cstr(&err));
    assert_int_equal(render_site(&site, EMAILNG_DATADIR "/templates", "/var/lib/emailng", b, &err), 0);
    assert_true(fs_same_tree(a, b));
    char *main_cf = xasprintf("%s/mail/postfix/main.cf", a);
    char *slapd = xasprintf("%s/mail/slapd/slapd.conf", a);
    char *dovecot = xasprintf("%s/mail/dovecot/dovecot.conf", a);
    assert_true(fs_exists(main_cf));
    assert_true(fs_exists(slapd));
    assert_true(fs_exists(dovecot));
    buf text = BUF_INIT;
    assert_int_equal(fs_read_file(main_cf, 1 << 20, &text, &err), 0);
    assert_null(strstr(buf_cstr(&text), "{{"));
    free(main_cf);
    free(slapd);
    free(dovecot);
    buf_free(&text);
    assert_int_equal(fs_remove_tree(a, &err), 0);
    assert_int_equal(fs_remove_tree(b, &err), 0);
    buf_free(&err);
    site_free(&site);
}

/* The firewall's sets and the resolver's upstreams, per host and site. */
static void test_network_context(void **state)
{
    (void)state;
    struct site site;
    buf err = BUF_INIT;
    if (site_load(EMAILNG_DATADIR "/examples/ha-site.yaml", &site, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    struct render_context ctx = {0};
    const struct site_host *store1 = &site.hosts[4], *relay1 = &site.hosts[0];
    assert_int_equal(render_context_for_host(&site, store1, "/s", &ctx, &err), 0);
    assert_string_equal(render_context_get(&ctx, "nft_relays_v4"), "elements = { 198.18.0.11, 198.18.0.12 }");
    assert_string_equal(render_context_get(&ctx, "nft_relays_v6"), "");
    assert_string_equal(render_context_get(&ctx, "nft_proxies_v4"), "elements = { 198.18.0.21, 198.18.0.22 }");
    assert_string_equal(render_context_get(&ctx, "nft_directory_v4"), "elements = { 198.18.0.41 }");
    assert_string_equal(render_context_get(&ctx, "nft_partner_v4"), "elements = { 198.18.0.32 }");
    assert_string_equal(render_context_get(&ctx, "nft_admin_v4"), "");      /* no admin_hosts: no ssh */
    assert_string_equal(render_context_get(&ctx, "port_doveadm"), "12345");
    render_context_free(&ctx);
    /* The fabric's DNS is the relays' upstream; no trust anchor then. */
    assert_int_equal(render_context_for_host(&site, relay1, "/s", &ctx, &err), 0);
    assert_string_equal(render_context_get(&ctx, "nft_partner_v4"), "");
    assert_string_equal(render_context_get(&ctx, "unbound_forward_zone"),
                        "forward-zone:\n    name: \".\"\n    forward-addr: 198.18.0.53\n");
    assert_non_null(strstr(render_context_get(&ctx, "unbound_trust_anchor"), "# no DNSSEC trust anchor"));
    assert_string_equal(render_context_get(&ctx, "unbound_local_zones"), "    local-zone: \"example.test.\" transparent");
    render_context_free(&ctx);
    site_free(&site);

    /* A real site: admin_hosts by family, its own forwarders, or recursion. */
    static const char *const hosts =
        "domains: [example.org]\n"
        "hosts:\n"
        "  - {name: relay1, address: 192.0.2.11, roles: [relay]}\n"
        "  - {name: relay2, address: \"2001:db8::12\", roles: [relay]}\n"
        "  - {name: proxy1, address: 192.0.2.21, roles: [proxy]}\n"
        "  - {name: proxy2, address: 192.0.2.22, roles: [proxy]}\n"
        "  - {name: store1, address: 192.0.2.31, roles: [store], store_pair: p1}\n"
        "  - {name: store2, address: 192.0.2.32, roles: [store], store_pair: p1}\n"
        "  - {name: dir1, address: 192.0.2.41, roles: [directory]}\n"
        "admin_hosts: [198.51.100.0/24, \"2001:db8:ad::/48\", 203.0.113.9]\n";
    char *text = xasprintf("%sresolver: {forward: [192.0.2.53, 192.0.2.54]}\n", hosts);
    if (site_parse(text, strlen(text), "real.yaml", &site, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    assert_int_equal(render_context_for_host(&site, &site.hosts[0], "/s", &ctx, &err), 0);
    assert_string_equal(render_context_get(&ctx, "nft_relays_v4"), "elements = { 192.0.2.11 }");
    assert_string_equal(render_context_get(&ctx, "nft_relays_v6"), "elements = { 2001:db8::12 }");
    assert_string_equal(render_context_get(&ctx, "nft_admin_v4"), "elements = { 198.51.100.0/24, 203.0.113.9 }");
    assert_string_equal(render_context_get(&ctx, "nft_admin_v6"), "elements = { 2001:db8:ad::/48 }");
    assert_string_equal(render_context_get(&ctx, "unbound_forward_zone"),
                        "forward-zone:\n    name: \".\"\n    forward-addr: 192.0.2.53\n    forward-addr: 192.0.2.54\n");
    render_context_free(&ctx);
    site_free(&site);
    free(text);
    if (site_parse(hosts, strlen(hosts), "real.yaml", &site, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    assert_int_equal(render_context_for_host(&site, &site.hosts[0], "/s", &ctx, &err), 0);
    assert_non_null(strstr(render_context_get(&ctx, "unbound_forward_zone"), "full recursion"));
    if (access("/usr/share/dns/root.key", R_OK) == 0)      /* Debian's dns-root-data */
        assert_string_equal(render_context_get(&ctx, "unbound_trust_anchor"),
                            "trust-anchor-file: \"/usr/share/dns/root.key\"");
    render_context_free(&ctx);
    site_free(&site);
    buf_free(&err);
}

/* Runs a checker; fails the test with its output unless it exits 0
 * (and, when `clean`, prints no warning). */
static void check_tool(const char *const argv[], int clean)
{
    buf out = BUF_INIT, err = BUF_INIT;
    int rc = process_run(argv, NULL, &out, &err);
    if (rc != 0 || (clean && strstr(buf_cstr(&out), "warning")))
        fail_msg("%s %s %s: exit %d\n%s%s", argv[0], argv[1], argv[2], rc, buf_cstr(&out), buf_cstr(&err));
    buf_free(&out);
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

/* Each host of the full topology gets its role's variant, and every
 * variant passes the daemon's own checker (needs root: the certificates'
 * keys belong to the daemons' groups). */
static void test_ha_site_renders_per_role(void **state)
{
    (void)state;
    struct site site;
    buf err = BUF_INIT;
    if (site_load(EMAILNG_DATADIR "/examples/ha-site.yaml", &site, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    site.search.fts = 1;       /* opt-in (site_search.h): rendered here to check fts.conf */
    assert_string_equal(render_component_template(ROLE_ALL, "postfix"), "postfix");
    assert_string_equal(render_component_template(ROLE_RELAY, "postfix"), "postfix-relay");
    assert_string_equal(render_component_template(ROLE_STORE, "postfix"), "postfix-store");
    assert_string_equal(render_component_template(ROLE_STORE, "dovecot"), "dovecot-store");
    assert_string_equal(render_component_template(ROLE_PROXY, "dovecot"), "dovecot-proxy");
    assert_string_equal(render_component_template(ROLE_DIRECTORY, "slapd"), "slapd-directory");
    assert_string_equal(render_component_template(ROLE_RELAY, "policyd"), "policyd");

    char st[] = "/tmp/emailng-render-ha-XXXXXX";
    assert_non_null(mkdtemp(st));
    char *etc = xasprintf("%s/etc", st);
    if (render_site(&site, EMAILNG_DATADIR "/templates", st, etc, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    /* What each host got, and the values between the roles. */
    char *relay = read_rendered(etc, "relay1/postfix/main.cf");
    assert_non_null(strstr(relay, "relay_transport = relay:[198.18.0.31]:25, [198.18.0.32]:25\n"));
    assert_non_null(strstr(relay, "mynetworks = 198.18.0.31 198.18.0.32\n"));
    assert_null(strstr(relay, "ldap"));      /* X1: no directory access from the DMZ */
    char *store = read_rendered(etc, "store1/postfix/main.cf");
    assert_non_null(strstr(store, "virtual_transport = lmtp:inet:[198.18.0.21]:24, [198.18.0.22]:24\n"));
    assert_non_null(strstr(store, "relayhost = [198.18.0.11]:25, [198.18.0.12]:25\n"));
    char *ldap = read_rendered(etc, "store1/postfix/ldap-mailboxes.cf");
    assert_non_null(strstr(ldap, "server_host = ldaps://198.18.0.41:636/\n"));
    char *passdb = read_rendered(etc, "proxy2/dovecot/dovecot-ldap-passdb.conf.ext");
    char *want = xasprintf("tls_cert_file = %s/tls/proxy2/client-dovecot.crt\n", st);
    assert_non_null(strstr(passdb, want));
    assert_non_null(strstr(passdb, "=proxy=y"));
    /* Replication of pair1: each store names the other; the password is a
     * file reference, never the secret. */
    char *dovecot1 = read_rendered(etc, "store1/dovecot/dovecot.conf");
    char *dovecot2 = read_rendered(etc, "store2/dovecot/dovecot.conf");
    assert_non_null(strstr(dovecot1, "mail_replica = tcps:198.18.0.32:12345\n"));
    char *location = xasprintf("mail_location = mdbox:%s/data/store1/mail/%%d/%%n\n", st);
    assert_non_null(strstr(dovecot1, location));
    free(location);
    assert_non_null(strstr(dovecot2, "mail_replica = tcps:198.18.0.31:12345\n"));
    assert_non_null(strstr(dovecot1, "    address = 198.18.0.31\n    port = 12345\n    ssl = yes\n"));
    char *secret_ref = xasprintf("doveadm_password = <%s/secrets/doveadm-password\n", st);
    assert_non_null(strstr(dovecot1, secret_ref));
    /* M5: with search.fts (turned on above), both stores keep a full-text index. */
    assert_non_null(strstr(dovecot1, "\n!include fts.conf\n"));
    assert_non_null(strstr(dovecot2, "\n!include fts.conf\n"));
    char *fts_conf = read_rendered(etc, "store2/dovecot/fts.conf");
    assert_non_null(strstr(fts_conf, "\nmail_plugins = $mail_plugins fts fts_xapian\n"));
    free(fts_conf);
    char *userdb = read_rendered(etc, "store2/dovecot/dovecot-ldap-userdb.conf.ext");
    assert_non_null(strstr(userdb, "(emailngMailHost=pair1))\n"));
    free(dovecot1);
    free(dovecot2);
    free(secret_ref);
    free(userdb);
    char *slapd = read_rendered(etc, "dir1/slapd/slapd.conf");
    assert_non_null(strstr(slapd, "TLSVerifyClient         demand\n"));
    /* A proxy's emailng-passwd (CN=passwd) writes userPassword of users only. */
    assert_non_null(strstr(slapd, "access to dn.onelevel=\"ou=users,dc=example,dc=test\" "
                                  "filter=(objectClass=emailngMailUser)\n                attrs=userPassword\n"
                                  "        by dn.regex=\"^cn=passwd,cn=[a-z0-9-]+,cn=hosts,cn=emailng$\" write\n"
                                  "        by * break\n"));
    /* ... and its emailng-junklist (the same identity) the two spam lists. */
    assert_non_null(strstr(slapd, "filter=(objectClass=emailngMailUser)\n                attrs=emailngSpamDeny,emailngSpamAllow\n"
                                  "        by dn.regex=\"^cn=passwd,cn=[a-z0-9-]+,cn=hosts,cn=emailng$\" write\n"
                                  "        by * break\n"));
    /* X1: the relay's firewall opens MX and submission and keeps it from
     * the directory; the directory opens LDAPS to proxies and stores only. */
    char *nft = read_rendered(etc, "relay1/nftables/emailng.nft");
    assert_non_null(strstr(nft, "tcp dport { 25, 587, 465 } accept\n"));
    assert_non_null(strstr(nft, "ip daddr @directory_v4 counter drop\n"));
    assert_non_null(strstr(nft, "policy drop;"));
    free(nft);
    nft = read_rendered(etc, "dir1/nftables/emailng.nft");
    assert_non_null(strstr(nft, "ip saddr @proxies_v4 tcp dport 636 accept\n"));
    assert_non_null(strstr(nft, "ip saddr @stores_v4 tcp dport 636 accept\n"));
    assert_null(strstr(nft, "@relays"));
    free(nft);
    /* The proxies' store monitor: every pair, the table their Dovecot reads. */
    char *healthd = read_rendered(etc, "proxy1/healthd/healthd.yaml");
    assert_non_null(strstr(healthd, "\n  pair1: {primary: \"198.18.0.31\", secondary: \"198.18.0.32\"}\n"));
    char *table = xasprintf("passwd_file: \"%s/data/proxy1/healthd/pairs.passwd\"\n", st);
    assert_non_null(strstr(healthd, table));
    char *proxy_conf = read_rendered(etc, "proxy1/dovecot/dovecot.conf");
    char *passdb_arg = xasprintf(" %s/data/proxy1/healthd/pairs.passwd\n", st);
    assert_non_null(strstr(proxy_conf, passdb_arg));
    assert_non_null(strstr(healthd, "probe_user: healthd-probe@example.test\n"));
    free(healthd);
    free(table);
    free(proxy_conf);
    free(passdb_arg);
    for (size_t i = 0; i < site.n_hosts; i++) {
        char *dir = xasprintf("%s/%s/healthd", etc, site.hosts[i].name);
        assert_int_equal(fs_exists(dir), site.hosts[i].roles == ROLE_PROXY);
        free(dir);
    }
    char *host_dir = xasprintf("%s/dir1/amavis", etc);
    assert_false(fs_exists(host_dir));
    free(host_dir);
    host_dir = xasprintf("%s/relay1/slapd", etc);
    assert_false(fs_exists(host_dir));
    free(host_dir);
    free(relay);
    free(store);
    free(ldap);
    free(passdb);
    free(want);
    free(slapd);

    if (geteuid() == 0) {
        if (site_tls_ensure(&site, st, NULL, NULL, &err) != 0)
            fail_msg("%s", buf_cstr(&err));
        char *ldapdb = xasprintf("%s/data/dir1/ldap", st);
        assert_int_equal(fs_mkdirs(ldapdb, 0700, &err), 0);
        free(ldapdb);
        /* The stores' dovecot.conf reads the pair's doveadm password. */
        if (replication_secret_ensure(st, &err) != 0)
            fail_msg("%s", buf_cstr(&err));
        char *pids = xasprintf("%s/run/dir1/slapd", st);     /* slaptest opens the pid file */
        assert_int_equal(fs_mkdirs(pids, 0755, &err), 0);
        free(pids);
        for (size_t i = 0; i < site.n_hosts; i++) {
            const struct site_host *h = &site.hosts[i];
            char *pf = xasprintf("%s/%s/postfix", etc, h->name);
            char *dc = xasprintf("%s/%s/dovecot/dovecot.conf", etc, h->name);
            char *sl = xasprintf("%s/%s/slapd/slapd.conf", etc, h->name);
            if (fs_exists(pf)) {
                const char *argv[] = {"postconf", "-c", pf, "-n", NULL};
                check_tool(argv, 1);
            }
            if (fs_exists(dc)) {
                const char *argv[] = {"doveconf", "-c", dc, "-n", NULL};
                check_tool(argv, 0);
            }
            if (fs_exists(sl)) {
                const char *argv[] = {"slaptest", "-u", "-f", sl, NULL};
                check_tool(argv, 0);
            }
            /* The firewall, checked by nft in an empty network namespace
             * (-c: parsed and validated by the kernel, never committed). */
            char *nft = xasprintf("%s/%s/nftables/emailng.nft", etc, h->name);
            assert_true(fs_exists(nft));
            const char *nft_argv[] = {"unshare", "--net", "nft", "-c", "-f", nft, NULL};
            check_tool(nft_argv, 0);
            free(nft);
            /* A relay's or proxy's drain table (deploy --upgrade). */
            char *drain = xasprintf("%s/%s/nftables/drain.nft", etc, h->name);
            assert_int_equal(fs_exists(drain), h->roles == ROLE_RELAY || h->roles == ROLE_PROXY);
            if (fs_exists(drain)) {
                const char *drain_argv[] = {"unshare", "--net", "nft", "-c", "-f", drain, NULL};
                check_tool(drain_argv, 0);
            }
            free(drain);
            char *ub = xasprintf("%s/%s/unbound/unbound.conf", etc, h->name);
            assert_int_equal(fs_exists(ub), h->roles == ROLE_RELAY);
            if (fs_exists(ub)) {
                /* Its working and pid file directories (resolver_prepare). */
                char *wd = xasprintf("%s/data/%s/unbound", st, h->name);
                char *rd = xasprintf("%s/run/%s/unbound", st, h->name);
                assert_int_equal(fs_mkdirs(wd, 0755, &err), 0);
                assert_int_equal(fs_mkdirs(rd, 0755, &err), 0);
                const char *argv[] = {"unbound-checkconf", ub, NULL};
                check_tool(argv, 0);
                free(wd);
                free(rd);
            }
            free(ub);
            free(pf);
            free(dc);
            free(sl);
        }
    } else {
        print_message("not root: the daemons' checkers were skipped\n");
    }
    assert_int_equal(fs_remove_tree(st, &err), 0);
    free(etc);
    buf_free(&err);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_substitution),
        cmocka_unit_test(test_unknown_placeholder_names_line),
        cmocka_unit_test(test_components_by_role),
        cmocka_unit_test(test_context_values),
        cmocka_unit_test(test_render_site_is_deterministic),
        cmocka_unit_test(test_network_context),
        cmocka_unit_test(test_ha_site_renders_per_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
