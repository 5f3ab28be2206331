/* Unit tests for src/lib/dkim.c: selector names, the selectors file, keys
 * and the record text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dkim.h"
#include "fsutil.h"

static void test_selector_valid(void **state)
{
    (void)state;
    assert_true(dkim_selector_valid("s20261207"));
    assert_true(dkim_selector_valid("s20261207-2"));
    assert_true(dkim_selector_valid("a"));
    char max[DKIM_SELECTOR_MAX + 2];
    memset(max, 'a', DKIM_SELECTOR_MAX);
    max[DKIM_SELECTOR_MAX] = '\0';
    assert_true(dkim_selector_valid(max));
    max[DKIM_SELECTOR_MAX] = 'a';
    max[DKIM_SELECTOR_MAX + 1] = '\0';
    assert_false(dkim_selector_valid(max));       /* longer than a DNS label */
    static const char *const hostile[] = {"", "-a", "a-", "A1", "a.b", "a/b", "../x", "a;b", "a b", "a\nb",
                                          "a\"b", "s\xc3\xa9", "a_b", NULL};
    for (const char *const *h = hostile; *h; h++)
        assert_false(dkim_selector_valid(*h));
}

static void test_new_name_avoids_taken_ones(void **state)
{
    (void)state;
    struct dkim_domain d = {0};
    buf err = BUF_INIT, name = BUF_INIT;
    d.domain = strdup("example.test");
    long long t = 1796616921;     /* 2026-12-07 UTC */
    dkim_selector_new_name(&d, t, &name);
    assert_string_equal(buf_cstr(&name), "s20261207");
    assert_int_equal(dkim_domain_parse("s20261207 active 1\ns20261207-2 retiring 2\n", "f", &d, &err), 0);
    dkim_selector_new_name(&d, t, &name);
    assert_string_equal(buf_cstr(&name), "s20261207-3");
    dkim_domain_free(&d);
    buf_free(&name);
    buf_free(&err);
}

static void test_selectors_file_round_trip(void **state)
{
    (void)state;
    struct dkim_domain d = {0}, again = {0};
    buf err = BUF_INIT, text = BUF_INIT;
    d.domain = strdup("example.test");
    again.domain = strdup("example.test");
    assert_int_equal(dkim_domain_parse("# comment\n\ns1 retiring 10\ns2 active 20\n  \ns3 pending 30\n", "f", &d,
                                       &err), 0);
    assert_int_equal(d.n_selectors, 3);
    assert_string_equal(dkim_find_state(&d, DKIM_ACTIVE)->name, "s2");
    assert_string_equal(dkim_find_state(&d, DKIM_PENDING)->name, "s3");
    assert_int_equal(dkim_find(&d, "s1")->since, 10);
    assert_null(dkim_find(&d, "s4"));
    dkim_domain_format(&d, &text);
    assert_int_equal(dkim_domain_parse(buf_cstr(&text), "f", &again, &err), 0);
    assert_int_equal(again.n_selectors, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(again.selectors[i].name, d.selectors[i].name);
        assert_int_equal(again.selectors[i].state, d.selectors[i].state);
        assert_int_equal(again.selectors[i].since, d.selectors[i].since);
    }
    dkim_domain_free(&d);
    dkim_domain_free(&again);
    buf_free(&text);
    buf_free(&err);
}

/* A broken selectors file is an error naming FILE:LINE, never half-read. */
static void test_selectors_file_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"s1 active\n", "F:1: expected \"SELECTOR STATE SINCE\""},
        {"s1 active 1 extra\n", "F:1: expected \"SELECTOR STATE SINCE\""},
        {"\n../x active 1\n", "F:2: \"../x\" is not a selector"},
        {"s1 live 1\n", "F:1: \"live\" is not a state"},
        {"s1 active -5\n", "F:1: \"-5\" is not a time"},
        {"s1 active 12x\n", "F:1: \"12x\" is not a time"},
        {"s1 active 1\ns1 retiring 2\n", "F:2: selector s1 listed twice"},
        {"s1 active 1\ns2 active 2\n", "F:2: a second active selector (s2)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dkim_domain d = {0};
        buf err = BUF_INIT;
        d.domain = strdup("example.test");
        assert_int_equal(dkim_domain_parse(cases[i].text, "F", &d, &err), -1);
        if (strncmp(buf_cstr(&err), cases[i].message, strlen(cases[i].message)) != 0)
            fail_msg("case %zu: got \"%s\"", i, buf_cstr(&err));
        dkim_domain_free(&d);
        buf_free(&err);
    }
}

