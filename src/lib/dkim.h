/* dkim: the site's DKIM keys and selectors (issue 11). One RSA key (2048
 * bits, made with OpenSSL) per domain and selector, kept by `emailng` under
 * STATE/secrets/dkim/DOMAIN/ (root only): SELECTOR.private (PEM) and the
 * file `selectors`, one line per selector: "SELECTOR STATE SINCE" with STATE
 * pending (made, published in `emailng dns`, not used for signing yet),
 * active (the one OpenDKIM signs with) or retiring (replaced; its record
 * stays published until `emailng dkim retire`). SINCE is the Unix time of
 * the last change. The same files serve every relay (docs/admin-manual.md
 * "DKIM keys"); opendkim_service.c copies the active keys to each relay.
 * The DNS record of a selector is "v=DKIM1; k=rsa; p=BASE64(SPKI)". */
#ifndef EMAILNG_DKIM_H
#define EMAILNG_DKIM_H

#include <stddef.h>

#include "buf.h"
#include "dns_records.h"
#include "site.h"

#define DKIM_KEY_BITS 2048
#define DKIM_SELECTOR_MAX 63      /* one DNS label */

enum dkim_state { DKIM_PENDING, DKIM_ACTIVE, DKIM_RETIRING };

struct dkim_selector {
    char *name;
    enum dkim_state state;
    long long since;              /* Unix time of the last state change */
};

struct dkim_domain {
    char *domain;
    struct dkim_selector *selectors;    /* in the order made */
    size_t n_selectors;
};

/* 1 if s is a selector we make or accept: one DNS label of [a-z0-9-],
 * 1..63 characters, not starting or ending with '-'. */
int dkim_selector_valid(const char *s);

/* "pending", "active", "retiring"; and back (-1 if none). */
const char *dkim_state_name(enum dkim_state st);
int dkim_state_parse(const char *s);

/* A new selector name for the domain: sYYYYMMDD (UTC) of now, with "-2",
 * "-3" ... appended if that name is taken. */
void dkim_selector_new_name(const struct dkim_domain *d, long long now, buf *out);

/* STATE/secrets/dkim/DOMAIN and the key file of a selector (caller frees). */
char *dkim_domain_dir(const char *state_dir, const char *domain);
char *dkim_key_path(const char *state_dir, const char *domain, const char *selector);

/* Reads the domain's selectors file (none yet: 0 selectors). A malformed
 * line is an error naming FILE:LINE. domain must be a plain domain name. */
int dkim_domain_load(const char *state_dir, const char *domain, struct dkim_domain *d, buf *err);
/* Parses the selectors file's text (where: its name for messages). */
int dkim_domain_parse(const char *text, const char *where, struct dkim_domain *d, buf *err);
/* The selectors file's text, and writing it (0600 root, atomically). */
void dkim_domain_format(const struct dkim_domain *d, buf *out);
int dkim_domain_save(const char *state_dir, const struct dkim_domain *d, buf *err);
void dkim_domain_free(struct dkim_domain *d);

/* The selector in the given state (the first), or NULL. */
struct dkim_selector *dkim_find_state(const struct dkim_domain *d, enum dkim_state st);
struct dkim_selector *dkim_find(const struct dkim_domain *d, const char *selector);

/* Makes a new RSA key (DKIM_KEY_BITS) at path, PEM PKCS#8, mode 0600,
 * replacing nothing: an existing file is an error. */
int dkim_key_generate(const char *path, buf *err);
/* The base64 SubjectPublicKeyInfo of the private key at path (the p= of
 * the record). */
int dkim_public_key(const char *path, buf *b64, buf *err);
/* The TXT record text of a public key: "v=DKIM1; k=rsa; p=B64". */
void dkim_record_text(const char *b64, buf *out);
/* "SELECTOR._domainkey.DOMAIN" (caller frees). */
char *dkim_record_name(const char *selector, const char *domain);

/* Adds a selector with a new key to d (state st, since now) and saves the
 * file; name receives the selector: want if not NULL (refused unless
 * dkim_selector_valid and not taken), else dkim_selector_new_name's. */
int dkim_selector_add(const char *state_dir, struct dkim_domain *d, const char *want, enum dkim_state st,
                      long long now, buf *name, buf *err);

/* `emailng up`: every domain of the site without an active selector gets
 * one (key made now). made counts the keys made. */
int dkim_keys_ensure(const struct site *site, const char *state_dir, int *made, buf *err);

/* The domain's published selectors (pending, active, retiring) as TXT
 * records in r (a note instead when there is no key yet). Nothing when the
 * site does not sign (dkim.enabled false). */
int dkim_dns_add(const struct site *site, const char *state_dir, struct dns_domain_records *r, buf *err);

#endif
