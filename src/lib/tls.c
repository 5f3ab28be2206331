/* tls: local CA and server certificate with the OpenSSL 3 API; see tls.h. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CN_MAX 64               /* RFC 5280 ub-common-name */

/* Replace err with "WHAT: <OpenSSL's reason>" and clear OpenSSL's queue. */
static void openssl_error(buf *err, const char *what)
{
    unsigned long code = ERR_peek_last_error();
    const char *reason = code ? ERR_reason_error_string(code) : NULL;

    buf_reset(err);
    if (reason)
        buf_printf(err, "%s: %s", what, reason);
    else if (code)
        buf_printf(err, "%s: OpenSSL error %lu", what, code);
    else
        buf_printf(err, "%s: unknown OpenSSL error", what);
    ERR_clear_error();
}

static int name_is_ip(const char *name)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1
        || inet_pton(AF_INET6, name, addr) == 1;
}

/* A DNS name: LDH labels, an optional "*." first label, 253 at most. */
static int check_dns_name(const char *name, buf *err)
{
    size_t len = strlen(name);
    const char *p = name;

    if (len > 2 && name[0] == '*' && name[1] == '.')
        p += 2;
    int ok = len > 0 && len <= 253;
    for (const char *q = p; ok && *q; q++) {
        char c = *q;
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.';
    }
    if (ok)
        ok = p[0] != '.' && p[0] != '\0' && name[len - 1] != '.'
            && strstr(p, "..") == NULL;
    if (!ok) {
        buf_reset(err);
        buf_append_str(err, "TLS name \"");
        for (const unsigned char *q = (const unsigned char *)name; *q; q++) {
            if (*q < 0x20 || *q >= 0x7f || *q == '"' || *q == '\\')
                buf_printf(err, "\\x%02x", *q);
            else
                buf_append_char(err, (char)*q);
        }
        buf_append_str(err, "\" is neither a host name nor an IP address");
        return -1;
    }
    return 0;
}

/* 1 if path exists, 0 if not, -1 (err set) if it cannot be checked. */
static int file_exists(const char *path, buf *err)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    buf_reset(err);
    buf_printf(err, "cannot check %s: %s", path, strerror(errno));
    return -1;
}

static X509 *load_cert(const char *path, buf *err)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        buf_reset(err);
        buf_printf(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (cert == NULL) {
        char *what = xasprintf("cannot read the certificate in %s", path);
        openssl_error(err, what);
        free(what);
    }
    return cert;
}

static EVP_PKEY *load_key(const char *path, buf *err)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        buf_reset(err);
        buf_printf(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (key == NULL) {
        char *what = xasprintf("cannot read the private key in %s", path);
        openssl_error(err, what);
        free(what);
    }
    return key;
}

/* Write a certificate or a key (exactly one non-NULL) to path with mode,
 * through a temporary file in the same directory and rename(2). */
