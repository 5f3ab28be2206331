/* directory: users and aliases over libldap, ldapi or LDAPS + SASL EXTERNAL;
 * see directory.h. */
#include "directory.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <ldap.h>

#include "ldap_escape.h"
#include "password.h"

#define NETWORK_TIMEOUT_SECONDS 10
#define OPERATION_TIMEOUT_SECONDS 30

struct directory {
    LDAP *ld;
    char *uri;
    char *base;
    char *users_dn;         /* ou=users,BASE */
    char *aliases_dn;       /* ou=aliases,BASE */
};


static const char *const default_services[] = {
    "smtp", "imap", "pop3", "sieve", "lmtp", NULL,
};

/* ---- error messages ---------------------------------------------------- */

static int is_unreachable(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR
        || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

/* Append text from the server with control characters escaped. */
static void append_server_text(buf *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            buf_printf(out, "\\x%02x", *p);
        else
            buf_append_char(out, (char)*p);
    }
}

/* Replace err with "ACTION: <libldap's text> (<server's diagnostic>)", or
 * with the "not answering" message when the server cannot be reached. */
static void ldap_failure(struct directory *d, int rc, buf *err,
                         const char *action_fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void ldap_failure(struct directory *d, int rc, buf *err,
                         const char *action_fmt, ...)
{
    buf_reset(err);
    if (is_unreachable(rc)) {
        buf_printf(err, "the directory at %s is not answering: %s", d->uri,
                   ldap_err2string(rc));
        return;
    }
    va_list ap;
    va_start(ap, action_fmt);
    buf_vprintf(err, action_fmt, ap);
    va_end(ap);
    buf_printf(err, ": %s", ldap_err2string(rc));
    char *diagnostic = NULL;
    if (d->ld != NULL
        && ldap_get_option(d->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic)
               == LDAP_OPT_SUCCESS
        && diagnostic != NULL) {
        if (diagnostic[0] != '\0') {
            buf_append_str(err, " (");
            append_server_text(err, diagnostic);
            buf_append_char(err, ')');
        }
        ldap_memfree(diagnostic);
    }
}

/* ---- small helpers ----------------------------------------------------- */

static char *entry_dn(const char *container_dn, const char *address)
{
    buf dn = BUF_INIT;
    buf_append_str(&dn, "mail=");
    ldap_escape_dn_value(&dn, address);
    buf_printf(&dn, ",%s", container_dn);
    return buf_steal(&dn);
}

/* A NULL-terminated list of LDAPMod, built up one attribute at a time. */
struct mod_list {
    LDAPMod **mods;
    size_t n_mods;
};

/* Add (op, attr, values); values is NULL-terminated and may be empty.
 * The strings are borrowed, only the arrays are owned. */
static void mods_add(struct mod_list *m, int op, const char *attr,
                     const char *const *values)
{
    size_t n_values = 0;
    while (values && values[n_values])
        n_values++;

    LDAPMod *mod = xcalloc(1, sizeof *mod);
    mod->mod_op = op;
    mod->mod_type = (char *)attr;
    mod->mod_values = xcalloc(n_values + 1, sizeof *mod->mod_values);
    for (size_t i = 0; i < n_values; i++)
        mod->mod_values[i] = (char *)values[i];

    m->mods = xrealloc(m->mods, (m->n_mods + 2) * sizeof *m->mods);
    m->mods[m->n_mods++] = mod;
    m->mods[m->n_mods] = NULL;
}

static void mods_add_one(struct mod_list *m, int op, const char *attr,
                         const char *value)
{
    const char *values[2] = {value, NULL};
    mods_add(m, op, attr, values);
}

static void mods_free(struct mod_list *m)
{
    for (size_t i = 0; i < m->n_mods; i++) {
        free(m->mods[i]->mod_values);
        free(m->mods[i]);
    }
    free(m->mods);
    m->mods = NULL;
    m->n_mods = 0;
}

static struct timeval operation_timeout(void)
{
    struct timeval tv = {OPERATION_TIMEOUT_SECONDS, 0};
    return tv;
}

static int search(struct directory *d, const char *base, int scope,
                  const char *filter, const char *const *attrs,
                  LDAPMessage **result)
{
    struct timeval timeout = operation_timeout();
    *result = NULL;
    int rc = ldap_search_ext_s(d->ld, base, scope, filter, (char **)attrs, 0,
                               NULL, NULL, &timeout, LDAP_NO_LIMIT, result);
    if (rc != LDAP_SUCCESS && *result != NULL) {
        ldap_msgfree(*result);
        *result = NULL;
    }
    return rc;
}

/* The string values of attr in entry, as a NULL-terminated owned array;
 * *n gets the count. */
static char **entry_values(struct directory *d, LDAPMessage *entry,
                           const char *attr, size_t *n)
{
    struct berval **values = ldap_get_values_len(d->ld, entry, attr);
    size_t count = values ? (size_t)ldap_count_values_len(values) : 0;
    char **out = xcalloc(count + 1, sizeof *out);
    for (size_t i = 0; i < count; i++)
        out[i] = xstrndup(values[i]->bv_val, values[i]->bv_len);
    if (values)
        ldap_value_free_len(values);
    if (n)
        *n = count;
    return out;
}

/* The first value of attr, or "" (always an owned string). */
static char *entry_value(struct directory *d, LDAPMessage *entry,
                         const char *attr)
{
    size_t n;
    char **values = entry_values(d, entry, attr, &n);
    char *first = n ? values[0] : xstrdup("");
    for (size_t i = 1; i < n; i++)
        free(values[i]);
    free(values);
    return first;
}

static void free_strings(char **strings, size_t n)
{
    if (strings == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

static int has_value(char **values, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(values[i], want) == 0)
            return 1;
    return 0;
}

/* How is address used now?  *owner gets the owning entry's mail (owned)
 * for DIRECTORY_ADDRESS_USER_ALTERNATE / DIRECTORY_ADDRESS_OTHER (then its DN). */
static int address_use(struct directory *d, const char *address,
                       enum directory_address_use *use, char **owner, buf *err)
{
    static const char *const attrs[] = {"objectClass", "mail", NULL};
    buf filter = BUF_INIT;
    LDAPMessage *result = NULL;

    buf_append_str(&filter, "(|(mail=");
    ldap_escape_filter(&filter, address);
    buf_append_str(&filter, ")(emailngAlternateAddress=");
    ldap_escape_filter(&filter, address);
    buf_append_str(&filter, "))");
    int rc = search(d, d->base, LDAP_SCOPE_SUBTREE, buf_cstr(&filter), attrs,
                    &result);
    buf_free(&filter);
    *use = DIRECTORY_ADDRESS_FREE;
    *owner = NULL;
    if (rc == LDAP_NO_SUCH_OBJECT)
        return 0;                   /* no base yet: nothing uses it */
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot look up %s", address);
        return -1;
    }
    LDAPMessage *entry = ldap_first_entry(d->ld, result);
    if (entry != NULL) {
        size_t n_classes, n_mail;
        char **classes = entry_values(d, entry, "objectClass", &n_classes);
        char **mail = entry_values(d, entry, "mail", &n_mail);
        int is_user = has_value(classes, n_classes, "emailngMailUser");
        int is_alias = has_value(classes, n_classes, "emailngMailAlias");
        int by_mail = has_value(mail, n_mail, address);
        if (is_user && by_mail) {
            *use = DIRECTORY_ADDRESS_USER;
        } else if (is_user) {
            *use = DIRECTORY_ADDRESS_USER_ALTERNATE;
            *owner = xstrdup(n_mail ? mail[0] : "?");
        } else if (is_alias && by_mail) {
            *use = DIRECTORY_ADDRESS_ALIAS;
        } else {
            *use = DIRECTORY_ADDRESS_OTHER;
            char *dn = ldap_get_dn(d->ld, entry);
            *owner = xstrdup(dn ? dn : "?");
            if (dn)
                ldap_memfree(dn);
        }
        free_strings(classes, n_classes);
        free_strings(mail, n_mail);
    }
    ldap_msgfree(result);
    return 0;
}

/* Replace err with why address cannot be taken (use != DIRECTORY_ADDRESS_FREE). */
static void explain_address_taken(buf *err, const char *address,
                                  enum directory_address_use use, const char *owner)
{
    buf_reset(err);
    switch (use) {
    case DIRECTORY_ADDRESS_USER:
        buf_printf(err, "user %s already exists", address);
        break;
    case DIRECTORY_ADDRESS_USER_ALTERNATE:
        buf_printf(err, "%s is already an address of user %s", address,
                   owner);
        break;
    case DIRECTORY_ADDRESS_ALIAS:
        buf_printf(err, "%s is already an alias", address);
        break;
    case DIRECTORY_ADDRESS_OTHER:
    case DIRECTORY_ADDRESS_FREE:
        buf_printf(err, "%s is already used by the entry %s", address,
                   owner ? owner : "?");
        break;
    }
}

/* ---- open, close, base ------------------------------------------------- */

/* TLS of this handle only (a context of its own, not libldap's global
 * one): the CA, our certificate and key, the server's certificate required. */
static int set_tls(struct directory *d, const struct directory_tls *tls, buf *err)
{
    int demand = LDAP_OPT_X_TLS_DEMAND, new_context = 0;
    if (ldap_set_option(d->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS
        || ldap_set_option(d->ld, LDAP_OPT_X_TLS_CACERTFILE, tls->ca_file) != LDAP_OPT_SUCCESS
        || ldap_set_option(d->ld, LDAP_OPT_X_TLS_CERTFILE, tls->cert_file) != LDAP_OPT_SUCCESS
        || ldap_set_option(d->ld, LDAP_OPT_X_TLS_KEYFILE, tls->key_file) != LDAP_OPT_SUCCESS
        || ldap_set_option(d->ld, LDAP_OPT_X_TLS_NEWCTX, &new_context) != LDAP_OPT_SUCCESS) {
        buf_reset(err);
        buf_printf(err, "cannot set up TLS to %s with %s, %s and %s (readable?)", d->uri, tls->ca_file,
                   tls->cert_file, tls->key_file);
        return -1;
    }
    return 0;
}

int directory_open(struct directory **dp, const char *uri, const char *base,
                   buf *err)
{
    return directory_open_tls(dp, uri, base, NULL, err);
}

int directory_open_tls(struct directory **dp, const char *uri, const char *base,
                       const struct directory_tls *tls, buf *err)
{
    *dp = NULL;
    LDAPDN parsed = NULL;
    if (base == NULL || base[0] == '\0'
        || ldap_str2dn(base, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
        buf_reset(err);
        buf_printf(err, "the directory base \"%s\" is not a valid DN",
                   base ? base : "");
        return -1;
    }
    ldap_dnfree(parsed);

    struct directory *d = xcalloc(1, sizeof *d);
    d->uri = xstrdup(uri ? uri : "");
    d->base = xstrdup(base);
    d->users_dn = xasprintf("ou=users,%s", base);
    d->aliases_dn = xasprintf("ou=aliases,%s", base);

    int rc = ldap_initialize(&d->ld, d->uri);
    if (rc != LDAP_SUCCESS) {
        buf_reset(err);
        buf_printf(err, "invalid directory URI \"%s\": %s", d->uri,
                   ldap_err2string(rc));
        directory_close(d);
        return -1;
    }
    int version = LDAP_VERSION3;
    struct timeval network_timeout = {NETWORK_TIMEOUT_SECONDS, 0};
    struct timeval timeout = operation_timeout();
    if (ldap_set_option(d->ld, LDAP_OPT_PROTOCOL_VERSION, &version)
            != LDAP_OPT_SUCCESS
        || ldap_set_option(d->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF)
            != LDAP_OPT_SUCCESS
        || ldap_set_option(d->ld, LDAP_OPT_NETWORK_TIMEOUT, &network_timeout)
            != LDAP_OPT_SUCCESS
        || ldap_set_option(d->ld, LDAP_OPT_TIMEOUT, &timeout)
            != LDAP_OPT_SUCCESS) {
        buf_reset(err);
        buf_printf(err, "cannot set up the LDAP connection to %s", d->uri);
        directory_close(d);
        return -1;
    }
    if (tls && set_tls(d, tls, err) != 0) {
        directory_close(d);
        return -1;
    }
    /* SASL EXTERNAL with an empty initial response (no authorization
     * identity): over ldapi slapd takes our identity from the socket's peer
     * credentials, over LDAPS from our client certificate.  Without the
     * (empty) response slapd asks for one more round ("SASL bind in progress"). */
    static char no_authzid[] = "";
    struct berval empty_response = {0, no_authzid};
    rc = ldap_sasl_bind_s(d->ld, NULL, "EXTERNAL", &empty_response, NULL,
                          NULL, NULL);
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "the directory at %s refused our SASL "
                     "EXTERNAL bind", d->uri);
        directory_close(d);
        return -1;
    }
    *dp = d;
    return 0;
}

void directory_close(struct directory *d)
{
    if (d == NULL)
        return;
    if (d->ld)
        ldap_unbind_ext_s(d->ld, NULL, NULL);
    free(d->uri);
    free(d->base);
    free(d->users_dn);
    free(d->aliases_dn);
    free(d);
}

/* Add an entry unless it exists; 0 if it is there afterwards. */
static int add_if_missing(struct directory *d, const char *dn,
                          struct mod_list *m, buf *err)
{
    int rc = ldap_add_ext_s(d->ld, dn, m->mods, NULL, NULL);
    if (rc == LDAP_SUCCESS || rc == LDAP_ALREADY_EXISTS)
        return 0;
    ldap_failure(d, rc, err, "cannot create %s", dn);
    return -1;
}

int directory_init_base(struct directory *d, const char *const *domains,
                        size_t n_domains, buf *err)
{
    LDAPDN parsed = NULL;
    if (ldap_str2dn(d->base, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS
        || parsed == NULL || parsed[0] == NULL || parsed[0][1] != NULL) {
        buf_reset(err);
        buf_printf(err, "the directory base \"%s\" must start with a single "
                   "dc=, o= or ou= component", d->base);
        if (parsed)
            ldap_dnfree(parsed);
        return -1;
    }
    LDAPAVA *first = parsed[0][0];
    char *attr = xstrndup(first->la_attr.bv_val, first->la_attr.bv_len);
    char *value = xstrndup(first->la_value.bv_val, first->la_value.bv_len);
    ldap_dnfree(parsed);

    struct mod_list m = {NULL, 0};
    static const char *const dc_classes[] = {"top", "dcObject",
                                             "organization", NULL};
    static const char *const o_classes[] = {"top", "organization", NULL};
    static const char *const ou_classes[] = {"top", "organizationalUnit",
                                             NULL};
    int rc = -1;
    if (strcasecmp(attr, "dc") == 0) {
        mods_add(&m, LDAP_MOD_ADD, "objectClass", dc_classes);
        mods_add_one(&m, LDAP_MOD_ADD, "dc", value);
        mods_add_one(&m, LDAP_MOD_ADD, "o",
                     n_domains > 0 && domains[0][0] ? domains[0] : value);
    } else if (strcasecmp(attr, "o") == 0) {
        mods_add(&m, LDAP_MOD_ADD, "objectClass", o_classes);
        mods_add_one(&m, LDAP_MOD_ADD, "o", value);
    } else if (strcasecmp(attr, "ou") == 0) {
        mods_add(&m, LDAP_MOD_ADD, "objectClass", ou_classes);
        mods_add_one(&m, LDAP_MOD_ADD, "ou", value);
    } else {
        buf_reset(err);
        buf_printf(err, "the directory base \"%s\" must start with dc=, o= "
                   "or ou=", d->base);
        goto out;
    }
    if (add_if_missing(d, d->base, &m, err) < 0)
        goto out;

    static const char *const containers[] = {"users", "aliases"};
    for (size_t i = 0; i < 2; i++) {
        mods_free(&m);
        mods_add(&m, LDAP_MOD_ADD, "objectClass", ou_classes);
        mods_add_one(&m, LDAP_MOD_ADD, "ou", containers[i]);
        if (add_if_missing(d, i == 0 ? d->users_dn : d->aliases_dn, &m,
                           err) < 0)
            goto out;
    }
    rc = 0;
out:
    mods_free(&m);
    free(attr);
    free(value);
    return rc;
}

/* ---- users ------------------------------------------------------------- */

int directory_user_add(struct directory *d, const char *address,
                       const char *password_hash,
                       unsigned long long quota_bytes, const char *mail_host,
                       buf *err)
{
    const char *at = strchr(address, '@');
    if (at == NULL || at == address) {
        buf_reset(err);
        buf_printf(err, "\"%s\" is not a full address (local@domain)",
                   address);
        return -1;
    }
    if (password_hash == NULL || password_hash[0] == '\0') {
        buf_reset(err);
        buf_printf(err, "no password hash for user %s", address);
        return -1;
    }

    enum directory_address_use use;
    char *owner = NULL;
    if (address_use(d, address, &use, &owner, err) < 0)
        return -1;
    if (use != DIRECTORY_ADDRESS_FREE) {
        explain_address_taken(err, address, use, owner);
        free(owner);
        return -1;
    }

    static const char *const classes[] = {"top", "inetOrgPerson",
                                          "emailngMailUser", NULL};
    char *local_part = xstrndup(address, (size_t)(at - address));
    char *dn = entry_dn(d->users_dn, address);
    buf quota = BUF_INIT;
    struct mod_list m = {NULL, 0};

    mods_add(&m, LDAP_MOD_ADD, "objectClass", classes);
    mods_add_one(&m, LDAP_MOD_ADD, "mail", address);
    mods_add_one(&m, LDAP_MOD_ADD, "uid", address);
    mods_add_one(&m, LDAP_MOD_ADD, "cn", local_part);
    mods_add_one(&m, LDAP_MOD_ADD, "sn", local_part);
    mods_add_one(&m, LDAP_MOD_ADD, "userPassword", password_hash);
    mods_add_one(&m, LDAP_MOD_ADD, "emailngAccountStatus", "active");
    mods_add(&m, LDAP_MOD_ADD, "emailngEnabledService", default_services);
    if (quota_bytes > 0) {
        buf_printf(&quota, "%llu", quota_bytes);
        mods_add_one(&m, LDAP_MOD_ADD, "emailngQuota", buf_cstr(&quota));
    }
    if (mail_host != NULL && mail_host[0] != '\0')
        mods_add_one(&m, LDAP_MOD_ADD, "emailngMailHost", mail_host);

    int rc = ldap_add_ext_s(d->ld, dn, m.mods, NULL, NULL);
    int result = 0;
    if (rc == LDAP_ALREADY_EXISTS) {
        buf_reset(err);
        buf_printf(err, "user %s already exists", address);
        result = -1;
    } else if (rc == LDAP_NO_SUCH_OBJECT) {
        buf_reset(err);
        buf_printf(err, "cannot add user %s: %s does not exist (the "
                   "directory is not initialised)", address, d->users_dn);
        result = -1;
    } else if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot add user %s", address);
        result = -1;
    }
    mods_free(&m);
    buf_free(&quota);
    free(dn);
    free(local_part);
    return result;
}

/* Replace err with "no such user X", saying what X is if it is in use. */
static void explain_no_user(struct directory *d, const char *address,
                            buf *err)
{
    enum directory_address_use use = DIRECTORY_ADDRESS_FREE;
    char *owner = NULL;
    buf ignored = BUF_INIT;
    (void)address_use(d, address, &use, &owner, &ignored);
    buf_free(&ignored);
    buf_reset(err);
    if (use == DIRECTORY_ADDRESS_ALIAS)
        buf_printf(err, "no such user %s (it is an alias)", address);
    else if (use == DIRECTORY_ADDRESS_USER_ALTERNATE)
        buf_printf(err, "no such user %s (it is an address of user %s)",
                   address, owner);
    else
        buf_printf(err, "no such user %s", address);
    free(owner);
}

int directory_user_del(struct directory *d, const char *address, buf *err)
{
    char *dn = entry_dn(d->users_dn, address);
    int rc = ldap_delete_ext_s(d->ld, dn, NULL, NULL);
    free(dn);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        explain_no_user(d, address, err);
        return -1;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot delete user %s", address);
        return -1;
    }
    return 0;
}

