/* dkim: keys, selectors and records; see dkim.h. */
#include "dkim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "fsutil.h"

#define SELECTORS_FILE_MAX (64 * 1024)
#define KEY_FILE_MAX (16 * 1024)

static const char *const state_names[] = {"pending", "active", "retiring"};

const char *dkim_state_name(enum dkim_state st)
{
    return state_names[st];
}

int dkim_state_parse(const char *s)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (strcmp(s, state_names[i]) == 0)
            return (int)i;
    return -1;
}

int dkim_selector_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DKIM_SELECTOR_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* A domain as the site file admits one (lower case labels of [a-z0-9-]):
 * it becomes part of a path, so nothing else gets near the file system. */
static int plain_domain(const char *d)
{
    if (d[0] == '\0' || d[0] == '.' || strlen(d) > 253 || strstr(d, ".."))
        return 0;
    for (const char *p = d; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return 0;
    return d[strlen(d) - 1] != '.';
}

void dkim_selector_new_name(const struct dkim_domain *d, long long now, buf *out)
{
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "s%Y%m%d", &tm);
    buf_reset(out);
    buf_append_str(out, base);
    for (int n = 2; dkim_find(d, buf_cstr(out)) != NULL; n++) {
        buf_reset(out);
        buf_printf(out, "%s-%d", base, n);
    }
}

char *dkim_domain_dir(const char *state_dir, const char *domain)
{
    return xasprintf("%s/secrets/dkim/%s", state_dir, domain);
}

char *dkim_key_path(const char *state_dir, const char *domain, const char *selector)
{
    return xasprintf("%s/secrets/dkim/%s/%s.private", state_dir, domain, selector);
}

static char *selectors_path(const char *state_dir, const char *domain)
{
    return xasprintf("%s/secrets/dkim/%s/selectors", state_dir, domain);
}

void dkim_domain_free(struct dkim_domain *d)
{
    for (size_t i = 0; i < d->n_selectors; i++)
        free(d->selectors[i].name);
    free(d->selectors);
    free(d->domain);
    memset(d, 0, sizeof *d);
}

struct dkim_selector *dkim_find(const struct dkim_domain *d, const char *selector)
{
    for (size_t i = 0; i < d->n_selectors; i++)
        if (strcmp(d->selectors[i].name, selector) == 0)
            return &d->selectors[i];
    return NULL;
}

struct dkim_selector *dkim_find_state(const struct dkim_domain *d, enum dkim_state st)
{
    for (size_t i = 0; i < d->n_selectors; i++)
        if (d->selectors[i].state == st)
            return &d->selectors[i];
    return NULL;
}

static void push_selector(struct dkim_domain *d, const char *name, enum dkim_state st, long long since)
{
    d->selectors = xrealloc(d->selectors, (d->n_selectors + 1) * sizeof *d->selectors);
    struct dkim_selector *s = &d->selectors[d->n_selectors++];
    s->name = xstrdup(name);
    s->state = st;
    s->since = since;
}

/* One line "SELECTOR STATE SINCE" (fields split by blanks). */
static int parse_line(char *line, const char *where, size_t lineno, struct dkim_domain *d, buf *err)
{
    char *fields[4];
    size_t n = 0;
    for (char *save = NULL, *f = strtok_r(line, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
        if (n == 3) {
            n = 4;
            break;
        }
        fields[n++] = f;
    }
    if (n != 3) {
        buf_printf(err, "%s:%zu: expected \"SELECTOR STATE SINCE\"", where, lineno);
        return -1;
    }
    int st = dkim_state_parse(fields[1]);
    char *end = NULL;
    errno = 0;
    long long since = strtoll(fields[2], &end, 10);
    if (!dkim_selector_valid(fields[0])) {
        buf_printf(err, "%s:%zu: \"%s\" is not a selector ([a-z0-9-], at most %d characters)", where, lineno,
                   fields[0], DKIM_SELECTOR_MAX);
        return -1;
    }
    if (st < 0) {
        buf_printf(err, "%s:%zu: \"%s\" is not a state; expected pending, active or retiring", where, lineno,
                   fields[1]);
        return -1;
    }
    if (errno != 0 || end == fields[2] || *end != '\0' || since < 0) {
        buf_printf(err, "%s:%zu: \"%s\" is not a time (seconds since 1970)", where, lineno, fields[2]);
        return -1;
    }
    if (dkim_find(d, fields[0])) {
        buf_printf(err, "%s:%zu: selector %s listed twice", where, lineno, fields[0]);
        return -1;
    }
    if (st == DKIM_ACTIVE && dkim_find_state(d, DKIM_ACTIVE)) {
        buf_printf(err, "%s:%zu: a second active selector (%s)", where, lineno, fields[0]);
        return -1;
    }
    push_selector(d, fields[0], (enum dkim_state)st, since);
    return 0;
}

int dkim_domain_parse(const char *text, const char *where, struct dkim_domain *d, buf *err)
{
    char *copy = xstrdup(text);
    size_t lineno = 0;
    int rc = 0;
    for (char *line = copy; rc == 0 && line && *line; ) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (line[0] != '#' && line[strspn(line, " \t")] != '\0')
            rc = parse_line(line, where, lineno, d, err);
        line = next;
    }
    free(copy);
    return rc;
}

