/* Unit tests for src/lib/cert_check.c (cmocka): certificates made here with
 * OpenSSL (a CA, an intermediate, leaves valid now, expired, not yet
 * valid, for other names, and keys that do not match), written to a
 * temporary directory, then checked and installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert_check.h"
#include "fsutil.h"

#define DAY 86400L

static char root[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    strcpy(root, "/tmp/test_cert_check.XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_of(const char *name)
{
    return xasprintf("%s/%s", root, name);
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    return key;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for cn, valid from now+from to now+until (seconds),
 * signed by issuer/issuer_key (self-signed when issuer is NULL); san
 * (e.g. "DNS:a.test,IP:127.0.0.1") or NULL for a CA. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long from, long until,
                       const char *san)
{
    static long serial = 1;
    X509 *cert = X509_new();
    assert_non_null(cert);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert), from);
    X509_gmtime_adj(X509_getm_notAfter(cert), until);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(cert, key);
    if (san)
        add_ext(cert, issuer, NID_subject_alt_name, san);
    else
        add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
    assert_true(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
}

static char *write_cert(const char *name, X509 *a, X509 *b)
{
    char *path = path_of(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, a), 1);
    if (b)
        assert_int_equal(PEM_write_X509(f, b), 1);
    fclose(f);
    return path;
}

static char *write_key(const char *name, EVP_PKEY *key)
{
    char *path = path_of(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    return path;
}

/* The PKI of every test: root -> intermediate -> leaves. */
struct pki {
    EVP_PKEY *root_key, *inter_key;
    X509 *root, *inter;
    char *inter_path;
};

static void pki_init(struct pki *p)
{
    p->root_key = new_key();
    p->root = make_cert("Test Root", p->root_key, NULL, NULL, -DAY, 30 * DAY, NULL);
    p->inter_key = new_key();
    p->inter = make_cert("Test Intermediate", p->inter_key, p->root, p->root_key, -DAY, 30 * DAY, NULL);
    p->inter_path = write_cert("inter.pem", p->inter, NULL);
}

static void pki_free(struct pki *p)
{
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->inter_key);
    X509_free(p->root);
    X509_free(p->inter);
    free(p->inter_path);
}

/* A leaf signed by the intermediate, written as NAME.crt and NAME.key. */
static void leaf(struct pki *p, const char *name, long from, long until, const char *san, char **crt, char **key)
{
    EVP_PKEY *k = new_key();
    X509 *c = make_cert("mail.example.test", k, p->inter, p->inter_key, from, until, san);
    char *file = xasprintf("%s.crt", name);
    *crt = write_cert(file, c, NULL);
    free(file);
    file = xasprintf("%s.key", name);
    *key = write_key(file, k);
    free(file);
    X509_free(c);
    EVP_PKEY_free(k);
}

static void expect_refused(const char *crt, const char *key, const char *chain, const char *name,
                           const char *needle)
{
    buf err = BUF_INIT;
    assert_int_equal(cert_check(crt, key, chain, name, time(NULL), &err), -1);
    if (strstr(buf_cstr(&err), needle) == NULL)
        fail_msg("expected \"%s\" in: %s", needle, buf_cstr(&err));
    buf_free(&err);
}

static void test_good_chain_and_names(void **state)
{
    (void)state;
    struct pki p;
    pki_init(&p);
    char *crt, *key;
    leaf(&p, "good", -DAY, 20 * DAY, "DNS:mail.example.test,DNS:*.example.org,IP:127.0.0.1", &crt, &key);
    buf err = BUF_INIT;
    assert_int_equal(cert_check(crt, key, p.inter_path, "mail.example.test", time(NULL), &err), 0);
    assert_int_equal(cert_check(crt, key, NULL, "MAIL.example.test", time(NULL), &err), 0);
    assert_int_equal(cert_check(crt, key, NULL, "imap.example.org", time(NULL), &err), 0);  /* wildcard */
    assert_int_equal(cert_check(crt, key, NULL, "127.0.0.1", time(NULL), &err), 0);
    assert_string_equal(buf_cstr(&err), "");
    /* Names it does not cover. */
    expect_refused(crt, key, NULL, "imap.example.test", "does not cover imap.example.test");
    expect_refused(crt, key, NULL, "a.b.example.org", "does not cover a.b.example.org");  /* one label only */
    expect_refused(crt, key, NULL, "127.0.0.2", "does not cover 127.0.0.2");
    free(crt);
    free(key);
    pki_free(&p);
}

static void test_key_must_match(void **state)
{
    (void)state;
    struct pki p;
    pki_init(&p);
    char *crt_a, *key_a, *crt_b, *key_b;
    leaf(&p, "a", -DAY, 20 * DAY, "DNS:mail.example.test", &crt_a, &key_a);
    leaf(&p, "b", -DAY, 20 * DAY, "DNS:mail.example.test", &crt_b, &key_b);
    expect_refused(crt_a, key_b, NULL, "mail.example.test", "b.key: the key does not match the certificate");
    /* A certificate file where the key should be. */
    expect_refused(crt_a, crt_b, NULL, "mail.example.test", "b.crt: holds no unencrypted PEM private key");
    free(crt_a);
    free(key_a);
    free(crt_b);
    free(key_b);
    pki_free(&p);
}