static int modify_user(struct directory *d, const char *address,
                       struct mod_list *m, const char *action, buf *err)
{
    char *dn = entry_dn(d->users_dn, address);
    int rc = ldap_modify_ext_s(d->ld, dn, m->mods, NULL, NULL);
    free(dn);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        explain_no_user(d, address, err);
        return -1;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot %s of user %s", action, address);
        return -1;
    }
    return 0;
}

int directory_user_set_password(struct directory *d, const char *address,
                                const char *password_hash, buf *err)
{
    if (password_hash == NULL || password_hash[0] == '\0') {
        buf_reset(err);
        buf_printf(err, "no password hash for user %s", address);
        return -1;
    }
    struct mod_list m = {NULL, 0};
    mods_add_one(&m, LDAP_MOD_REPLACE, "userPassword", password_hash);
    int rc = modify_user(d, address, &m, "change the password", err);
    mods_free(&m);
    return rc;
}

int directory_user_set_quota(struct directory *d, const char *address,
                             unsigned long long quota_bytes, buf *err)
{
    struct mod_list m = {NULL, 0};
    buf quota = BUF_INIT;
    if (quota_bytes > 0) {
        buf_printf(&quota, "%llu", quota_bytes);
        mods_add_one(&m, LDAP_MOD_REPLACE, "emailngQuota", buf_cstr(&quota));
    } else {
        /* replace with no values: remove, and no error if already absent */
        mods_add(&m, LDAP_MOD_REPLACE, "emailngQuota", NULL);
    }
    int rc = modify_user(d, address, &m, "change the quota", err);
    mods_free(&m);
    buf_free(&quota);
    return rc;
}

