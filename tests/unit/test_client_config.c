/* Unit tests of client_config.c: what the clients' auto-configuration
 * names on each kind of site, where nginx listens, and which names the
 * site CA's certificate covers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_config.h"
#include "render.h"
#include "site.h"

/* Two domains, two relays (one IPv6), two proxies (one IPv6), a store pair, a directory. */
static const char *const full =
    "site: {name: t}\n"
    "domains: [example.test, other.example]\n"
    "directory: {base: \"dc=example,dc=test\"}\n"
    "hosts:\n"
    "  - {name: relay1, address: 198.18.0.11, roles: [relay]}\n"
    "  - {name: relay2, address: \"2001:db8::12\", roles: [relay]}\n"
    "  - {name: proxy1, address: 198.18.0.21, roles: [proxy]}\n"
    "  - {name: proxy2, address: \"2001:db8::22\", roles: [proxy]}\n"
    "  - {name: store1, address: 198.18.0.31, roles: [store], store_pair: pair1}\n"
    "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: pair1}\n"
    "  - {name: dir1, address: 198.18.0.41, roles: [directory]}\n"
    "tls: {names: [Mail.Example.Test]}\n";

static void load(const char *text, struct site *site)
{
    buf errors = BUF_INIT;
    if (site_parse(text, strlen(text), "site.yaml", site, &errors) != 0)
        fail_msg("site did not load:\n%s", buf_cstr(&errors));
    buf_free(&errors);
}

static void context(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    render_context_set(ctx, "data_dir", "/s/data/h");
    client_config_context(site, host, ctx);
}

static void test_small_site(void **state)
{
    (void)state;
    struct site site;
    site_default(&site);
    struct render_context ctx = {0};
    context(&site, &site.hosts[0], &ctx);
    assert_string_equal(render_context_get(&ctx, "client_imap_host"), "mail.example.test");
    assert_string_equal(render_context_get(&ctx, "client_smtp_host"), "mail.example.test");
    assert_string_equal(render_context_get(&ctx, "client_tb_domains"), "    <domain>example.test</domain>");
    assert_string_equal(render_context_get(&ctx, "nginx_listen_https"), "127.0.0.1:443");
    assert_non_null(strstr(render_context_get(&ctx, "nginx_http_server"), "listen 127.0.0.1:80 default_server;"));
    assert_non_null(strstr(render_context_get(&ctx, "nginx_http_server"), "root /s/data/h/acme-webroot;"));
    assert_string_equal(render_context_get(&ctx, "mta_sts_policy"),
                        "version: STSv1\r\nmode: testing\r\nmx: mail.example.test\r\nmax_age: 604800\r\n");
    /* The .mobileconfig's identifiers: a reverse DNS name and UUIDs that
     * stay the same for the same site. */
    assert_string_equal(render_context_get(&ctx, "client_profile_id"), "test.example.emailng-mail");
    const char *uuid = render_context_get(&ctx, "client_uuid_profile");
    assert_int_equal(strlen(uuid), 36);
    assert_int_equal(uuid[14], '5');
    assert_string_not_equal(uuid, render_context_get(&ctx, "client_uuid_account"));
    struct render_context again = {0};
    context(&site, &site.hosts[0], &again);
    assert_string_equal(uuid, render_context_get(&again, "client_uuid_profile"));
    render_context_free(&again);
    assert_true(client_config_serves_http(&site));
    render_context_free(&ctx);
    site_free(&site);
}

/* Several hosts: IMAP at the public name, submission at every relay by
 * its own name, IPv6 listen addresses in brackets. */
static void test_full_topology(void **state)
{
    (void)state;
    struct site site;
    load(full, &site);
    struct render_context ctx = {0};
    context(&site, &site.hosts[3], &ctx);
    assert_string_equal(render_context_get(&ctx, "client_imap_host"), "mail.example.test");
    assert_string_equal(render_context_get(&ctx, "client_smtp_host"), "relay1.example.test");
    assert_string_equal(render_context_get(&ctx, "client_tb_domains"),
                        "    <domain>example.test</domain>\n    <domain>other.example</domain>");
    const char *out = render_context_get(&ctx, "client_tb_outgoing");
    const char *r1_465 = strstr(out, "<hostname>relay1.example.test</hostname>\n      <port>465</port>");
    const char *r2_465 = strstr(out, "<hostname>relay2.example.test</hostname>\n      <port>465</port>");
    const char *r1_587 = strstr(out, "<hostname>relay1.example.test</hostname>\n      <port>587</port>");
    assert_true(r1_465 && r2_465 && r1_587 && r1_465 < r2_465 && r2_465 < r1_587);
    assert_string_equal(render_context_get(&ctx, "nginx_listen_https"), "[2001:db8::22]:443");
    assert_non_null(strstr(render_context_get(&ctx, "nginx_redirect_hosts"),
                           "        autoconfig.other.example autoconfig.other.example;\n"));
    render_context_free(&ctx);
    site_free(&site);
}

/* tls.source acme on several hosts: port 80 is the ACME forwarder's. */
static void test_acme_on_several_hosts_leaves_port_80(void **state)
{
    (void)state;
    struct site site;
    buf text = BUF_INIT;
    buf_printf(&text, "%s", full);
    text.len -= strlen("tls: {names: [Mail.Example.Test]}\n");
    text.data[text.len] = '\0';
    buf_append_str(&text, "tls:\n  names: [mail.example.test]\n  source: acme\n"
                          "  acme: {directory: \"https://acme.example/dir\", email: a@example.test}\n");
    load(buf_cstr(&text), &site);
    assert_false(client_config_serves_http(&site));
    struct render_context ctx = {0};
    context(&site, &site.hosts[2], &ctx);
    assert_null(strstr(render_context_get(&ctx, "nginx_http_server"), "listen"));
    assert_null(strstr(render_context_get(&ctx, "webserver_http_rule"), "accept"));
    render_context_free(&ctx);
    site_free(&site);
    buf_free(&text);
}

static void test_names(void **state)
{
    (void)state;
    struct site site;
    load(full, &site);
    buf names = BUF_INIT;
    client_config_names(&site, &names);
    assert_string_equal(buf_cstr(&names), "autoconfig.example.test\nautodiscover.example.test\n"
                                          "mta-sts.example.test\nautoconfig.other.example\n"
                                          "autodiscover.other.example\nmta-sts.other.example\n");
    buf_free(&names);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_site),
        cmocka_unit_test(test_full_topology),
        cmocka_unit_test(test_acme_on_several_hosts_leaves_port_80),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
