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
#include "render.h"

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
    c = render_components(ROLE_DIRECTORY);
    assert_string_equal(c[0], "slapd");
    assert_null(c[1]);
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
    assert_string_equal(render_context_get(&ctx, "port_policyd"), "10040");
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
    render_context_free(&ctx);
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

static void test_multi_host_refused_clearly(void **state)
{
    (void)state;
    struct site site;
    site_default(&site);
    site.hosts[0].roles = ROLE_RELAY;
    buf err = BUF_INIT;
    assert_int_equal(render_site(&site, EMAILNG_DATADIR "/templates", "/var/lib/emailng", "/tmp/unused", &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "host \"mail\" has the roles relay"));
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
        cmocka_unit_test(test_multi_host_refused_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