int directory_user_set_mail_host(struct directory *d, const char *address, const char *mail_host, buf *err)
{
    struct mod_list m = {NULL, 0};
    mods_add_one(&m, LDAP_MOD_REPLACE, "emailngMailHost", mail_host);
    int rc = modify_user(d, address, &m, "change the store pair", err);
    mods_free(&m);
    return rc;
}

int directory_user_set_status(struct directory *d, const char *address, const char *status, buf *err)
{
    struct mod_list m = {NULL, 0};
    mods_add_one(&m, LDAP_MOD_REPLACE, "emailngAccountStatus", status);
    int rc = modify_user(d, address, &m, "change the account status", err);
    mods_free(&m);
    return rc;
}

static const char *const user_attrs[] = {
    "mail", "emailngQuota", "emailngAccountStatus", "emailngEnabledService",
    "emailngMailHost", "emailngAlternateAddress", NULL,
};

void directory_user_clear(struct directory_user *u)
{
    free(u->mail);
    free(u->status);
    free(u->mail_host);
    free_strings(u->services, u->n_services);
    free_strings(u->alternate_addresses, u->n_alternate_addresses);
    memset(u, 0, sizeof *u);
}

static int user_from_entry(struct directory *d, LDAPMessage *entry,
                           struct directory_user *u, buf *err)
{
    memset(u, 0, sizeof *u);
    u->mail = entry_value(d, entry, "mail");
    u->status = entry_value(d, entry, "emailngAccountStatus");
    u->mail_host = entry_value(d, entry, "emailngMailHost");
    u->services = entry_values(d, entry, "emailngEnabledService",
                               &u->n_services);
    u->alternate_addresses = entry_values(d, entry, "emailngAlternateAddress",
                                          &u->n_alternate_addresses);
    char *quota = entry_value(d, entry, "emailngQuota");
    int rc = 0;
    if (quota[0] != '\0') {
        char *end = NULL;
        errno = 0;
        unsigned long long value = strtoull(quota, &end, 10);
        if (errno != 0 || end == quota || *end != '\0' || quota[0] == '-') {
            buf_reset(err);
            buf_printf(err, "user %s has an invalid emailngQuota \"",
                       u->mail);
            append_server_text(err, quota);
            buf_append_char(err, '"');
            rc = -1;
        } else {
            u->quota_bytes = value;
        }
    }
    free(quota);
    if (rc < 0)
        directory_user_clear(u);
    return rc;
}

