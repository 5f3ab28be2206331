/* directory: EmailNG's users and aliases in the local slapd.
 *
 * A struct directory is one libldap connection, bound with SASL EXTERNAL
 * over ldapi (the peer's uid/gid is the identity; no password anywhere).
 * Entries follow docs/internals.md:
 *   BASE                          dcObject+organization (or o=/ou= base)
 *   mail=ADDR,ou=users,BASE       inetOrgPerson + emailngMailUser
 *   mail=ADDR,ou=aliases,BASE     emailngMailAlias
 * Addresses are expected already normalised (address_normalize()); every
 * value placed in a DN or filter is escaped here anyway (ldap_escape.h).
 * An address is used once: as a user, a user's alternate address, or an
 * alias.
 *
 * Every operation returns 0, or -1 with a one-line reason in err written
 * for an administrator ("user alice@example.test already exists", "the
 * directory at URI is not answering: Can't contact LDAP server").
 * libldap writes to the socket without MSG_NOSIGNAL: a program using this
 * module must ignore SIGPIPE, or a slapd that goes away kills it.
 * Links with -lldap -llber. */
#ifndef EMAILNG_DIRECTORY_H
#define EMAILNG_DIRECTORY_H

#include <stddef.h>

#include "buf.h"

struct directory;

struct directory_user {
    char *mail;
    unsigned long long quota_bytes;     /* 0: no own quota, site default */
    char *status;                       /* "active", "disabled"; "" if absent */
    char **services;                    /* "smtp" "imap" ... */
    size_t n_services;
    char *mail_host;                    /* "" if absent */
    char **alternate_addresses;
    size_t n_alternate_addresses;
};

struct directory_alias {
    char *mail;
    char **destinations;
    size_t n_destinations;
    char *status;                       /* "" if absent */
    /* Mailing lists (U4): an alias with the class emailngMailingList. */
    int is_list;
    char *list_policy;                  /* "open" "internal" "announce"; "" if absent */
    char **owners;                      /* emailngListOwner */
    size_t n_owners;
};

int directory_open(struct directory **d, const char *uri, const char *base,
                   buf *err);
/* The same over LDAPS from another host: the site's CA must have signed
 * slapd's certificate (its name or address checked), and this client
 * certificate is the SASL EXTERNAL identity (templates/slapd-directory). */
struct directory_tls {
    const char *ca_file, *cert_file, *key_file;
};
int directory_open_tls(struct directory **d, const char *uri, const char *base,
                       const struct directory_tls *tls, buf *err);
void directory_close(struct directory *d);          /* NULL is fine */

/* Create BASE, ou=users and ou=aliases if missing (idempotent).  For a
 * dc= base the organization name (o) is domains[0], else the dc value. */
int directory_init_base(struct directory *d, const char *const *domains,
                        size_t n_domains, buf *err);

/* New user: cn and sn are the local part, uid is the address, status
 * active, services smtp imap pop3 sieve lmtp.  quota_bytes 0 leaves
 * emailngQuota absent (site default); mail_host NULL or "" leaves
 * emailngMailHost absent.  Refused if the address is in use already. */
int directory_user_add(struct directory *d, const char *address,
                       const char *password_hash,
                       unsigned long long quota_bytes, const char *mail_host,
                       buf *err);
/* Replaces emailngAccountStatus. */
int directory_user_set_status(struct directory *d, const char *address, const char *status, buf *err);
/* The status of a user whose mailbox `emailng user del` is putting away
 * on stores whose disks are elsewhere (mailbox_remote.c): not active, so
 * nothing delivers to or logs in as the user (every filter of the relays'
 * tables, the passdbs, the userdbs and the stores' Postfix asks for
 * "active"); the entry goes once every store has put the mailbox away. */
#define DIRECTORY_STATUS_DELETING "deleting"
int directory_user_del(struct directory *d, const char *address, buf *err);
int directory_user_set_password(struct directory *d, const char *address,
                                const char *password_hash, buf *err);
/* quota_bytes 0 removes emailngQuota: back to the site default. */
int directory_user_set_quota(struct directory *d, const char *address,
                             unsigned long long quota_bytes, buf *err);

/* Replaces emailngMailHost: the store pair that holds the user's mailbox
 * (`emailng user move`). */
int directory_user_set_mail_host(struct directory *d, const char *address, const char *mail_host, buf *err);

/* Replaces emailngEnabledService: the services the user may use (e.g.
 * only "imap" for the health monitor's probe account). */
int directory_user_set_services(struct directory *d, const char *address,
                                const char *const *services, size_t n_services,
                                buf *err);

/* The user's spam settings (F4): emailngSpamThreshold (one value),
 * emailngSpamAllow and emailngSpamDeny (lists). attr must be one of those
 * three. set replaces all values (n_values 0 removes the attribute); get
 * returns an owned NULL-terminated array (free each and the array). */
