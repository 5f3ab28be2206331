/* cert_check: a given certificate checked and installed; see cert_check.h. */
#include "cert_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fsutil.h"

/* A PEM file is small; anything larger is not what we were given. */
#define PEM_FILE_MAX (1024 * 1024)

static void openssl_reason(buf *err)
{
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        buf_printf(err, " (%s)", text);
    }
    ERR_clear_error();
}

/* Every certificate in a PEM file, in order; NULL (err) when none. */
static STACK_OF(X509) *read_certs(const char *path, buf *err)
{
    buf text = BUF_INIT, why = BUF_INIT;
    if (fs_read_file(path, PEM_FILE_MAX, &text, &why) != 0) {
        buf_printf(err, "%s: cannot read the file: %s", path, buf_cstr(&why));
        buf_free(&text);
        buf_free(&why);
        return NULL;
    }
    buf_free(&why);
    BIO *bio = BIO_new_mem_buf(text.data, (int)text.len);
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *cert;
    while (bio && certs && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(certs, cert))
            X509_free(cert);
    ERR_clear_error();      /* the end of the file reads as an error */
    BIO_free(bio);
    buf_free(&text);
    if (certs == NULL || sk_X509_num(certs) == 0) {
        buf_printf(err, "%s: holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path);
        sk_X509_pop_free(certs, X509_free);
        return NULL;
    }
    return certs;
}

static EVP_PKEY *read_key(const char *path, buf *err)
{
    buf text = BUF_INIT, why = BUF_INIT;
    if (fs_read_file(path, PEM_FILE_MAX, &text, &why) != 0) {
        buf_printf(err, "%s: cannot read the file: %s", path, buf_cstr(&why));
        buf_free(&text);
        buf_free(&why);
        return NULL;
    }
    buf_free(&why);
    BIO *bio = BIO_new_mem_buf(text.data, (int)text.len);
    /* No passphrase callback: the daemons cannot type one either. */
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(text.data, text.len);
    buf_free(&text);
    if (key == NULL) {
        buf_printf(err, "%s: holds no unencrypted PEM private key", path);
        openssl_reason(err);
    }
    return key;
}

static void print_time(const ASN1_TIME *t, buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    if (bio && ASN1_TIME_print(bio, t) && (n = BIO_get_mem_data(bio, &data)) > 0)
        buf_append(out, data, (size_t)n);
    else
        buf_append_str(out, "(unreadable date)");
    BIO_free(bio);
}

static int check_validity(X509 *cert, const char *path, time_t now, buf *err)
{
    time_t at = now;
    if (X509_cmp_time(X509_get0_notBefore(cert), &at) > 0) {
        buf_printf(err, "%s: the certificate is not valid yet (valid from ", path);
        print_time(X509_get0_notBefore(cert), err);
        buf_append_str(err, ")");
        return -1;
    }
    if (X509_cmp_time(X509_get0_notAfter(cert), &at) < 0) {
        buf_printf(err, "%s: the certificate has expired (valid until ", path);
        print_time(X509_get0_notAfter(cert), err);
        buf_append_str(err, ")");
        return -1;
    }
    return 0;
}

static int covers(X509 *cert, const char *name)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
        return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, 0, NULL) == 1;
}

int cert_check(const char *cert_path, const char *key_path, const char *chain_path, const char *name, time_t now,
               buf *err)
{
    STACK_OF(X509) *certs = read_certs(cert_path, err);
    if (certs == NULL)
        return -1;
    X509 *leaf = sk_X509_value(certs, 0);
    int rc = 0;
    EVP_PKEY *key = read_key(key_path, err);
    if (key == NULL) {
        rc = -1;
    } else if (X509_check_private_key(leaf, key) != 1) {
        ERR_clear_error();
        buf_printf(err, "%s: the key does not match the certificate %s", key_path, cert_path);
        rc = -1;
    }
    EVP_PKEY_free(key);
    if (rc == 0 && chain_path) {
        STACK_OF(X509) *chain = read_certs(chain_path, err);
        int issued = 0;
        for (int i = 0; chain && i < sk_X509_num(chain) && !issued; i++)
            issued = X509_check_issued(sk_X509_value(chain, i), leaf) == X509_V_OK;
        if (chain && !issued)
            buf_printf(err, "%s: no certificate in the chain issued the certificate %s", chain_path, cert_path);
        rc = chain && issued ? 0 : -1;
        sk_X509_pop_free(chain, X509_free);
    }
    if (rc == 0)
        rc = check_validity(leaf, cert_path, now, err);
    if (rc == 0 && !covers(leaf, name)) {
        buf_printf(err, "%s: the certificate does not cover %s (a public name clients connect to)",
                   cert_path, name);
        rc = -1;
    }
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

int cert_seconds_left(const char *path, time_t now, long long *seconds, buf *err)
{
    STACK_OF(X509) *certs = read_certs(path, err);
    if (certs == NULL)
        return -1;
    int days = 0, secs = 0, rc = 0;
    ASN1_TIME *from = ASN1_TIME_set(NULL, now);
    if (from == NULL || !ASN1_TIME_diff(&days, &secs, from, X509_get0_notAfter(sk_X509_value(certs, 0)))) {
        buf_printf(err, "%s: cannot read the expiry date", path);
        rc = -1;
    } else {
        *seconds = (long long)days * 86400 + secs;
    }
    ASN1_TIME_free(from);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* Writes data to path when it differs from what path holds. */
static int install_file(const char *path, const buf *data, mode_t mode, int *changed, buf *err)
{
    buf old = BUF_INIT, ignored = BUF_INIT;
    int same = fs_read_file(path, PEM_FILE_MAX, &old, &ignored) == 0 && old.len == data->len
            && memcmp(old.data, data->data, data->len) == 0;
    if (old.data)
        OPENSSL_cleanse(old.data, old.len);
    buf_free(&old);
    buf_free(&ignored);
    if (same)
        return 0;
    if (fs_write_file(path, data->data, data->len, mode, err) != 0)
        return -1;
    if (changed)
        *changed = 1;
    return 0;
}

/* Appends a file's bytes, and a line end if it lacks one (the next PEM
 * block must start on its own line). */
static int append_file(const char *path, buf *out, buf *err)
{
    buf why = BUF_INIT;
    size_t before = out->len;
    if (fs_read_file(path, PEM_FILE_MAX, out, &why) != 0) {
        buf_printf(err, "%s: cannot read the file: %s", path, buf_cstr(&why));
        buf_free(&why);
        return -1;
    }
    buf_free(&why);
    if (out->len > before && out->data[out->len - 1] != '\n')
        buf_append_char(out, '\n');
    return 0;
}

int cert_install(const char *cert_path, const char *key_path, const char *chain_path, const char *dir,
                 int *changed, buf *err)
{
    buf full = BUF_INIT, key = BUF_INIT;
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = append_file(cert_path, &full, err);
    if (rc == 0 && chain_path)
        rc = append_file(chain_path, &full, err);
    if (rc == 0)
        rc = append_file(key_path, &key, err);
    /* Two renames, not one: the daemons read the pair only when `up` or
     * `tls renew` starts or reloads them, after both are in place. */
    char *full_path = xasprintf("%s/fullchain.pem", dir), *key_out = xasprintf("%s/key.pem", dir);
    if (rc == 0)
        rc = install_file(key_out, &key, 0600, changed, err);
    if (rc == 0)
        rc = install_file(full_path, &full, 0644, changed, err);
    if (key.data)
        OPENSSL_cleanse(key.data, key.len);
    buf_free(&key);
    buf_free(&full);
    free(full_path);
    free(key_out);
    return rc;
}