int directory_user_get(struct directory *d, const char *address,
                       struct directory_user *out, buf *err)
{
    memset(out, 0, sizeof *out);
    char *dn = entry_dn(d->users_dn, address);
    LDAPMessage *result = NULL;
    int rc = search(d, dn, LDAP_SCOPE_BASE, "(objectClass=emailngMailUser)",
                    user_attrs, &result);
    free(dn);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        explain_no_user(d, address, err);
        return -1;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot read user %s", address);
        return -1;
    }
    LDAPMessage *entry = ldap_first_entry(d->ld, result);
    int ret;
    if (entry == NULL) {
        buf_reset(err);
        buf_printf(err, "no such user %s", address);
        ret = -1;
    } else {
        ret = user_from_entry(d, entry, out, err);
    }
    ldap_msgfree(result);
    return ret;
}

static int compare_users(const void *a, const void *b)
{
    const struct directory_user *x = a, *y = b;
    return strcmp(x->mail, y->mail);
}

/* Search one level under container; NO_SUCH_OBJECT becomes a clear
 * "not initialised" message. */
static int list_container(struct directory *d, const char *container,
                          const char *filter, const char *const *attrs,
                          const char *what, LDAPMessage **result, buf *err)
{
    int rc = search(d, container, LDAP_SCOPE_ONELEVEL, filter, attrs, result);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        buf_reset(err);
        buf_printf(err, "cannot list %s: %s does not exist (the directory "
                   "is not initialised)", what, container);
        return -1;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot list %s", what);
        return -1;
    }
    return 0;
}