static void test_hostile_domain_never_reaches_the_file_system(void **state)
{
    (void)state;
    static const char *const hostile[] = {"../etc", "a/b", ".example", "example..test", "example.test.", "",
                                          "Example.test", "a b", NULL};
    for (const char *const *h = hostile; *h; h++) {
        struct dkim_domain d;
        buf err = BUF_INIT;
        assert_int_equal(dkim_domain_load("/nonexistent", *h, &d, &err), -1);
        assert_non_null(strstr(buf_cstr(&err), "is not a domain name"));
        dkim_domain_free(&d);
        buf_free(&err);
    }
}

/* Keys: RSA 2048 made once (never replaced), 0600; the record's p= is the
 * key's SubjectPublicKeyInfo; keys_ensure makes one active selector per
 * domain once, none when signing is off. */
static void test_keys_and_records(void **state)
{
    (void)state;
    char dir[] = "/tmp/emailng-test-dkim-XXXXXX";
    assert_non_null(mkdtemp(dir));
    buf err = BUF_INIT, b64 = BUF_INIT, text = BUF_INIT;
    struct site site;
    site_default(&site);
    int made = -1;

    site.dkim.enabled = 0;
    assert_int_equal(dkim_keys_ensure(&site, dir, &made, &err), 0);
    assert_int_equal(made, 0);
    char *secrets = xasprintf("%s/secrets", dir);
    assert_false(fs_exists(secrets));

    site.dkim.enabled = 1;
    assert_int_equal(dkim_keys_ensure(&site, dir, &made, &err), 0);
    assert_int_equal(made, 1);
    assert_int_equal(dkim_keys_ensure(&site, dir, &made, &err), 0);
    assert_int_equal(made, 0);                    /* there: nothing made again */
    struct dkim_domain d;
    assert_int_equal(dkim_domain_load(dir, "example.test", &d, &err), 0);
    assert_int_equal(d.n_selectors, 1);
    assert_int_equal(d.selectors[0].state, DKIM_ACTIVE);
    char *path = dkim_key_path(dir, "example.test", d.selectors[0].name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(secrets, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(dkim_key_generate(path, &err), -1);     /* never replaced */
    assert_non_null(strstr(buf_cstr(&err), "exists already"));

    assert_int_equal(dkim_public_key(path, &b64, &err), 0);
    /* SPKI of a 2048-bit RSA key: 294 bytes, 392 base64 characters. */
    assert_int_equal(b64.len, 392);
    assert_true(strncmp(buf_cstr(&b64), "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 44) == 0);
    dkim_record_text(buf_cstr(&b64), &text);
    assert_true(strncmp(buf_cstr(&text), "v=DKIM1; k=rsa; p=MIIB", 22) == 0);
    char *rname = dkim_record_name("s1", "example.test");
    assert_string_equal(rname, "s1._domainkey.example.test");

    /* A second selector, pending, gets its own new key. */
    buf name = BUF_INIT, b64b = BUF_INIT;
    assert_int_equal(dkim_selector_add(dir, &d, "../x", DKIM_PENDING, 1796616921, &name, &err), -1);
    assert_int_equal(dkim_selector_add(dir, &d, d.selectors[0].name, DKIM_PENDING, 1796616921, &name, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "exists already"));
    assert_int_equal(dkim_selector_add(dir, &d, NULL, DKIM_PENDING, 1796616921, &name, &err), 0);
    char *path2 = dkim_key_path(dir, "example.test", buf_cstr(&name));
    assert_int_equal(dkim_public_key(path2, &b64b, &err), 0);
    assert_string_not_equal(buf_cstr(&b64), buf_cstr(&b64b));
    struct dkim_domain again;
    assert_int_equal(dkim_domain_load(dir, "example.test", &again, &err), 0);
    assert_int_equal(again.n_selectors, 2);
    assert_int_equal(dkim_find(&again, buf_cstr(&name))->state, DKIM_PENDING);

    /* Not a key: an error naming the file. */
    assert_int_equal(fs_write_file(path2, "junk\n", 5, 0600, &err), 0);
    buf_reset(&err);
    assert_int_equal(dkim_public_key(path2, &b64b, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "not a PEM private key"));

    dkim_domain_free(&d);
    dkim_domain_free(&again);
    free(rname);
    free(path);
    free(path2);
    free(secrets);
    buf_free(&name);
    buf_free(&b64b);
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    buf_free(&err);
    buf_free(&b64);
    buf_free(&text);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selector_valid),
        cmocka_unit_test(test_new_name_avoids_taken_ones),
        cmocka_unit_test(test_selectors_file_round_trip),
        cmocka_unit_test(test_selectors_file_errors),
        cmocka_unit_test(test_hostile_domain_never_reaches_the_file_system),
        cmocka_unit_test(test_keys_and_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
