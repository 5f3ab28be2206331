/* Unit tests for src/lib/tls.c (cmocka): a real CA and server certificate
 * in a temporary directory, verified with OpenSSL's own chain check. */
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
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "site.h"
#include "site_tls.h"
#include "tls.h"

static const char *const names[] = {"mail.example.test", "imap.example.test",
                                    "127.0.0.1", "::1"};
#define N_NAMES (sizeof names / sizeof names[0])
/* What the CA may vouch for (site_tls_permitted of the small site). */
static const char *const permitted[] = {"example.test", "127.0.0.1", "::1", "198.18.0.31"};
#define N_PERMITTED (sizeof permitted / sizeof permitted[0])

struct tls_dir {
    char root[64];
    char *dir;                                  /* root/tls, made by tls_ensure */
};

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct tls_dir *t = calloc(1, sizeof *t);
    strcpy(t->root, "/tmp/emailng-test-tls-XXXXXX");
    if (mkdtemp(t->root) == NULL)
        return -1;
    t->dir = xasprintf("%s/tls", t->root);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tls_dir *t = *state;
    nftw(t->root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(t->dir);
    free(t);
    return 0;
}

static char *path_in(const struct tls_dir *t, const char *file)
{
    return xasprintf("%s/%s", t->dir, file);
}

static X509 *read_cert(const struct tls_dir *t, const char *file)
{
    char *path = path_in(t, file);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    X509 *cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    free(path);
    assert_non_null(cert);
    return cert;
}

static void read_file(const struct tls_dir *t, const char *file, buf *out,
                      struct stat *st)
{
    char *path = path_in(t, file);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fstat(fileno(fp), st), 0);
    buf_reset(out);
    int c;
    while ((c = getc(fp)) != EOF)
        buf_append_char(out, (char)c);
    fclose(fp);
    free(path);
}

static void ensure_ok(const struct tls_dir *t, const char *const *n, size_t count)
{
    buf err = BUF_INIT;
    if (tls_ensure(t->dir, n, count, permitted, N_PERMITTED, NULL, &err) != 0)
        fail_msg("tls_ensure: %s", buf_cstr(&err));
    buf_free(&err);
}