/* Every entry of a container as an array of elem_size items, each filled
 * by from_entry (which returns -1 with err on a bad entry), sorted by
 * compare; on failure the items made so far go to free_items. */
typedef int entry_reader(struct directory *d, LDAPMessage *entry, void *item, buf *err);

static int list_entries(struct directory *d, const char *container, const char *filter,
                        const char *const *attrs, const char *what, size_t elem_size,
                        entry_reader *from_entry, void (*free_items)(void *items, size_t n),
                        int (*compare)(const void *, const void *), void **items, size_t *n_items,
                        buf *err)
{
    LDAPMessage *result = NULL;
    *items = NULL;
    *n_items = 0;
    if (list_container(d, container, filter, attrs, what, &result, err) < 0)
        return -1;
    int count = ldap_count_entries(d->ld, result);
    char *list = xcalloc(count > 0 ? (size_t)count : 1, elem_size);
    size_t n = 0;
    int rc = 0;
    for (LDAPMessage *entry = ldap_first_entry(d->ld, result);
         entry != NULL && n < (size_t)count;
         entry = ldap_next_entry(d->ld, entry)) {
        if (from_entry(d, entry, list + n * elem_size, err) < 0) {
            rc = -1;
            break;
        }
        n++;
    }
    ldap_msgfree(result);
    if (rc < 0) {
        free_items(list, n);
        return -1;
    }
    qsort(list, n, elem_size, compare);
    *items = list;
    *n_items = n;
    return 0;
}

static int user_item(struct directory *d, LDAPMessage *entry, void *item, buf *err)
{
    return user_from_entry(d, entry, item, err);
}

static void free_users(void *items, size_t n)
{
    directory_user_list_free(items, n);
}

int directory_user_list(struct directory *d, struct directory_user **users,
                        size_t *n_users, buf *err)
{
    void *items;
    int rc = list_entries(d, d->users_dn, "(objectClass=emailngMailUser)", user_attrs, "users",
                          sizeof **users, user_item, free_users, compare_users, &items, n_users, err);
    *users = items;
    return rc;
}

void directory_user_list_free(struct directory_user *users, size_t n_users)
{
    if (users == NULL)
        return;
    for (size_t i = 0; i < n_users; i++)
        directory_user_clear(&users[i]);
    free(users);
}

/* ---- aliases ----------------------------------------------------------- */

static const char *const alias_attrs[] = {
    "mail", "emailngForwardTo", "emailngAccountStatus", "objectClass",
    "emailngListPolicy", "emailngListOwner", NULL,
};

/* Current destinations of an existing alias (owned, NULL-terminated). */
static int alias_destinations(struct directory *d, const char *alias,
                              char ***dests, size_t *n_dests, buf *err)
{
    char *dn = entry_dn(d->aliases_dn, alias);
    LDAPMessage *result = NULL;
    int rc = search(d, dn, LDAP_SCOPE_BASE, "(objectClass=*)", alias_attrs,
                    &result);
    free(dn);
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot read alias %s", alias);
        return -1;
    }
    LDAPMessage *entry = ldap_first_entry(d->ld, result);
    if (entry == NULL) {
        ldap_msgfree(result);
        buf_reset(err);
        buf_printf(err, "no such alias %s", alias);
        return -1;
    }
    *dests = entry_values(d, entry, "emailngForwardTo", n_dests);
    ldap_msgfree(result);
    return 0;
}

