/* Unit tests for src/lib/ldap_escape.c (cmocka): hostile values must come
 * back unchanged through libldap's own DN parser, and filter values must
 * contain no live filter syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ldap.h>

#include "ldap_escape.h"

static const char *hostile[] = {
    "*)(uid=*", "a,dc=x", "\\", " leading space", "#leading hash",
    "trailing space ", "a+b", "a=b", "<>;\"", "line\nbreak", "tab\there",
    "*", "(", ")", "\\2a", "caf\xc3\xa9", "\xff\xfe invalid utf-8",
    "a, b", "mail=x,ou=users,dc=example,dc=test", "  ", "#", "",
};

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
        || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

/* RFC 4515: the only escape is \hh; '*', '(', ')' and '\' never appear raw.
 * Decoding the escapes must give back the value. */
static void check_filter(const char *value)
{
    buf esc = BUF_INIT, decoded = BUF_INIT;
    ldap_escape_filter(&esc, value);
    const char *p = buf_cstr(&esc);
    for (size_t i = 0; p[i]; i++) {
        assert_true(p[i] != '*' && p[i] != '(' && p[i] != ')');
        assert_true((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f);
        if (p[i] == '\\') {
            assert_true(is_hex(p[i + 1]) && is_hex(p[i + 2]));
            buf_append_char(&decoded,
                            (char)(hex_value(p[i + 1]) * 16 + hex_value(p[i + 2])));
            i += 2;
        } else {
            buf_append_char(&decoded, p[i]);
        }
    }
    assert_int_equal(decoded.len, strlen(value));
    assert_memory_equal(buf_cstr(&decoded), value, decoded.len);
    buf_free(&esc);
    buf_free(&decoded);
}

/* The escaped value inside a full DN must parse as exactly one AVA of the
 * first RDN, with the original value; the rest of the DN must be intact. */
static void check_dn(const char *value)
{
    buf dn = BUF_INIT;
    LDAPDN parsed = NULL;

    buf_append_str(&dn, "mail=");
    ldap_escape_dn_value(&dn, value);
    for (const char *p = buf_cstr(&dn); *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f);
    buf_append_str(&dn, ",ou=users,dc=example,dc=test");

    int rc = ldap_str2dn(buf_cstr(&dn), &parsed, LDAP_DN_FORMAT_LDAPV3);
    if (value[0] == '\0') {
        /* an empty value is legal in RFC 4514 syntax */
        assert_int_equal(rc, LDAP_SUCCESS);
    } else if (rc != LDAP_SUCCESS) {
        fail_msg("DN \"%s\" does not parse: %s", buf_cstr(&dn),
                 ldap_err2string(rc));
    }
    size_t n_rdns = 0;
    while (parsed[n_rdns])
        n_rdns++;
    assert_int_equal(n_rdns, 4);
    assert_non_null(parsed[0][0]);
    assert_null(parsed[0][1]);                   /* no '+' split */
    LDAPAVA *ava = parsed[0][0];
    assert_int_equal(ava->la_attr.bv_len, 4);
    assert_memory_equal(ava->la_attr.bv_val, "mail", 4);
    assert_int_equal(ava->la_value.bv_len, strlen(value));
    if (ava->la_value.bv_len)
        assert_memory_equal(ava->la_value.bv_val, value, strlen(value));
    assert_memory_equal(parsed[1][0]->la_value.bv_val, "users", 5);
    ldap_dnfree(parsed);
    buf_free(&dn);
}

static void test_filter_hostile(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        check_filter(hostile[i]);
}

static void test_filter_exact(void **state)
{
    (void)state;
    buf esc = BUF_INIT;
    ldap_escape_filter(&esc, "*)(uid=*");
    assert_string_equal(buf_cstr(&esc), "\\2A\\29\\28uid=\\2A");
    buf_reset(&esc);
    ldap_escape_filter(&esc, "a\\b");
    assert_string_equal(buf_cstr(&esc), "a\\5Cb");
    buf_reset(&esc);
    buf_append_str(&esc, "(mail=");              /* appends, keeps prefix */
    ldap_escape_filter(&esc, "alice@example.test");
    buf_append_char(&esc, ')');
    assert_string_equal(buf_cstr(&esc), "(mail=alice@example.test)");
    buf_free(&esc);
}

static void test_dn_hostile(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        check_dn(hostile[i]);
}

static void test_dn_exact(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        {"alice@example.test", "alice@example.test"},
        {"a,dc=x", "a\\2Cdc\\3Dx"},
        {" lead", "\\20lead"},
        {"#x", "\\23x"},
        {"trail ", "trail\\20"},
        {"a+b", "a\\2Bb"},
        {"<>;\"", "\\3C\\3E\\3B\\22"},
        {"\\", "\\5C"},
        {"line\nbreak", "line\\0abreak"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf esc = BUF_INIT;
        ldap_escape_dn_value(&esc, cases[i].in);
        assert_string_equal(buf_cstr(&esc), cases[i].out);
        buf_free(&esc);
    }
}

static void test_binary_and_long(void **state)
{
    (void)state;
    char binary[256];
    for (int i = 1; i < 256; i++)
        binary[i - 1] = (char)i;
    binary[255] = '\0';
    check_filter(binary);
    check_dn(binary);

    char *long_value = malloc(301);
    assert_non_null(long_value);
    for (int i = 0; i < 300; i++)
        long_value[i] = "a,+=*()\\ #"[i % 10];
    long_value[300] = '\0';
    check_filter(long_value);
    check_dn(long_value);
    free(long_value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_hostile),
        cmocka_unit_test(test_filter_exact),
        cmocka_unit_test(test_dn_hostile),
        cmocka_unit_test(test_dn_exact),
        cmocka_unit_test(test_binary_and_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