static void verify_chain(const struct tls_dir *t)
{
    X509 *ca = read_cert(t, "ca.crt");
    X509 *server = read_cert(t, "server.crt");
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, server, NULL), 1);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    int ok = X509_verify_cert(ctx);
    if (ok != 1)
        fail_msg("chain does not verify: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);

    /* CA properties */
    assert_int_equal(X509_check_ca(ca), 1);
    assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
    assert_non_null(X509_get0_subject_key_id(ca));
    /* server properties */
    assert_int_equal(X509_check_ca(server), 0);
    assert_true(X509_get_extended_key_usage(server) & XKU_SSL_SERVER);
    assert_non_null(X509_get0_authority_key_id(server));
    assert_int_equal(X509_check_host(server, "mail.example.test", 0,
                                     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
    assert_int_equal(X509_check_host(server, "imap.example.test", 0,
                                     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
    assert_int_equal(X509_check_host(server, "other.example.test", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(server, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(server, "::1", 0), 1);
    char cn[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(server),
                                          NID_commonName, cn, sizeof cn) > 0);
    assert_string_equal(cn, "mail.example.test");
    /* at most 398 days (CA/Browser Forum), 128-bit serial */
    int days, secs;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(server),
                                    X509_get0_notAfter(server)), 1);
    assert_true(days <= 398);
    assert_int_equal(days, TLS_SERVER_DAYS);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(server);
    assert_int_equal(ASN1_STRING_length(serial), 16);
    X509_free(ca);
    X509_free(server);
}

static void check_mode(const struct tls_dir *t, const char *file, mode_t want)
{
    char *path = path_in(t, file);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, want);
    free(path);
}

static void test_create_and_keep(void **state)
{
    struct tls_dir *t = *state;
    static const char *const files[] = {"ca.crt", "ca.key", "server.crt", "server.key"};
    buf before[4], after = BUF_INIT;
    struct stat st_before[4], st_after;

    ensure_ok(t, names, N_NAMES);
    verify_chain(t);
    check_mode(t, "ca.key", 0600);
    check_mode(t, "server.key", 0600);
    check_mode(t, "ca.crt", 0644);
    check_mode(t, "server.crt", 0644);

    for (int i = 0; i < 4; i++) {
        buf_init(&before[i]);
        read_file(t, files[i], &before[i], &st_before[i]);
    }
    sleep(1);                                   /* mtime would move */
    ensure_ok(t, names, N_NAMES);
    ensure_ok(t, names, 1);                     /* a subset is covered too */
    for (int i = 0; i < 4; i++) {
        read_file(t, files[i], &after, &st_after);
        assert_string_equal(buf_cstr(&after), buf_cstr(&before[i]));
        assert_int_equal(st_after.st_ino, st_before[i].st_ino);
        assert_true(st_after.st_mtim.tv_sec == st_before[i].st_mtim.tv_sec
                    && st_after.st_mtim.tv_nsec == st_before[i].st_mtim.tv_nsec);
        buf_free(&before[i]);
    }
    buf_free(&after);
}


/* tls_ensure_issued: a per-host server certificate and a client
 * certificate from the same CA; kept when still good, remade for new names. */
/* A deployed host (emailng deploy): ca.crt without ca.key. A good
 * certificate is kept; a missing one is an error naming it, and nothing is
 * written. */
static void test_issued_without_ca_key(void **state)
{
    struct tls_dir *t = *state;
    ensure_ok(t, names, N_NAMES);
    buf err = BUF_INIT;
    char *crt = path_in(t, "host.crt"), *key = path_in(t, "host.key");
    const char *host_names[] = {"store1.example.test", "198.18.0.31"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, host_names, 2, NULL, NULL, NULL, &err), 0);
    char *ca_key = path_in(t, "ca.key");
    assert_int_equal(unlink(ca_key), 0);
    int changed = 0;
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, host_names, 2, NULL, NULL, &changed, &err), 0);
    assert_int_equal(changed, 0);
    char *other = path_in(t, "other.crt"), *other_key = path_in(t, "other.key");
    assert_int_equal(tls_ensure_issued(t->dir, other, other_key, host_names, 2, NULL, NULL, &changed, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "other.crt"));
    assert_non_null(strstr(buf_cstr(&err), "no CA key"));
    assert_int_equal(changed, 0);
    assert_int_equal(access(other, F_OK), -1);
    /* New names need the CA key too. */
    const char *more[] = {"store1.example.test", "198.18.0.31", "mail.example.test"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, more, 3, NULL, NULL, &changed, &err), -1);
    assert_int_equal(changed, 0);
    buf_free(&err);
    free(ca_key);
    free(other);
    free(other_key);
    free(crt);
    free(key);
}

static void test_issued(void **state)
{
    struct tls_dir *t = *state;
    ensure_ok(t, names, N_NAMES);
    buf err = BUF_INIT;
    char *crt = path_in(t, "host.crt"), *key = path_in(t, "host.key");
    const char *host_names[] = {"store1.example.test", "198.18.0.31"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, host_names, 2, NULL, NULL, NULL, &err), 0);
    X509 *cert = read_cert(t, "host.crt");
    X509 *ca = read_cert(t, "ca.crt");
    assert_int_equal(X509_check_issued(ca, cert), X509_V_OK);
    assert_int_equal(X509_check_host(cert, "store1.example.test", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(cert, "198.18.0.31", 0), 1);
    check_mode(t, "host.key", 0600);
    /* Unchanged names: the same certificate stays. */
    ASN1_INTEGER *serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
    X509_free(cert);
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, host_names, 2, NULL, NULL, NULL, &err), 0);
    cert = read_cert(t, "host.crt");
    assert_int_equal(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert)), 0);
    X509_free(cert);
    /* A new name: a new certificate. */
    const char *more[] = {"store1.example.test", "198.18.0.31", "mail.example.test"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, more, 3, NULL, NULL, NULL, &err), 0);
    cert = read_cert(t, "host.crt");
    assert_int_not_equal(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert)), 0);
    X509_free(cert);
    ASN1_INTEGER_free(serial);

    /* Client: subject O, OU, CN (LDAP form cn=dovecot,ou=proxy1,o=EmailNG client), clientAuth. */
    char *ccrt = path_in(t, "client.crt"), *ckey = path_in(t, "client.key");
    const char *cn[] = {"dovecot"};
    assert_int_equal(tls_ensure_issued(t->dir, ccrt, ckey, cn, 1, "proxy1", NULL, NULL, &err), 0);
    cert = read_cert(t, "client.crt");
    char *subject = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
    assert_string_equal(subject, "/O=EmailNG client/OU=proxy1/CN=dovecot");
    OPENSSL_free(subject);
    assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
    assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 0);
    X509_free(cert);
    X509_free(ca);
    /* A missing group is refused clearly. */
    assert_int_equal(tls_ensure_issued(t->dir, ccrt, ckey, cn, 1, "proxy1", "no-such-group-x", NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "no-such-group-x"));
    free(crt);
    free(key);
    free(ccrt);
    free(ckey);
    buf_free(&err);
}