int directory_alias_add(struct directory *d, const char *alias,
                        const char *const *dests, size_t n_dests,
                        int *was_member, buf *err)
{
    if (n_dests == 0) {
        buf_reset(err);
        buf_printf(err, "alias %s needs at least one destination", alias);
        return -1;
    }
    for (size_t i = 0; i < n_dests; i++) {
        if (strcasecmp(dests[i], alias) == 0) {
            buf_reset(err);
            buf_printf(err, "alias %s cannot forward to itself", alias);
            return -1;
        }
    }

    enum directory_address_use use;
    char *owner = NULL;
    if (address_use(d, alias, &use, &owner, err) < 0)
        return -1;
    if (use == DIRECTORY_ADDRESS_USER) {
        buf_reset(err);
        buf_printf(err, "%s is a user; an alias cannot have a user's address",
                   alias);
        return -1;
    }
    if (use != DIRECTORY_ADDRESS_FREE && use != DIRECTORY_ADDRESS_ALIAS) {
        explain_address_taken(err, alias, use, owner);
        free(owner);
        return -1;
    }

    /* The destinations to add: given ones, without repeats and (for an
     * existing alias) without the ones already there. */
    char **existing = NULL;
    size_t n_existing = 0;
    if (use == DIRECTORY_ADDRESS_ALIAS
        && alias_destinations(d, alias, &existing, &n_existing, err) < 0)
        return -1;
    const char **fresh = xcalloc(n_dests + 1, sizeof *fresh);
    size_t n_fresh = 0;
    for (size_t i = 0; i < n_dests; i++) {
        int seen = has_value(existing, n_existing, dests[i]);
        for (size_t j = 0; !seen && j < n_fresh; j++)
            seen = strcasecmp(fresh[j], dests[i]) == 0;
        if (!seen)
            fresh[n_fresh++] = dests[i];
        if (was_member != NULL)
            was_member[i] = seen;
    }
    free_strings(existing, n_existing);

    char *dn = entry_dn(d->aliases_dn, alias);
    struct mod_list m = {NULL, 0};
    int rc = LDAP_SUCCESS;
    if (use == DIRECTORY_ADDRESS_ALIAS) {
        if (n_fresh > 0) {
            mods_add(&m, LDAP_MOD_ADD, "emailngForwardTo", fresh);
            rc = ldap_modify_ext_s(d->ld, dn, m.mods, NULL, NULL);
        }
    } else {
        static const char *const classes[] = {"top", "emailngMailAlias",
                                              NULL};
        mods_add(&m, LDAP_MOD_ADD, "objectClass", classes);
        mods_add_one(&m, LDAP_MOD_ADD, "mail", alias);
        mods_add(&m, LDAP_MOD_ADD, "emailngForwardTo", fresh);
        mods_add_one(&m, LDAP_MOD_ADD, "emailngAccountStatus", "active");
        rc = ldap_add_ext_s(d->ld, dn, m.mods, NULL, NULL);
    }
    int result = 0;
    if (rc == LDAP_NO_SUCH_OBJECT && use != DIRECTORY_ADDRESS_ALIAS) {
        buf_reset(err);
        buf_printf(err, "cannot add alias %s: %s does not exist (the "
                   "directory is not initialised)", alias, d->aliases_dn);
        result = -1;
    } else if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot %s alias %s",
                     use == DIRECTORY_ADDRESS_ALIAS ? "extend" : "add", alias);
        result = -1;
    }
    mods_free(&m);
    free(fresh);
    free(dn);
    return result;
}

int directory_alias_del(struct directory *d, const char *alias, buf *err)
{
    char *dn = entry_dn(d->aliases_dn, alias);
    int rc = ldap_delete_ext_s(d->ld, dn, NULL, NULL);
    free(dn);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        enum directory_address_use use = DIRECTORY_ADDRESS_FREE;
        char *owner = NULL;
        buf ignored = BUF_INIT;
        (void)address_use(d, alias, &use, &owner, &ignored);
        buf_free(&ignored);
        free(owner);
        buf_reset(err);
        buf_printf(err, "no such alias %s%s", alias,
                   use == DIRECTORY_ADDRESS_USER ? " (it is a user)" : "");
        return -1;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot delete alias %s", alias);
        return -1;
    }
    return 0;
}

static int compare_aliases(const void *a, const void *b)
{
    const struct directory_alias *x = a, *y = b;
    return strcmp(x->mail, y->mail);
}

static int alias_item(struct directory *d, LDAPMessage *entry, void *item, buf *err)
{
    (void)err;
    struct directory_alias *a = item;
    a->mail = entry_value(d, entry, "mail");
    a->status = entry_value(d, entry, "emailngAccountStatus");
    a->destinations = entry_values(d, entry, "emailngForwardTo", &a->n_destinations);
    size_t n_classes;
    char **classes = entry_values(d, entry, "objectClass", &n_classes);
    a->is_list = has_value(classes, n_classes, "emailngMailingList");
    free_strings(classes, n_classes);
    a->list_policy = entry_value(d, entry, "emailngListPolicy");
    a->owners = entry_values(d, entry, "emailngListOwner", &a->n_owners);
    return 0;
}

static void free_aliases(void *items, size_t n)
{
    directory_alias_list_free(items, n);
}

int directory_alias_list(struct directory *d, struct directory_alias **aliases,
                         size_t *n_aliases, buf *err)
{
    void *items;
    int rc = list_entries(d, d->aliases_dn, "(objectClass=emailngMailAlias)", alias_attrs, "aliases",
                          sizeof **aliases, alias_item, free_aliases, compare_aliases, &items, n_aliases, err);
    *aliases = items;
    return rc;
}

void directory_alias_list_free(struct directory_alias *aliases,
                               size_t n_aliases)
{
    if (aliases == NULL)
        return;
    for (size_t i = 0; i < n_aliases; i++) {
        free(aliases[i].mail);
        free(aliases[i].status);
        free_strings(aliases[i].destinations, aliases[i].n_destinations);
        free(aliases[i].list_policy);
        free_strings(aliases[i].owners, aliases[i].n_owners);
    }
    free(aliases);
}

int directory_user_set_services(struct directory *d, const char *address,
                                const char *const *services, size_t n_services,
                                buf *err)
{
    if (n_services == 0) {
        buf_printf(err, "user %s: at least one service is needed", address);
        return -1;
    }
    const char **list = xcalloc(n_services + 1, sizeof *list);
    for (size_t i = 0; i < n_services; i++)
        list[i] = services[i];
    struct mod_list m = {NULL, 0};
    mods_add(&m, LDAP_MOD_REPLACE, "emailngEnabledService", list);
    int rc = modify_user(d, address, &m, "change the services", err);
    mods_free(&m);
    free(list);
    return rc;
}

/* ---- spam settings (F4) -------------------------------------------------- */

static int is_spam_attribute(const char *attr)
{
    return strcmp(attr, "emailngSpamThreshold") == 0 || strcmp(attr, "emailngSpamAllow") == 0
        || strcmp(attr, "emailngSpamDeny") == 0;
}

int directory_user_set_values(struct directory *d, const char *address,
                              const char *attr, const char *const *values,
                              size_t n_values, buf *err)
{
    if (!is_spam_attribute(attr)) {
        buf_printf(err, "attribute %s cannot be set this way", attr);
        return -1;
    }
    const char **list = xcalloc(n_values + 1, sizeof *list);
    for (size_t i = 0; i < n_values; i++)
        list[i] = values[i];
    struct mod_list m = {NULL, 0};
    /* replace with no values removes it, and is no error if absent */
    mods_add(&m, LDAP_MOD_REPLACE, attr, n_values ? list : NULL);
    int rc = modify_user(d, address, &m, "change the spam settings", err);
    mods_free(&m);
    free(list);
    return rc;
}