static int write_pem(const char *path, mode_t mode, X509 *cert,
                     EVP_PKEY *key, buf *err)
{
    char *tmp = xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);                      /* created 0600 */
    if (fd < 0) {
        buf_reset(err);
        buf_printf(err, "cannot create a file next to %s: %s", path,
                   strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *fp = NULL;
    if (fchmod(fd, mode) < 0 || (fp = fdopen(fd, "w")) == NULL) {
        buf_reset(err);
        buf_printf(err, "cannot prepare %s: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    int written = cert ? PEM_write_X509(fp, cert)
                       : PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
    if (!written) {
        char *what = xasprintf("cannot write %s", tmp);
        openssl_error(err, what);
        free(what);
        fclose(fp);
        goto fail;
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) < 0) {
        buf_reset(err);
        buf_printf(err, "cannot write %s: %s", tmp, strerror(errno));
        fclose(fp);
        goto fail;
    }
    if (fclose(fp) != 0) {
        buf_reset(err);
        buf_printf(err, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        buf_reset(err);
        buf_printf(err, "cannot rename %s to %s: %s", tmp, path,
                   strerror(errno));
        goto fail;
    }
    free(tmp);
    return 0;

fail:
    unlink(tmp);
    free(tmp);
    return -1;
}

static int set_random_serial(X509 *cert)
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return -1;
    bytes[0] &= 0x7f;                           /* positive */
    bytes[0] |= 0x40;                           /* never zero, full length */
    BIGNUM *bn = BN_bin2bn(bytes, sizeof bytes, NULL);
    if (bn == NULL)
        return -1;
    ASN1_INTEGER *serial = X509_get_serialNumber(cert);
    int ok = BN_to_ASN1_INTEGER(bn, serial) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A certificate with version 3, random serial, validity, subject CN and
 * public key set; issuer and extensions are the caller's. */
static X509 *new_cert(EVP_PKEY *key, const char *common_name, long days)
{
    X509 *cert = X509_new();
    if (cert == NULL)
        return NULL;
    X509_NAME *subject = X509_get_subject_name(cert);
    if (!X509_set_version(cert, 2) || set_random_serial(cert) < 0
        || X509_gmtime_adj(X509_getm_notBefore(cert), -300) == NULL
        || X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL)
               == NULL
        || !X509_set_pubkey(cert, key)) {
        X509_free(cert);
        return NULL;
    }
    if (common_name && strlen(common_name) <= CN_MAX
        && !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                       (const unsigned char *)common_name,
                                       -1, -1, 0)) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* "critical,permitted;DNS:a,permitted;IP:192.0.2.0/255.255.255.0,...":
 * critical as RFC 5280 4.2.1.10 requires. A DNS base without a leading dot
 * admits the name and every subdomain. An address admits its network (an
 * IPv4 /24, an IPv6 /64; loopback only itself): a host added later beside
 * the others (a second store pair) gets its certificate from the same CA,
 * which every client already trusts, while the CA still vouches for no
 * address outside the site's networks. */
static void name_constraints_value(const char *const *permitted, size_t n, buf *out)
{
    buf_append_str(out, "critical");
    for (size_t i = 0; i < n; i++) {
        unsigned char addr[16];
        char text[INET6_ADDRSTRLEN];
        if (inet_pton(AF_INET, permitted[i], addr) == 1) {
            int loopback = addr[0] == 127;
            if (!loopback)
                addr[3] = 0;
            buf_printf(out, ",permitted;IP:%s/%s", inet_ntop(AF_INET, addr, text, sizeof text),
                       loopback ? "255.255.255.255" : "255.255.255.0");
        } else if (inet_pton(AF_INET6, permitted[i], addr) == 1) {
            static const unsigned char one[16] = {[15] = 1};
            int loopback = memcmp(addr, one, sizeof one) == 0;
            if (!loopback)
                memset(addr + 8, 0, 8);
            buf_printf(out, ",permitted;IP:%s/%s", inet_ntop(AF_INET6, addr, text, sizeof text),
                       loopback ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "ffff:ffff:ffff:ffff::");
        } else {
            buf_printf(out, ",permitted;DNS:%s", permitted[i]);
        }
    }
}

static int make_ca(const char *first_name, const char *const *permitted, size_t n_permitted,
                   X509 **ca_cert, EVP_PKEY **ca_key, buf *err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (key == NULL) {
        openssl_error(err, "cannot generate the CA key");
        return -1;
    }
    buf cn = BUF_INIT;
    buf_printf(&cn, "EmailNG local CA %.40s", first_name);
    X509 *cert = new_cert(key, buf_cstr(&cn), TLS_CA_DAYS);
    buf_free(&cn);
    if (cert == NULL
        || !X509_set_issuer_name(cert, X509_get_subject_name(cert))
        || add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") < 0
        || add_ext(cert, cert, NID_key_usage,
                   "critical,keyCertSign,cRLSign") < 0
        || add_ext(cert, cert, NID_subject_key_identifier, "hash") < 0) {
        openssl_error(err, "cannot build the CA certificate");
        X509_free(cert);
        EVP_PKEY_free(key);
        return -1;
    }
    /* Name constraints: a stolen CA key cannot vouch for anyone else's
     * names to a client that trusts this CA. */
    int ok = 1;
    if (n_permitted > 0) {
        buf value = BUF_INIT;
        name_constraints_value(permitted, n_permitted, &value);
        ok = add_ext(cert, cert, NID_name_constraints, buf_cstr(&value)) == 0;
        buf_free(&value);
    }
    if (!ok || !X509_sign(cert, key, EVP_sha256())) {
        openssl_error(err, "cannot build the CA certificate (name constraints)");
        X509_free(cert);
        EVP_PKEY_free(key);
        return -1;
    }
    *ca_cert = cert;
    *ca_key = key;
    return 0;
}

static int add_subject_alt_names(X509 *cert, const char *const *names,
                                 size_t n_names)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int ok = gens != NULL;

    for (size_t i = 0; ok && i < n_names; i++) {
        GENERAL_NAME *gen = GENERAL_NAME_new();
        if (gen == NULL) {
            ok = 0;
            break;
        }
        if (name_is_ip(names[i])) {
            ASN1_OCTET_STRING *ip = a2i_IPADDRESS(names[i]);
            ok = ip != NULL;
            if (ok)
                GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
        } else {
            ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
            ok = dns != NULL && ASN1_STRING_set(dns, names[i], -1);
            if (ok)
                GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
            else
                ASN1_IA5STRING_free(dns);
        }
        if (!ok || !sk_GENERAL_NAME_push(gens, gen)) {
            GENERAL_NAME_free(gen);
            ok = 0;
        }
    }
    if (ok)
        ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0,
                               X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok ? 0 : -1;
}

/* A server certificate (CN names[0], SANs = names), or with `client_unit`
 * a client certificate (CN names[0], OU client_unit, O CLIENT_ORG, no SAN). */
#define CLIENT_ORG "EmailNG client"

static int make_leaf(X509 *ca_cert, EVP_PKEY *ca_key,
                     const char *const *names, size_t n_names,
                     const char *client_unit,
                     X509 **server_cert, EVP_PKEY **server_key, buf *err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (key == NULL) {
        openssl_error(err, "cannot generate the server key");
        return -1;
    }
    /* Client subject in X.500 order O, OU, CN: as an LDAP DN (slapd's SASL
     * EXTERNAL identity) it reads "cn=NAME,ou=UNIT,o=EmailNG client". */
    X509 *cert = new_cert(key, client_unit ? NULL : names[0], TLS_SERVER_DAYS);
    X509_NAME *subject = cert ? X509_get_subject_name(cert) : NULL;
    if (cert == NULL
        || (client_unit
            && (!X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                            (const unsigned char *)CLIENT_ORG, -1, -1, 0)
                || !X509_NAME_add_entry_by_txt(subject, "OU", MBSTRING_UTF8,
                                               (const unsigned char *)client_unit, -1, -1, 0)
                || strlen(names[0]) > CN_MAX
                || !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                               (const unsigned char *)names[0], -1, -1, 0)))
        || !X509_set_issuer_name(cert, X509_get_subject_name(ca_cert))
        || add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") < 0
        || add_ext(cert, ca_cert, NID_key_usage,
                   "critical,digitalSignature") < 0
        || add_ext(cert, ca_cert, NID_ext_key_usage,
                   client_unit ? "clientAuth" : "serverAuth") < 0
        || add_ext(cert, ca_cert, NID_subject_key_identifier, "hash") < 0
        || add_ext(cert, ca_cert, NID_authority_key_identifier,
                   "keyid:always") < 0
        || (!client_unit && add_subject_alt_names(cert, names, n_names) < 0)
        || !X509_sign(cert, ca_key, EVP_sha256())) {
        openssl_error(err, "cannot build the server certificate");
        X509_free(cert);
        EVP_PKEY_free(key);
        return -1;
    }
    *server_cert = cert;
    *server_key = key;
    return 0;
}