static void test_reissue_server(void **state)
{
    struct tls_dir *t = *state;
    buf ca_before = BUF_INIT, ca_after = BUF_INIT, srv_before = BUF_INIT,
        srv_after = BUF_INIT;
    struct stat st;

    ensure_ok(t, names, 2);
    read_file(t, "ca.crt", &ca_before, &st);
    read_file(t, "server.crt", &srv_before, &st);

    /* a new name: server cert reissued by the same CA */
    ensure_ok(t, names, N_NAMES);
    read_file(t, "ca.crt", &ca_after, &st);
    read_file(t, "server.crt", &srv_after, &st);
    assert_string_equal(buf_cstr(&ca_after), buf_cstr(&ca_before));
    assert_string_not_equal(buf_cstr(&srv_after), buf_cstr(&srv_before));
    verify_chain(t);

    /* server key lost: both server files are made anew */
    char *key = path_in(t, "server.key");
    assert_int_equal(unlink(key), 0);
    ensure_ok(t, names, N_NAMES);
    check_mode(t, "server.key", 0600);
    verify_chain(t);
    free(key);

    buf_free(&ca_before);
    buf_free(&ca_after);
    buf_free(&srv_before);
    buf_free(&srv_after);
}

static void test_refusals(void **state)
{
    struct tls_dir *t = *state;
    buf err = BUF_INIT;

    assert_int_equal(tls_ensure(t->dir, names, 0, permitted, N_PERMITTED, NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "no TLS names"));
    static const char *const bad[] = {"mail.example.test", "bad name,DNS:evil"};
    assert_int_equal(tls_ensure(t->dir, bad, 2, permitted, N_PERMITTED, NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "is neither a host name nor an IP"));

    ensure_ok(t, names, N_NAMES);
    char *ca_key = path_in(t, "ca.key");
    assert_int_equal(unlink(ca_key), 0);
    assert_int_equal(tls_ensure(t->dir, names, N_NAMES, permitted, N_PERMITTED, NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "ca.key does not"));
    free(ca_key);
    buf_free(&err);
}

/* What `emailng status` reads to warn before a certificate expires. */
static void test_days_left(void **state)
{
    struct tls_dir *t = *state;
    ensure_ok(t, names, N_NAMES);
    buf subject = BUF_INIT, err = BUF_INIT;
    long days = 0;
    char *path = path_in(t, "server.crt");
    assert_int_equal(tls_certificate_days_left(path, &days, &subject, &err), 0);
    assert_true(days >= TLS_SERVER_DAYS - 1 && days <= TLS_SERVER_DAYS);
    assert_string_equal(buf_cstr(&subject), names[0]);
    free(path);
    path = path_in(t, "missing.crt");
    assert_int_equal(tls_certificate_days_left(path, &days, NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "missing.crt"));
    free(path);
    buf_free(&subject);
    buf_free(&err);
}

/* Replaces file (in t->dir) with a certificate for `n` names signed by the
 * CA in t->dir, valid from `from_days` (negative: in the past) for
 * `valid_days`, on a key of its own (written to key_file). */
static void forge_cert(const struct tls_dir *t, const char *file, const char *key_file,
                       const char *const *n, size_t count, long from_days, long valid_days)
{
    X509 *ca = read_cert(t, "ca.crt");
    char *ca_key_path = path_in(t, "ca.key");
    FILE *fp = fopen(ca_key_path, "r");
    assert_non_null(fp);
    EVP_PKEY *ca_key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(ca_key);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    X509 *cert = X509_new();
    assert_non_null(cert);
    assert_int_equal(X509_set_version(cert, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242), 1);
    assert_non_null(X509_time_adj_ex(X509_getm_notBefore(cert), (int)from_days, 0, NULL));
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(cert), (int)(from_days + valid_days), 0, NULL));
    assert_int_equal(X509_set_pubkey(cert, key), 1);
    assert_int_equal(X509_set_issuer_name(cert, X509_get_subject_name(ca)), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                               (const unsigned char *)n[0], -1, -1, 0);
    buf san = BUF_INIT;
    for (size_t i = 0; i < count; i++)
        buf_printf(&san, "%s%s:%s", i ? "," : "", strchr(n[i], ':') || strspn(n[i], "0123456789.") == strlen(n[i])
                   ? "IP" : "DNS", n[i]);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, buf_cstr(&san));
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "serverAuth");
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(cert, ca_key, EVP_sha256()) > 0);
    char *path = path_in(t, file), *kpath = path_in(t, key_file);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_X509(fp, cert), 1);
    fclose(fp);
    fp = fopen(kpath, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
    free(path);
    free(kpath);
    free(ca_key_path);
    buf_free(&san);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
}