int directory_user_get_values(struct directory *d, const char *address,
                              const char *attr, char ***values,
                              size_t *n_values, buf *err)
{
    *values = NULL;
    *n_values = 0;
    if (!is_spam_attribute(attr)) {
        buf_printf(err, "attribute %s cannot be read this way", attr);
        return -1;
    }
    const char *attrs[] = {attr, NULL};
    char *dn = entry_dn(d->users_dn, address);
    LDAPMessage *result = NULL;
    int rc = search(d, dn, LDAP_SCOPE_BASE, "(objectClass=emailngMailUser)", attrs, &result);
    free(dn);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        explain_no_user(d, address, err);
        return -1;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot read user %s", address);
        return -1;
    }
    LDAPMessage *entry = ldap_first_entry(d->ld, result);
    if (entry == NULL) {
        buf_reset(err);
        buf_printf(err, "no such user %s", address);
        ldap_msgfree(result);
        return -1;
    }
    *values = entry_values(d, entry, attr, n_values);
    ldap_msgfree(result);
    return 0;
}

/* Applies the edits naming attr to the values (an owned NULL-terminated
 * array of *n); 1 if they changed. */
static int apply_list_edits(char ***values, size_t *n, const char *attr,
                            const struct directory_list_edit *edits, size_t n_edits)
{
    int changed = 0;
    for (size_t i = 0; i < n_edits; i++) {
        if (strcmp(edits[i].attr, attr) != 0)
            continue;
        size_t at = *n;
        for (size_t j = 0; j < *n; j++)
            if (strcasecmp((*values)[j], edits[i].value) == 0)
                at = j;
        if (edits[i].add && at == *n) {
            *values = xrealloc(*values, (*n + 2) * sizeof **values);
            (*values)[(*n)++] = xstrdup(edits[i].value);
            (*values)[*n] = NULL;
            changed = 1;
        } else if (!edits[i].add && at < *n) {
            free((*values)[at]);
            memmove(&(*values)[at], &(*values)[at + 1], (*n - at) * sizeof **values);
            (*n)--;
            changed = 1;
        }
    }
    return changed;
}

int directory_user_edit_lists(struct directory *d, const char *address,
                              const struct directory_list_edit *edits,
                              size_t n_edits, int *changed, buf *err)
{
    for (size_t i = 0; i < n_edits; i++) {
        int first = 1;          /* each attribute once, at its first edit */
        for (size_t k = 0; k < i; k++)
            first &= strcmp(edits[k].attr, edits[i].attr) != 0;
        if (!first)
            continue;
        char **values = NULL;
        size_t n = 0;
        if (directory_user_get_values(d, address, edits[i].attr, &values, &n, err) != 0)
            return -1;
        int rc = 0;
        if (apply_list_edits(&values, &n, edits[i].attr, edits, n_edits)) {
            rc = directory_user_set_values(d, address, edits[i].attr, (const char *const *)values, n, err);
            if (rc == 0 && changed)
                *changed = 1;
        }
        for (size_t j = 0; j < n; j++)
            free(values[j]);
        free(values);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int directory_user_check_password(struct directory *d, const char *address, const char *plain, buf *err)
{
    const char *attrs[] = {"userPassword", "emailngAccountStatus", NULL};
    char *dn = entry_dn(d->users_dn, address);
    LDAPMessage *result = NULL;
    int rc = search(d, dn, LDAP_SCOPE_BASE, "(objectClass=emailngMailUser)", attrs, &result);
    free(dn);
    if (rc == LDAP_NO_SUCH_OBJECT)
        return 0;                       /* as a wrong password: no user probing */
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot read user %s", address);
        return -1;
    }
    int match = 0;
    LDAPMessage *entry = ldap_first_entry(d->ld, result);
    if (entry != NULL) {
        size_t n_hashes = 0, n_status = 0;
        char **hashes = entry_values(d, entry, "userPassword", &n_hashes);
        char **status = entry_values(d, entry, "emailngAccountStatus", &n_status);
        if (n_status == 1 && directory_status_is_active(status[0]))
            for (size_t i = 0; i < n_hashes && !match; i++)
                match = password_verify(plain, hashes[i]) == 1;
        for (size_t i = 0; i < n_hashes; i++)
            free(hashes[i]);
        for (size_t i = 0; i < n_status; i++)
            free(status[i]);
        free(hashes);
        free(status);
    }
    ldap_msgfree(result);
    return match;
}

/* ---- members, address use, snapshots ------------------------------------ */

int directory_alias_remove_members(struct directory *d, const char *alias,
                                   const char *const *members, size_t n_members,
                                   int *alias_deleted, buf *err)
{
    *alias_deleted = 0;
    char **existing = NULL;
    size_t n_existing = 0;
    if (alias_destinations(d, alias, &existing, &n_existing, err) < 0)
        return -1;
    for (size_t i = 0; i < n_members; i++) {
        if (!has_value(existing, n_existing, members[i])) {
            buf_reset(err);
            buf_printf(err, "%s is not a member of alias %s", members[i], alias);
            free_strings(existing, n_existing);
            return -1;
        }
    }
    /* The values as the directory holds them (the attribute matches
     * case-insensitively, but the delete names the stored values). */
    const char **gone = xcalloc(n_existing + 1, sizeof *gone);
    size_t n_gone = 0;
    for (size_t i = 0; i < n_existing; i++)
        for (size_t j = 0; j < n_members; j++)
            if (strcasecmp(existing[i], members[j]) == 0) {
                gone[n_gone++] = existing[i];
                break;
            }
    int result = 0;
    int is_list = directory_is_list(d, alias, err);
    if (is_list < 0) {
        free(gone);
        free_strings(existing, n_existing);
        return -1;
    }
    if (n_gone == n_existing && !is_list) {
        result = directory_alias_del(d, alias, err);
        if (result == 0)
            *alias_deleted = 1;
    } else {
        char *dn = entry_dn(d->aliases_dn, alias);
        struct mod_list m = {NULL, 0};
        mods_add(&m, LDAP_MOD_DELETE, "emailngForwardTo", gone);
        int rc = ldap_modify_ext_s(d->ld, dn, m.mods, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            ldap_failure(d, rc, err, "cannot remove members of alias %s", alias);
            result = -1;
        }
        mods_free(&m);
        free(dn);
    }
    free(gone);
    free_strings(existing, n_existing);
    return result;
}

/* ---- mailing lists (U4) -------------------------------------------------- */

int directory_is_list(struct directory *d, const char *address, buf *err)
{
    static const char *const attrs[] = {"mail", NULL};
    char *dn = entry_dn(d->aliases_dn, address);
    LDAPMessage *result = NULL;
    int rc = search(d, dn, LDAP_SCOPE_BASE, "(objectClass=emailngMailingList)", attrs, &result);
    free(dn);
    if (rc == LDAP_NO_SUCH_OBJECT)
        return 0;
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot read %s", address);
        return -1;
    }
    int found = ldap_first_entry(d->ld, result) != NULL;
    ldap_msgfree(result);
    return found;
}