/* A new certificate must chain to the CA, name constraints included: an
 * existing CA whose constraints do not admit a name stops here with the
 * name, rather than handing the daemons a certificate clients refuse. */
static int verify_against_ca(X509 *ca_cert, X509 *cert, int client, buf *err)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = store && ctx && X509_STORE_add_cert(store, ca_cert) == 1
        && X509_STORE_CTX_init(ctx, store, cert, NULL) == 1
        && X509_STORE_CTX_set_purpose(ctx, client ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER) == 1;
    if (!ok) {
        openssl_error(err, "cannot check the new certificate");
    } else if (X509_verify_cert(ctx) != 1) {
        int code = X509_STORE_CTX_get_error(ctx);
        buf_reset(err);
        buf_printf(err, "the new certificate for %s does not verify against the site CA: %s",
                   client ? "a client" : "the server names", X509_verify_cert_error_string(code));
        if (code == X509_V_ERR_PERMITTED_VIOLATION || code == X509_V_ERR_EXCLUDED_VIOLATION)
            buf_append_str(err, " (the CA's name constraints do not admit a TLS name: keep the names within the "
                                "site's domains and hosts, or remove ca.crt and ca.key to make a new CA that "
                                "every client must then trust anew)");
        ERR_clear_error();
        ok = 0;
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok ? 0 : -1;
}