int dkim_domain_load(const char *state_dir, const char *domain, struct dkim_domain *d, buf *err)
{
    memset(d, 0, sizeof *d);
    if (!plain_domain(domain)) {
        buf_printf(err, "\"%s\" is not a domain name ([a-z0-9.-])", domain);
        return -1;
    }
    d->domain = xstrdup(domain);
    char *path = selectors_path(state_dir, domain);
    int rc = 0;
    if (fs_exists(path)) {
        buf text = BUF_INIT;
        rc = fs_read_file(path, SELECTORS_FILE_MAX, &text, err);
        if (rc == 0)
            rc = dkim_domain_parse(buf_cstr(&text), path, d, err);
        buf_free(&text);
    }
    free(path);
    return rc;
}

void dkim_domain_format(const struct dkim_domain *d, buf *out)
{
    buf_printf(out, "# DKIM selectors of %s, written by emailng (emailng dkim list).\n"
                    "# SELECTOR STATE SINCE (pending | active | retiring; Unix time)\n", d->domain);
    for (size_t i = 0; i < d->n_selectors; i++)
        buf_printf(out, "%s %s %lld\n", d->selectors[i].name, dkim_state_name(d->selectors[i].state),
                   d->selectors[i].since);
}

static int ensure_dirs(const char *state_dir, const char *domain, buf *err)
{
    char *secrets = xasprintf("%s/secrets", state_dir);
    char *dkim = xasprintf("%s/secrets/dkim", state_dir);
    char *dir = dkim_domain_dir(state_dir, domain);
    int rc = fs_ensure_dir(secrets, NULL, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(dkim, NULL, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, NULL, NULL, 0700, err);
    free(secrets);
    free(dkim);
    free(dir);
    return rc;
}

int dkim_domain_save(const char *state_dir, const struct dkim_domain *d, buf *err)
{
    if (ensure_dirs(state_dir, d->domain, err) != 0)
        return -1;
    buf text = BUF_INIT;
    dkim_domain_format(d, &text);
    char *path = selectors_path(state_dir, d->domain);
    int rc = fs_write_file(path, text.data, text.len, 0600, err);
    free(path);
    buf_free(&text);
    return rc;
}

int dkim_key_generate(const char *path, buf *err)
{
    if (fs_exists(path)) {
        buf_printf(err, "%s exists already; a key is never replaced", path);
        return -1;
    }
    EVP_PKEY *key = EVP_RSA_gen(DKIM_KEY_BITS);
    BIO *mem = BIO_new(BIO_s_mem());
    int rc = -1;
    if (key == NULL || mem == NULL) {
        buf_printf(err, "cannot make an RSA key (OpenSSL)");
    } else if (PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) != 1) {
        buf_printf(err, "cannot write the RSA key as PEM (OpenSSL)");
    } else {
        char *data = NULL;
        long len = BIO_get_mem_data(mem, &data);
        rc = len > 0 ? fs_write_file(path, data, (size_t)len, 0600, err) : -1;
    }
    BIO_free_all(mem);   /* BIO_s_mem clears its buffer on free */
    EVP_PKEY_free(key);
    return rc;
}