int directory_list_create(struct directory *d, const char *list, const char *policy,
                          const char *const *owners, size_t n_owners, buf *err)
{
    enum directory_address_use use;
    char *owner = NULL;
    if (address_use(d, list, &use, &owner, err) < 0)
        return -1;
    if (use != DIRECTORY_ADDRESS_FREE) {
        explain_address_taken(err, list, use, owner);
        free(owner);
        return -1;
    }
    static const char *const classes[] = {"top", "emailngMailAlias", "emailngMailingList", NULL};
    const char **owner_values = xcalloc(n_owners + 1, sizeof *owner_values);
    for (size_t i = 0; i < n_owners; i++)
        owner_values[i] = owners[i];
    struct mod_list m = {NULL, 0};
    mods_add(&m, LDAP_MOD_ADD, "objectClass", classes);
    mods_add_one(&m, LDAP_MOD_ADD, "mail", list);
    mods_add_one(&m, LDAP_MOD_ADD, "emailngAccountStatus", "active");
    mods_add_one(&m, LDAP_MOD_ADD, "emailngListPolicy", policy);
    if (n_owners > 0)
        mods_add(&m, LDAP_MOD_ADD, "emailngListOwner", owner_values);
    char *dn = entry_dn(d->aliases_dn, list);
    int rc = ldap_add_ext_s(d->ld, dn, m.mods, NULL, NULL);
    int result = 0;
    if (rc == LDAP_NO_SUCH_OBJECT) {
        buf_reset(err);
        buf_printf(err, "cannot add list %s: %s does not exist (the directory is not initialised)", list,
                   d->aliases_dn);
        result = -1;
    } else if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot add list %s", list);
        result = -1;
    }
    mods_free(&m);
    free(owner_values);
    free(dn);
    return result;
}

int directory_list_set(struct directory *d, const char *list, const char *attr,
                       const char *const *values, size_t n_values, buf *err)
{
    if (strcmp(attr, "emailngListPolicy") != 0 && strcmp(attr, "emailngListOwner") != 0) {
        buf_printf(err, "attribute %s cannot be set this way", attr);
        return -1;
    }
    int is_list = directory_is_list(d, list, err);
    if (is_list < 0)
        return -1;
    if (!is_list) {
        buf_reset(err);
        buf_printf(err, "no such list %s", list);
        return -1;
    }
    const char **v = xcalloc(n_values + 1, sizeof *v);
    for (size_t i = 0; i < n_values; i++)
        v[i] = values[i];
    struct mod_list m = {NULL, 0};
    mods_add(&m, LDAP_MOD_REPLACE, attr, n_values ? v : NULL);
    char *dn = entry_dn(d->aliases_dn, list);
    int rc = ldap_modify_ext_s(d->ld, dn, m.mods, NULL, NULL);
    int result = 0;
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot change list %s", list);
        result = -1;
    }
    mods_free(&m);
    free(v);
    free(dn);
    return result;
}

int directory_address_use(struct directory *d, const char *address,
                          enum directory_address_use *use, buf *err)
{
    char *owner = NULL;
    int rc = address_use(d, address, use, &owner, err);
    free(owner);
    return rc;
}

int directory_status_is_active(const char *status)
{
    return status != NULL && strcmp(status, "active") == 0;
}

int directory_context_csn(struct directory *d, buf *csn, buf *err)
{
    static const char *const attrs[] = {"contextCSN", NULL};
    LDAPMessage *result = NULL;
    int rc = search(d, d->base, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &result);
    if (rc != LDAP_SUCCESS) {
        ldap_failure(d, rc, err, "cannot read the contextCSN of %s", d->base);
        return -1;
    }
    LDAPMessage *entry = ldap_first_entry(d->ld, result);
    size_t n = 0;
    char **values = entry ? entry_values(d, entry, "contextCSN", &n) : xcalloc(1, sizeof(char *));
    /* One value per server ID; the newest says when anything last changed. */
    const char *newest = NULL;
    for (size_t i = 0; i < n; i++)
        if (newest == NULL || strcmp(values[i], newest) > 0)
            newest = values[i];
    buf_reset(csn);
    if (newest)
        buf_append_str(csn, newest);
    else
        buf_printf(err, "%s has no contextCSN (is the syncprov overlay loaded?)", d->base);
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
    ldap_msgfree(result);
    return newest ? 0 : -1;
}

int directory_snapshot_load(struct directory *d, struct directory_snapshot *s,
                            buf *err)
{
    memset(s, 0, sizeof *s);
    if (directory_user_list(d, &s->users, &s->n_users, err) != 0)
        return -1;
    if (directory_alias_list(d, &s->aliases, &s->n_aliases, err) != 0) {
        directory_snapshot_free(s);
        return -1;
    }
    return 0;
}

void directory_snapshot_free(struct directory_snapshot *s)
{
    directory_user_list_free(s->users, s->n_users);
    directory_alias_list_free(s->aliases, s->n_aliases);
    memset(s, 0, sizeof *s);
}