static long serial_of(const struct tls_dir *t, const char *file)
{
    X509 *cert = read_cert(t, file);
    long serial = ASN1_INTEGER_get(X509_get0_serialNumber(cert));
    X509_free(cert);
    return serial;
}

/* `up` renews a certificate that expires within TLS_RENEW_BEFORE_DAYS, and
 * one issued for longer than the policy (825 days before), and reports it
 * (*changed) so that the daemons restart; a good one stays (no change). */
static void test_renewal(void **state)
{
    struct tls_dir *t = *state;
    buf err = BUF_INIT;
    int changed = 0;
    assert_int_equal(tls_ensure(t->dir, names, N_NAMES, permitted, N_PERMITTED, &changed, &err), 0);
    assert_int_equal(changed, 1);               /* first run: everything made */
    changed = 0;
    assert_int_equal(tls_ensure(t->dir, names, N_NAMES, permitted, N_PERMITTED, &changed, &err), 0);
    assert_int_equal(changed, 0);

    /* 10 days left: renewed, by the same CA, for the full period. */
    forge_cert(t, "server.crt", "server.key", names, N_NAMES, -388, 398);
    assert_int_equal(serial_of(t, "server.crt"), 4242);
    assert_int_equal(tls_ensure(t->dir, names, N_NAMES, permitted, N_PERMITTED, &changed, &err), 0);
    assert_int_equal(changed, 1);
    assert_int_not_equal(serial_of(t, "server.crt"), 4242);
    verify_chain(t);
    long days = 0;
    char *path = path_in(t, "server.crt");
    assert_int_equal(tls_certificate_days_left(path, &days, NULL, &err), 0);
    assert_true(days >= TLS_SERVER_DAYS - 1);
    free(path);

    /* 60 days left, within policy: kept. */
    forge_cert(t, "server.crt", "server.key", names, N_NAMES, -338, 398);
    changed = 0;
    assert_int_equal(tls_ensure(t->dir, names, N_NAMES, permitted, N_PERMITTED, &changed, &err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(serial_of(t, "server.crt"), 4242);

    /* An 825-day certificate of the old policy, 700 days left: renewed. */
    forge_cert(t, "server.crt", "server.key", names, N_NAMES, -125, 825);
    assert_int_equal(tls_ensure(t->dir, names, N_NAMES, permitted, N_PERMITTED, &changed, &err), 0);
    assert_int_equal(changed, 1);
    assert_int_not_equal(serial_of(t, "server.crt"), 4242);

    /* The hosts' certificates (tls_ensure_issued) likewise. */
    const char *host_names[] = {"store1.example.test", "127.0.0.1"};
    char *crt = path_in(t, "host.crt"), *key = path_in(t, "host.key");
    forge_cert(t, "host.crt", "host.key", host_names, 2, -390, 398);
    changed = 0;
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, host_names, 2, NULL, NULL, &changed, &err), 0);
    assert_int_equal(changed, 1);
    assert_int_not_equal(serial_of(t, "host.crt"), 4242);
    changed = 0;
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, host_names, 2, NULL, NULL, &changed, &err), 0);
    assert_int_equal(changed, 0);
    free(crt);
    free(key);
    buf_free(&err);
}

/* The CA: a critical nameConstraints extension with exactly the permitted
 * names (DNS for domains; for addresses their /24 or /64, loopback with a
 * full-length mask), nothing excluded; names outside are refused before a
 * certificate is written. */