int directory_user_set_values(struct directory *d, const char *address,
                              const char *attr, const char *const *values,
                              size_t n_values, buf *err);
int directory_user_get_values(struct directory *d, const char *address,
                              const char *attr, char ***values,
                              size_t *n_values, buf *err);

/* One edit of a spam list (emailngSpamAllow or emailngSpamDeny): add value
 * if it is absent, or remove it if present; values compare without case. */
struct directory_list_edit {
    const char *attr;
    const char *value;
    int add;                    /* 1 add, 0 remove */
};
/* Applies edits in order: one read and at most one write per attribute
 * touched (`emailng user spam`, emailng-junklist). *changed (may be NULL)
 * is set to 1 if a list was written. */
int directory_user_edit_lists(struct directory *d, const char *address,
                              const struct directory_list_edit *edits,
                              size_t n_edits, int *changed, buf *err);

/* 1 if the user exists, is active and plain matches its userPassword;
 * 0 otherwise (no such user included); -1 with err if the directory
 * cannot be read. Needs a reader of userPassword (root over ldapi). */
int directory_user_check_password(struct directory *d, const char *address, const char *plain, buf *err);

/* Fill *out (cleared first; free with directory_user_clear()). */
int directory_user_get(struct directory *d, const char *address,
                       struct directory_user *out, buf *err);
void directory_user_clear(struct directory_user *u);

/* All users sorted by address; free with directory_user_list_free(). */
int directory_user_list(struct directory *d, struct directory_user **users,
                        size_t *n_users, buf *err);
void directory_user_list_free(struct directory_user *users, size_t n_users);

/* Create ALIAS forwarding to dests, or add the dests not yet there to an
 * existing alias.  Refused if ALIAS is a user's address or a destination
 * is the alias itself.  n_dests must be at least 1.  was_member (n_dests
 * flags, or NULL) says which dests the alias had already (or repeated). */
int directory_alias_add(struct directory *d, const char *alias,
                        const char *const *dests, size_t n_dests,
                        int *was_member, buf *err);
int directory_alias_del(struct directory *d, const char *alias, buf *err);

/* Remove members from an alias; removing the last one deletes the alias
 * (*alias_deleted = 1).  A member the alias does not have is an error
 * that names it, and nothing is changed. */
int directory_alias_remove_members(struct directory *d, const char *alias,
                                   const char *const *members, size_t n_members,
                                   int *alias_deleted, buf *err);

/* Mailing lists (U4): an alias entry that also has the auxiliary class
 * emailngMailingList, its posting policy and owners. A list may have no
 * members (removing the last one keeps the list). */
int directory_list_create(struct directory *d, const char *list, const char *policy,
                          const char *const *owners, size_t n_owners, buf *err);
/* Replaces emailngListPolicy or emailngListOwner (attr) of a list. */
int directory_list_set(struct directory *d, const char *list, const char *attr,
                       const char *const *values, size_t n_values, buf *err);
/* 1 if address is a list, 0 if not (or no such entry), -1 on error. */
int directory_is_list(struct directory *d, const char *address, buf *err);

/* What an address is used for now. */
enum directory_address_use {
    DIRECTORY_ADDRESS_FREE,
    DIRECTORY_ADDRESS_USER,             /* mail of a user entry */
    DIRECTORY_ADDRESS_USER_ALTERNATE,   /* emailngAlternateAddress of a user */
    DIRECTORY_ADDRESS_ALIAS,            /* mail of an alias entry */
    DIRECTORY_ADDRESS_OTHER,            /* some other entry */
};
int directory_address_use(struct directory *d, const char *address,
                          enum directory_address_use *use, buf *err);

/* The one rule for "this user or alias receives, sends and logs in":
 * emailngAccountStatus is "active".  A missing status is not active, as in
 * every LDAP filter Postfix and Dovecot use (templates/). */
int directory_status_is_active(const char *status);

/* Every user and alias, read once, so that what is computed from them
 * (the relays' tables, alias checks) agrees.  Sorted by address. */
struct directory_snapshot {
    struct directory_user *users;
    size_t n_users;
    struct directory_alias *aliases;
    size_t n_aliases;
};
int directory_snapshot_load(struct directory *d, struct directory_snapshot *s,
                            buf *err);
/* The base entry's contextCSN (the syncprov overlay keeps it: it changes
 * with every write below the base), the newest if there are several: a
 * cheap "did anything change" for the relays' table makers. */
int directory_context_csn(struct directory *d, buf *csn, buf *err);
void directory_snapshot_free(struct directory_snapshot *s);

/* All aliases sorted by address; free with directory_alias_list_free(). */
int directory_alias_list(struct directory *d, struct directory_alias **aliases,
                         size_t *n_aliases, buf *err);
void directory_alias_list_free(struct directory_alias *aliases,
                               size_t n_aliases);

#endif