/* Does the existing server certificate still serve: issued and signed by
 * this CA, matching its key, covering every name, not about to expire? */
static int server_cert_usable(X509 *cert, EVP_PKEY *key, X509 *ca_cert,
                              const char *const *names, size_t n_names)
{
    EVP_PKEY *ca_public = X509_get0_pubkey(ca_cert);
    if (ca_public == NULL || X509_check_issued(ca_cert, cert) != X509_V_OK
        || X509_verify(cert, ca_public) != 1
        || X509_check_private_key(cert, key) != 1)
        return 0;
    for (size_t i = 0; i < n_names; i++) {
        int covered = name_is_ip(names[i])
            ? X509_check_ip_asc(cert, names[i], 0)
            : X509_check_host(cert, names[i], 0,
                              X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL);
        if (covered != 1)
            return 0;
    }
    int days = 0, seconds = 0;
    if (!ASN1_TIME_diff(&days, &seconds, NULL, X509_get0_notAfter(cert))
        || days < TLS_RENEW_BEFORE_DAYS)
        return 0;
    /* Issued for longer than the policy allows (825 days before): anew. */
    if (!ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert))
        || days > TLS_SERVER_DAYS)
        return 0;
    return 1;
}

int tls_ensure(const char *dir, const char *const *names, size_t n_names,
               const char *const *permitted, size_t n_permitted, int *changed, buf *err)
{
    char *ca_crt_path = xasprintf("%s/ca.crt", dir);
    char *ca_key_path = xasprintf("%s/ca.key", dir);
    char *server_crt_path = xasprintf("%s/server.crt", dir);
    char *server_key_path = xasprintf("%s/server.key", dir);
    X509 *ca_cert = NULL, *server_cert = NULL;
    EVP_PKEY *ca_key = NULL, *server_key = NULL;
    int rc = -1;

    if (n_names == 0) {
        buf_reset(err);
        buf_append_str(err, "no TLS names given for the server certificate");
        goto out;
    }
    for (size_t i = 0; i < n_names; i++)
        if (!name_is_ip(names[i]) && check_dns_name(names[i], err) < 0)
            goto out;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        buf_reset(err);
        buf_printf(err, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }

    int have_ca_crt = file_exists(ca_crt_path, err);
    int have_ca_key = have_ca_crt < 0 ? -1 : file_exists(ca_key_path, err);
    if (have_ca_crt < 0 || have_ca_key < 0)
        goto out;
    int ca_created = 0;
    if (!have_ca_crt && !have_ca_key) {
        for (size_t i = 0; i < n_permitted; i++)
            if (!name_is_ip(permitted[i]) && check_dns_name(permitted[i], err) < 0)
                goto out;
        if (make_ca(names[0], permitted, n_permitted, &ca_cert, &ca_key, err) < 0
            || write_pem(ca_key_path, 0600, NULL, ca_key, err) < 0
            || write_pem(ca_crt_path, 0644, ca_cert, NULL, err) < 0)
            goto out;
        ca_created = 1;
        if (changed)
            *changed = 1;
    } else if (have_ca_crt != have_ca_key) {
        buf_reset(err);
        buf_printf(err, "%s exists but %s does not; remove the other one "
                   "too to create a new CA (clients must then trust it anew)",
                   have_ca_crt ? ca_crt_path : ca_key_path,
                   have_ca_crt ? ca_key_path : ca_crt_path);
        goto out;
    } else {
        if ((ca_cert = load_cert(ca_crt_path, err)) == NULL
            || (ca_key = load_key(ca_key_path, err)) == NULL)
            goto out;
        if (X509_check_private_key(ca_cert, ca_key) != 1) {
            ERR_clear_error();
            buf_reset(err);
            buf_printf(err, "%s does not belong to %s", ca_key_path,
                       ca_crt_path);
            goto out;
        }
    }

    int have_server_crt = file_exists(server_crt_path, err);
    int have_server_key = have_server_crt < 0
        ? -1 : file_exists(server_key_path, err);
    if (have_server_crt < 0 || have_server_key < 0)
        goto out;
    if (!ca_created && have_server_crt && have_server_key) {
        buf ignored = BUF_INIT;
        server_cert = load_cert(server_crt_path, &ignored);
        server_key = server_cert ? load_key(server_key_path, &ignored) : NULL;
        buf_free(&ignored);
        int usable = server_cert && server_key
            && server_cert_usable(server_cert, server_key, ca_cert, names,
                                  n_names);
        ERR_clear_error();
        if (usable) {
            rc = 0;
            goto out;
        }
        X509_free(server_cert);
        EVP_PKEY_free(server_key);
        server_cert = NULL;
        server_key = NULL;
    }
    if (make_leaf(ca_cert, ca_key, names, n_names, NULL, &server_cert,
                  &server_key, err) < 0
        || verify_against_ca(ca_cert, server_cert, 0, err) < 0
        || write_pem(server_key_path, 0600, NULL, server_key, err) < 0
        || write_pem(server_crt_path, 0644, server_cert, NULL, err) < 0)
        goto out;
    if (changed)
        *changed = 1;
    rc = 0;

out:
    X509_free(ca_cert);
    X509_free(server_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    free(ca_crt_path);
    free(ca_key_path);
    free(server_crt_path);
    free(server_key_path);
    return rc;
}

/* The subject field nid of cert equals want. */
static int subject_is(X509 *cert, int nid, const char *want)
{
    char text[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, text, sizeof text);
    return n >= 0 && strcmp(text, want) == 0;
}

int tls_ensure_issued(const char *ca_dir, const char *crt_path, const char *key_path,
                      const char *const *names, size_t n_names, const char *client_unit,
                      const char *key_group, int *changed, buf *err)
{
    char *ca_crt_path = xasprintf("%s/ca.crt", ca_dir);
    char *ca_key_path = xasprintf("%s/ca.key", ca_dir);
    X509 *ca_cert = NULL, *cert = NULL;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    int rc = -1;
    gid_t gid = 0;

    if (n_names == 0) {
        buf_reset(err);
        buf_append_str(err, "no names given for the certificate");
        goto out;
    }
    if (key_group) {
        struct group *gr = getgrnam(key_group);
        if (gr == NULL) {
            buf_reset(err);
            buf_printf(err, "the group \"%s\" (for %s) does not exist", key_group, key_path);
            goto out;
        }
        gid = gr->gr_gid;
    }
    for (size_t i = 0; !client_unit && i < n_names; i++)
        if (!name_is_ip(names[i]) && check_dns_name(names[i], err) < 0)
            goto out;
    if ((ca_cert = load_cert(ca_crt_path, err)) == NULL)
        goto out;
    int have_crt = file_exists(crt_path, err);
    int have_key = have_crt < 0 ? -1 : file_exists(key_path, err);
    if (have_crt < 0 || have_key < 0)
        goto out;
    if (have_crt && have_key) {
        buf ignored = BUF_INIT;
        cert = load_cert(crt_path, &ignored);
        key = cert ? load_key(key_path, &ignored) : NULL;
        buf_free(&ignored);
        int usable = cert && key;
        if (usable && client_unit)
            usable = server_cert_usable(cert, key, ca_cert, NULL, 0)
                     && subject_is(cert, NID_commonName, names[0])
                     && subject_is(cert, NID_organizationalUnitName, client_unit);
        else if (usable)
            usable = server_cert_usable(cert, key, ca_cert, names, n_names);
        ERR_clear_error();
        X509_free(cert);
        EVP_PKEY_free(key);
        cert = NULL;
        key = NULL;
        if (usable) {
            rc = 0;
            goto out;
        }
    }
    /* The CA key is needed only to issue: a deployed host has none (it
     * never leaves the control host) and uses what was pushed to it. */
    int have_ca_key = file_exists(ca_key_path, err);
    if (have_ca_key < 0)
        goto out;
    if (!have_ca_key) {
        buf_reset(err);
        buf_printf(err, "%s is missing or no longer valid, and this host has no CA key (%s) to issue it: "
                   "issue it where the CA key is (the control host: `emailng deploy`)", crt_path, ca_key_path);
        goto out;
    }
    if ((ca_key = load_key(ca_key_path, err)) == NULL)
        goto out;
    if (make_leaf(ca_cert, ca_key, names, n_names, client_unit, &cert, &key, err) < 0
        || verify_against_ca(ca_cert, cert, client_unit != NULL, err) < 0
        || write_pem(key_path, key_group ? 0640 : 0600, NULL, key, err) < 0
        || write_pem(crt_path, 0644, cert, NULL, err) < 0)
        goto out;
    if (changed)
        *changed = 1;
    if (key_group && chown(key_path, 0, gid) < 0) {
        buf_reset(err);
        buf_printf(err, "cannot give %s to the group %s: %s", key_path, key_group, strerror(errno));
        goto out;
    }
    rc = 0;

out:
    X509_free(ca_cert);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    free(ca_crt_path);
    free(ca_key_path);
    return rc;
}

int tls_certificate_days_left(const char *path, long *days, buf *subject, buf *err)
{
    X509 *cert = load_cert(path, err);
    if (cert == NULL)
        return -1;
    int day = 0, seconds = 0;
    int rc = 0;
    /* NULL "from": now. */
    if (!ASN1_TIME_diff(&day, &seconds, NULL, X509_get0_notAfter(cert))) {
        buf_printf(err, "%s: cannot read the expiry date", path);
        rc = -1;
    } else {
        *days = day;
    }
    if (rc == 0 && subject != NULL) {
        char cn[256] = "";
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
            buf_append_str(subject, cn);
    }
    X509_free(cert);
    return rc;
}

int tls_ca_has_name_constraints(const char *path, buf *err)
{
    X509 *cert = load_cert(path, err);
    if (cert == NULL)
        return -1;
    int crit = 0;
    NAME_CONSTRAINTS *nc = X509_get_ext_d2i(cert, NID_name_constraints, &crit, NULL);
    int has = nc != NULL;
    NAME_CONSTRAINTS_free(nc);
    X509_free(cert);
    ERR_clear_error();
    return has;
}