static void test_name_constraints(void **state)
{
    struct tls_dir *t = *state;
    ensure_ok(t, names, N_NAMES);
    X509 *ca = read_cert(t, "ca.crt");
    int crit = -1;
    NAME_CONSTRAINTS *nc = X509_get_ext_d2i(ca, NID_name_constraints, &crit, NULL);
    assert_non_null(nc);
    assert_int_equal(crit, 1);
    assert_null(nc->excludedSubtrees);
    assert_int_equal(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 4);
    GENERAL_SUBTREE *sub = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0);
    assert_int_equal(sub->base->type, GEN_DNS);
    assert_string_equal((const char *)ASN1_STRING_get0_data(sub->base->d.dNSName), "example.test");
    static const unsigned char v4[8] = {127, 0, 0, 1, 255, 255, 255, 255};
    sub = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 1);
    assert_int_equal(sub->base->type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(sub->base->d.iPAddress), 8);
    assert_memory_equal(ASN1_STRING_get0_data(sub->base->d.iPAddress), v4, 8);
    sub = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 2);
    assert_int_equal(sub->base->type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(sub->base->d.iPAddress), 32);
    static const unsigned char v6_one[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(ASN1_STRING_get0_data(sub->base->d.iPAddress), v6_one, 32);
    /* A host's address admits its /24: a host added beside it later. */
    static const unsigned char net[8] = {198, 18, 0, 0, 255, 255, 255, 0};
    sub = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 3);
    assert_int_equal(sub->base->type, GEN_IPADD);
    assert_memory_equal(ASN1_STRING_get0_data(sub->base->d.iPAddress), net, 8);
    NAME_CONSTRAINTS_free(nc);
    X509_free(ca);
    char *ca_path = path_in(t, "ca.crt");
    buf err = BUF_INIT;
    assert_int_equal(tls_ca_has_name_constraints(ca_path, &err), 1);
    verify_chain(t);                            /* subdomains and addresses pass */

    /* Outside the constraints: refused, nothing written. */
    char *crt = path_in(t, "evil.crt"), *key = path_in(t, "evil.key");
    const char *evil[] = {"www.example.org"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, evil, 1, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "name constraints"));
    assert_int_equal(access(crt, F_OK), -1);
    const char *evil_ip[] = {"mail.example.test", "192.0.2.1"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, evil_ip, 2, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "name constraints"));
    const char *next_net[] = {"store9.example.test", "198.18.1.33"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, next_net, 2, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "name constraints"));
    /* A new host in a host's /24 (store3 beside store1) is admitted. */
    const char *beside[] = {"store3.example.test", "198.18.0.33"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, beside, 2, NULL, NULL, NULL, &err), 0);
    /* Client certificates (CN without a dot is no host name) still pass. */
    const char *cn[] = {"dovecot"};
    assert_int_equal(tls_ensure_issued(t->dir, crt, key, cn, 1, "proxy1", NULL, NULL, &err), 0);
    free(crt);
    free(key);

    /* A CA made before constraints existed is kept, and says so. */
    struct tls_dir old = *t;
    old.dir = xasprintf("%s/old", t->root);
    buf_reset(&err);
    assert_int_equal(tls_ensure(old.dir, names, N_NAMES, NULL, 0, NULL, &err), 0);
    char *old_ca = path_in(&old, "ca.crt");
    assert_int_equal(tls_ca_has_name_constraints(old_ca, &err), 0);
    int changed = 0;
    assert_int_equal(tls_ensure(old.dir, names, N_NAMES, permitted, N_PERMITTED, &changed, &err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(tls_ca_has_name_constraints(old_ca, &err), 0);
    free(old_ca);
    free(old.dir);
    free(ca_path);
    buf_free(&err);
}

/* What the site's CA may vouch for: domains (subdomains implied), then
 * names and addresses outside them, once each. */
static void test_site_permitted(void **state)
{
    (void)state;
    char *domains[] = {"example.test", "example.org"};
    char *tls_names[] = {"mail.example.test", "localhost", "127.0.0.1", "MX.Example.ORG"};
    struct site_host hosts[] = {{.name = "mail", .address = "127.0.0.1"},
                                {.name = "b", .address = "2001:db8::1"}};
    struct site site = {0};
    site.domains = domains;
    site.n_domains = 2;
    site.tls_names = tls_names;
    site.n_tls_names = 4;
    site.hosts = hosts;
    site.n_hosts = 2;
    const char *out[8];
    size_t n = site_tls_permitted(&site, out);
    assert_int_equal(n, 5);
    assert_string_equal(out[0], "example.test");
    assert_string_equal(out[1], "example.org");
    assert_string_equal(out[2], "localhost");
    assert_string_equal(out[3], "127.0.0.1");
    assert_string_equal(out[4], "2001:db8::1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_keep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reissue_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issued_without_ca_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_days_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_constraints, setup, teardown),
        cmocka_unit_test(test_site_permitted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
