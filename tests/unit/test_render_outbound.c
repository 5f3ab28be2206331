/* Unit tests for the SRS and outbound TLS placeholders (render_outbound.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "render.h"
#include "render_outbound.h"
#include "site.h"

static const char *const two_domains =
    "domains: [example.test, other-site.test]\n"
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

static void render(const struct site *site, const char *host_name, struct render_context *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    for (size_t i = 0; i < site->n_hosts; i++)
        if (strcmp(site->hosts[i].name, host_name) == 0) {
            render_context_set(ctx, "etc_dir", "/s/etc/h");
            render_context_set(ctx, "run_dir", "/s/run/h");
            render_outbound_context(site, &site->hosts[i], ctx);
            return;
        }
    fail_msg("no host %s", host_name);
}

static const struct site_host *host_named(const struct site *site, const char *name)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (strcmp(site->hosts[i].name, name) == 0)
            return &site->hosts[i];
    fail_msg("no host %s", name);
    return NULL;
}

/* Our domains, escaped for a POSIX ERE, decide what is forwarded mail;
 * postsrsd excludes every domain but the primary (its own). */
static void test_srs_domains(void **state)
{
    (void)state;
    struct site site;
    struct render_context ctx;
    load(two_domains, "", &site);
    render(&site, "mail", &ctx);
    assert_string_equal(render_context_get(&ctx, "srs_domains_regexp"), "example\\.test|other-site\\.test");
    assert_string_equal(render_context_get(&ctx, "srs_exclude_domains"), "other-site.test");
    const char *main_cf = render_context_get(&ctx, "postfix_srs_main");
    assert_non_null(strstr(main_cf, "sender_dependent_default_transport_maps = regexp:/s/etc/h/postfix/srs-senders"));
    assert_non_null(strstr(main_cf, "pipemap:{regexp:/s/etc/h/postfix/srs-recipients, tcp:127.0.0.1:10002}"));
    const char *master_cf = render_context_get(&ctx, "postfix_srs_master");
    assert_non_null(strstr(master_cf, "127.0.0.1:10029 inet"));
    /* the srs client comes from loopback, whatever the host's address */
    assert_non_null(strstr(master_cf, "-o smtp_bind_address=127.0.0.1\n"));
    assert_non_null(strstr(master_cf, "sender_canonical_maps=tcp:127.0.0.1:10001"));
    assert_non_null(strstr(master_cf, "sender_canonical_classes=envelope_sender"));
    /* the one-host site's loopback listener for Dovecot's redirects */
    assert_non_null(strstr(render_context_get(&ctx, "postfix_local_reinject"), "127.0.0.1:10028 inet"));
    render_context_free(&ctx);
    site_free(&site);
}

static void test_srs_disabled(void **state)
{
    (void)state;
    struct site site;
    struct render_context ctx;
    load(two_domains, "srs: {enabled: false}\n", &site);
    render(&site, "mail", &ctx);
    assert_int_equal(render_context_get(&ctx, "postfix_srs_main")[0], '#');
    assert_int_equal(render_context_get(&ctx, "postfix_srs_master")[0], '#');
    render_context_free(&ctx);
    site_free(&site);
}

/* may on the small site (system resolver), dane on a relay with its own
 * unbound; an explicit outbound.tls wins; MTA-STS only on relays. */
static void test_tls_levels(void **state)
{
    (void)state;
    struct site site;
    struct render_context ctx;
    load(two_domains, "", &site);
    render(&site, "mail", &ctx);
    const char *tls = render_context_get(&ctx, "postfix_outbound_tls");
    assert_non_null(strstr(tls, "smtp_tls_security_level = may"));
    assert_null(strstr(tls, "dnssec"));
    assert_non_null(strstr(tls, "smtp_tls_policy_maps = socketmap:unix:/s/run/h/mta-sts/socket:postfix"));
    render_context_free(&ctx);
    site_free(&site);

    load(two_domains, "outbound: {tls: dane, mta_sts: false}\n", &site);
    render(&site, "mail", &ctx);
    tls = render_context_get(&ctx, "postfix_outbound_tls");
    assert_string_equal(tls, "smtp_dns_support_level = dnssec\nsmtp_tls_security_level = dane");
    render_context_free(&ctx);
    site_free(&site);

    load(ha, "", &site);
    render(&site, "relay1", &ctx);
    assert_non_null(strstr(render_context_get(&ctx, "postfix_outbound_tls"), "smtp_tls_security_level = dane"));
    /* DANE and MTA-STS: emailng-tlspolicy in front of mta-sts-daemon */
    assert_non_null(strstr(render_context_get(&ctx, "postfix_outbound_tls"),
                           "smtp_tls_policy_maps = socketmap:unix:/s/run/h/tlspolicy/socket:postfix"));
    assert_int_equal(render_outbound_tlspolicy(&site, host_named(&site, "relay1")), 1);
    assert_int_equal(render_context_get(&ctx, "postfix_local_reinject")[0], '#');
    render_context_free(&ctx);
    render(&site, "store1", &ctx);
    assert_null(strstr(render_context_get(&ctx, "postfix_outbound_tls"), "mta-sts"));
    render_context_free(&ctx);
    site_free(&site);

    load(ha, "outbound: {tls: may}\n", &site);
    render(&site, "relay1", &ctx);
    assert_non_null(strstr(render_context_get(&ctx, "postfix_outbound_tls"), "smtp_tls_security_level = may"));
    /* no DANE: mta-sts-daemon asked directly, emailng-tlspolicy not run */
    assert_non_null(strstr(render_context_get(&ctx, "postfix_outbound_tls"), "/s/run/h/mta-sts/socket:postfix"));
    assert_int_equal(render_outbound_tlspolicy(&site, host_named(&site, "relay1")), 0);
    render_context_free(&ctx);
    site_free(&site);

    load(two_domains, "outbound: {tls: dane}\n", &site);
    render(&site, "mail", &ctx);
    assert_non_null(strstr(render_context_get(&ctx, "postfix_outbound_tls"), "/s/run/h/tlspolicy/socket:postfix"));
    render_context_free(&ctx);
    site_free(&site);

    load(ha, "outbound: {mta_sts: false}\n", &site);
    assert_int_equal(render_outbound_tlspolicy(&site, host_named(&site, "relay1")), 0);
    assert_int_equal(render_outbound_tlspolicy(&site, host_named(&site, "store1")), 0);
    render_context_free(&ctx);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srs_domains),
        cmocka_unit_test(test_srs_disabled),
        cmocka_unit_test(test_tls_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
