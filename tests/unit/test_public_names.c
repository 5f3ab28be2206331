/* Unit tests of public_names.c (who serves which public names, who orders
 * them, where they are kept) and of the placeholders render_public_tls.c
 * makes from them, on examples/ha-site.yaml and the small site. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "public_names.h"
#include "render.h"
#include "site.h"

static void load(const char *file, struct site *site)
{
    buf err = BUF_INIT;
    if (site_load(file, site, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    buf_free(&err);
}

static const struct site_host *host(const struct site *site, const char *name)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (strcmp(site->hosts[i].name, name) == 0)
            return &site->hosts[i];
    fail_msg("no host %s", name);
    return NULL;
}

static void assert_names(const struct site *site, const char *name, const char *expected)
{
    buf out = BUF_INIT;
    public_names_of_host(site, host(site, name), &out);
    assert_string_equal(buf_cstr(&out), expected);
    buf_free(&out);
}

static void assert_dir(const struct site *site, const char *name, const char *expected)
{
    char *dir = public_names_dir(site, host(site, name), "/s");
    assert_string_equal(dir, expected);
    free(dir);
}

static void test_full_topology_names(void **state)
{
    (void)state;
    struct site site;
    load(EMAILNG_DATADIR "/examples/ha-site.yaml", &site);
    /* Relays: their own MX/SRV target; proxies: tls.names; the rest none. */
    assert_names(&site, "relay1", "relay1.example.test\n");
    assert_names(&site, "relay2", "relay2.example.test\n");
    assert_names(&site, "proxy1", "mail.example.test\n");
    assert_names(&site, "proxy2", "mail.example.test\n");
    assert_names(&site, "store1", "");
    assert_names(&site, "dir1", "");
    buf all = BUF_INIT;
    public_names_all(&site, &all);
    assert_string_equal(buf_cstr(&all), "mail.example.test\nrelay1.example.test\nrelay2.example.test\n");
    buf_free(&all);
    /* Each relay orders its own; the first proxy orders for both. */
    assert_ptr_equal(public_names_orderer(&site, host(&site, "relay2")), host(&site, "relay2"));
    assert_ptr_equal(public_names_orderer(&site, host(&site, "proxy2")), host(&site, "proxy1"));
    assert_ptr_equal(public_names_orderer(&site, host(&site, "proxy1")), host(&site, "proxy1"));
    assert_null(public_names_orderer(&site, host(&site, "store1")));
    /* One folder for site-ca/files; one per certificate with acme. */
    assert_dir(&site, "relay1", "/s/tls/public");
    site.cert_source = CERT_SOURCE_FILES;
    assert_dir(&site, "proxy2", "/s/tls/public");
    site.cert_source = CERT_SOURCE_ACME;
    assert_dir(&site, "relay1", "/s/tls/public/relay1.example.test");
    assert_dir(&site, "proxy1", "/s/tls/public/mail.example.test");
    assert_dir(&site, "proxy2", "/s/tls/public/mail.example.test");
    site.cert_source = CERT_SOURCE_SITE_CA;
    site_free(&site);
}

static void test_small_site_names(void **state)
{
    (void)state;
    struct site site;
    load(EMAILNG_DATADIR "/examples/small-site.yaml", &site);
    buf out = BUF_INIT, all = BUF_INIT;
    public_names_of_host(&site, &site.hosts[0], &out);
    /* Only DNS names (no localhost, no addresses), as lego orders them. */
    assert_null(strstr(buf_cstr(&out), "localhost"));
    assert_null(strstr(buf_cstr(&out), "127.0.0.1"));
    assert_true(strncmp(buf_cstr(&out), site.tls_names[0], strlen(site.tls_names[0])) == 0);
    public_names_all(&site, &all);
    char *first = xasprintf("%s\n", site.tls_names[0]);
    assert_string_equal(buf_cstr(&all), first);
    free(first);
    assert_ptr_equal(public_names_orderer(&site, &site.hosts[0]), &site.hosts[0]);
    site.cert_source = CERT_SOURCE_ACME;
    char *dir = public_names_dir(&site, &site.hosts[0], "/s");
    assert_string_equal(dir, "/s/tls/public");
    free(dir);
    site.cert_source = CERT_SOURCE_SITE_CA;
    buf_free(&out);
    buf_free(&all);
    site_free(&site);
}