static void test_validity_period(void **state)
{
    (void)state;
    struct pki p;
    pki_init(&p);
    char *crt, *key;
    leaf(&p, "expired", -30 * DAY, -DAY, "DNS:mail.example.test", &crt, &key);
    expect_refused(crt, key, NULL, "mail.example.test", "expired.crt: the certificate has expired (valid until ");
    free(crt);
    free(key);
    leaf(&p, "future", DAY, 30 * DAY, "DNS:mail.example.test", &crt, &key);
    expect_refused(crt, key, NULL, "mail.example.test", "future.crt: the certificate is not valid yet");
    /* ... and good at a time inside its period. */
    buf err = BUF_INIT;
    assert_int_equal(cert_check(crt, key, NULL, "mail.example.test", time(NULL) + 2 * DAY, &err), 0);
    long long left = 0;
    assert_int_equal(cert_seconds_left(crt, time(NULL), &left, &err), 0);
    assert_true(left > 29 * DAY && left <= 30 * DAY);
    buf_free(&err);
    free(crt);
    free(key);
    pki_free(&p);
}

static void test_missing_files_and_wrong_chain(void **state)
{
    (void)state;
    struct pki p;
    pki_init(&p);
    char *crt, *key;
    leaf(&p, "leaf", -DAY, 20 * DAY, "DNS:mail.example.test", &crt, &key);
    char *missing = path_of("missing.pem");
    expect_refused(missing, key, NULL, "mail.example.test", "missing.pem: cannot read the file");
    expect_refused(crt, missing, NULL, "mail.example.test", "missing.pem: cannot read the file");
    expect_refused(crt, key, missing, "mail.example.test", "missing.pem: cannot read the file");
    /* A chain that did not issue the leaf: the root alone. */
    char *root_only = write_cert("root.pem", p.root, NULL);
    expect_refused(crt, key, root_only, "mail.example.test", "root.pem: no certificate in the chain issued");
    /* Not PEM at all. */
    char *junk = path_of("junk.pem");
    buf err = BUF_INIT;
    assert_int_equal(fs_write_file(junk, "hello\n", 6, 0644, &err), 0);
    expect_refused(junk, key, NULL, "mail.example.test", "junk.pem: holds no PEM certificate");
    buf_free(&err);
    free(junk);
    free(root_only);
    free(missing);
    free(crt);
    free(key);
    pki_free(&p);
}

static void test_install_copies_as_is(void **state)
{
    (void)state;
    struct pki p;
    pki_init(&p);
    char *crt, *key;
    leaf(&p, "inst", -DAY, 20 * DAY, "DNS:mail.example.test", &crt, &key);
    char *dir = path_of("public");
    buf err = BUF_INIT, a = BUF_INIT, b = BUF_INIT, full = BUF_INIT;
    int changed = 0;
    assert_int_equal(cert_install(crt, key, p.inter_path, dir, &changed, &err), 0);
    assert_int_equal(changed, 1);
    /* fullchain.pem = the certificate's bytes, then the chain's. */
    char *full_path = xasprintf("%s/fullchain.pem", dir), *key_path = xasprintf("%s/key.pem", dir);
    assert_int_equal(fs_read_file(crt, 65536, &a, &err), 0);
    assert_int_equal(fs_read_file(p.inter_path, 65536, &a, &err), 0);
    assert_int_equal(fs_read_file(full_path, 65536, &full, &err), 0);
    assert_int_equal(full.len, a.len);
    assert_memory_equal(full.data, a.data, a.len);
    assert_int_equal(fs_read_file(key, 65536, &b, &err), 0);
    buf_reset(&a);
    assert_int_equal(fs_read_file(key_path, 65536, &a, &err), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, b.len);
    struct stat st;
    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* The installed pair passes the same checks. */
    assert_int_equal(cert_check(full_path, key_path, NULL, "mail.example.test", time(NULL), &err), 0);
    /* Again with the same files: nothing written. */
    changed = 0;
    assert_int_equal(cert_install(crt, key, p.inter_path, dir, &changed, &err), 0);
    assert_int_equal(changed, 0);
    buf_free(&err);
    buf_free(&a);
    buf_free(&b);
    buf_free(&full);
    free(full_path);
    free(key_path);
    free(dir);
    free(crt);
    free(key);
    pki_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_chain_and_names),
        cmocka_unit_test(test_key_must_match),
        cmocka_unit_test(test_validity_period),
        cmocka_unit_test(test_missing_files_and_wrong_chain),
        cmocka_unit_test(test_install_copies_as_is),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