/* The base64 of the DER SubjectPublicKeyInfo of the key at path. */
static int key_base64(const char *path, buf *b64, buf *err)
{
    buf pem = BUF_INIT;
    if (fs_read_file(path, KEY_FILE_MAX, &pem, err) != 0)
        return -1;
    BIO *mem = BIO_new_mem_buf(pem.data, (int)pem.len);
    EVP_PKEY *key = mem ? PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int len = key ? i2d_PUBKEY(key, &der) : -1;
    int rc = -1;
    if (key == NULL)
        buf_printf(err, "%s: not a PEM private key", path);
    else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
        buf_printf(err, "%s: not an RSA key", path);
    else if (len <= 0)
        buf_printf(err, "%s: cannot encode the key", path);
    else {
        size_t n = (size_t)(4 * ((len + 2) / 3) + 1);
        char *text = xmalloc(n);
        EVP_EncodeBlock((unsigned char *)text, der, len);
        buf_append_str(b64, text);
        explicit_bzero(text, n);
        free(text);
        rc = 0;
    }
    if (der)
        OPENSSL_clear_free(der, (size_t)len);
    EVP_PKEY_free(key);
    BIO_free(mem);
    explicit_bzero(pem.data, pem.len);
    buf_free(&pem);
    return rc;
}

int dkim_public_key(const char *path, buf *b64, buf *err)
{
    return key_base64(path, b64, err);
}

void dkim_record_text(const char *b64, buf *out)
{
    buf_printf(out, "v=DKIM1; k=rsa; p=%s", b64);
}

char *dkim_record_name(const char *selector, const char *domain)
{
    return xasprintf("%s._domainkey.%s", selector, domain);
}

int dkim_selector_add(const char *state_dir, struct dkim_domain *d, const char *want, enum dkim_state st,
                      long long now, buf *name, buf *err)
{
    if (want && !dkim_selector_valid(want)) {
        buf_printf(err, "\"%s\" is not a selector", want);
        return -1;
    }
    if (want && dkim_find(d, want)) {
        buf_printf(err, "selector %s exists already for %s", want, d->domain);
        return -1;
    }
    if (ensure_dirs(state_dir, d->domain, err) != 0)
        return -1;
    buf_reset(name);
    if (want)
        buf_append_str(name, want);
    else
        dkim_selector_new_name(d, now, name);
    char *path = dkim_key_path(state_dir, d->domain, buf_cstr(name));
    int rc = dkim_key_generate(path, err);
    free(path);
    if (rc != 0)
        return -1;
    push_selector(d, buf_cstr(name), st, now);
    return dkim_domain_save(state_dir, d, err);
}

int dkim_keys_ensure(const struct site *site, const char *state_dir, int *made, buf *err)
{
    *made = 0;
    if (!site->dkim.enabled)
        return 0;
    for (size_t i = 0; i < site->n_domains; i++) {
        struct dkim_domain d;
        int rc = dkim_domain_load(state_dir, site->domains[i], &d, err);
        if (rc == 0 && dkim_find_state(&d, DKIM_ACTIVE) == NULL) {
            buf name = BUF_INIT;
            rc = dkim_selector_add(state_dir, &d, NULL, DKIM_ACTIVE, (long long)time(NULL), &name, err);
            if (rc == 0)
                (*made)++;
            buf_free(&name);
        }
        dkim_domain_free(&d);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static const char *const state_comments[] = {
    "pending: publish it now, then `emailng dkim activate %s` (not used for signing yet)",
    "active: the relays sign with it",
    "retiring: replaced; keep it published until `emailng dkim retire %s`",
};

int dkim_dns_add(const struct site *site, const char *state_dir, struct dns_domain_records *r, buf *err)
{
    if (!site->dkim.enabled)
        return 0;
    struct dkim_domain d;
    int rc = dkim_domain_load(state_dir, r->domain, &d, err);
    if (rc == 0 && d.n_selectors == 0)
        dns_records_note(r, xasprintf("DKIM: no key for %s yet; `emailng up` makes one.", r->domain));
    for (size_t i = 0; rc == 0 && i < d.n_selectors; i++) {
        const struct dkim_selector *s = &d.selectors[i];
        char *path = dkim_key_path(state_dir, d.domain, s->name);
        buf b64 = BUF_INIT, text = BUF_INIT, why = BUF_INIT;
        rc = dkim_public_key(path, &b64, err);
        if (rc == 0) {
            dkim_record_text(buf_cstr(&b64), &text);
            char *name = dkim_record_name(s->name, d.domain);
            buf_printf(&why, "DKIM selector %s, ", s->name);
            buf_printf(&why, state_comments[s->state], d.domain);
            dns_records_add_txt(r, name, buf_cstr(&text), "v=DKIM1", buf_steal(&why));
            free(name);
        }
        buf_free(&b64);
        buf_free(&text);
        buf_free(&why);
        free(path);
    }
    dkim_domain_free(&d);
    return rc;
}