static const char *get(struct site *site, const char *name, const char *key, struct render_context *ctx)
{
    buf err = BUF_INIT;
    render_context_free(ctx);
    memset(ctx, 0, sizeof *ctx);
    if (render_context_for_host(site, host(site, name), "/s", ctx, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    buf_free(&err);
    return render_context_get(ctx, key);
}

static void test_rendered_placeholders(void **state)
{
    (void)state;
    struct site site;
    struct render_context ctx = {0};
    load(EMAILNG_DATADIR "/examples/ha-site.yaml", &site);
    /* site-ca: the host's own site-CA certificate everywhere; 80 closed. */
    assert_string_equal(get(&site, "proxy1", "tls_public_cert", &ctx), "/s/tls/proxy1/server.crt");
    assert_string_equal(get(&site, "relay2", "tls_public_key", &ctx), "/s/tls/relay2/server.key");
    assert_non_null(strstr(get(&site, "proxy1", "proxy_internal_tls", &ctx), "# (tls.source site-ca"));
    assert_null(strstr(get(&site, "proxy1", "proxy_internal_tls", &ctx), "remote"));
    assert_string_equal(get(&site, "relay1", "acme_http_rule", &ctx), "# Port 80: closed (tls.source is not acme).");
    /* files: the one installed copy; the relays still get the site CA. */
    site.cert_source = CERT_SOURCE_FILES;
    assert_string_equal(get(&site, "relay1", "tls_public_cert", &ctx), "/s/tls/public/fullchain.pem");
    const char *blocks = get(&site, "proxy2", "proxy_internal_tls", &ctx);
    assert_non_null(strstr(blocks, "\nremote 198.18.0.11 {\n  ssl_cert = </s/tls/proxy2/server.crt\n"
                                   "  ssl_key = </s/tls/proxy2/server.key\n}"));
    assert_non_null(strstr(blocks, "\nremote 198.18.0.12 {\n"));
    assert_null(strstr(get(&site, "relay1", "proxy_internal_tls", &ctx), "remote"));
    assert_string_equal(get(&site, "proxy1", "acme_http_rule", &ctx), "# Port 80: closed (tls.source is not acme).");
    /* acme: per-certificate folders; 80 on relays and proxies, lego's
     * port on the proxies for the other proxies; nothing on a store. */
    site.cert_source = CERT_SOURCE_ACME;
    assert_string_equal(get(&site, "proxy2", "tls_public_cert", &ctx), "/s/tls/public/mail.example.test/fullchain.pem");
    assert_string_equal(get(&site, "relay2", "tls_public_key", &ctx), "/s/tls/public/relay2.example.test/key.pem");
    const char *relay_rule = get(&site, "relay1", "acme_http_rule", &ctx);
    assert_non_null(strstr(relay_rule, "\n        tcp dport 80 accept"));
    assert_null(strstr(relay_rule, "8402"));
    const char *proxy_rule = get(&site, "proxy2", "acme_http_rule", &ctx);
    assert_non_null(strstr(proxy_rule, "\n        tcp dport 80 accept"));
    assert_non_null(strstr(proxy_rule, "ip saddr @proxies_v4 tcp dport 8402 accept"));
    assert_string_equal(get(&site, "store1", "acme_http_rule", &ctx), "# Port 80: closed (tls.source is not acme).");
    site.cert_source = CERT_SOURCE_SITE_CA;
    render_context_free(&ctx);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_topology_names),
        cmocka_unit_test(test_small_site_names),
        cmocka_unit_test(test_rendered_placeholders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
