/* cmd_user: the "emailng user ..." and "emailng alias ..." commands.
 *
 *   user add ADDRESS [--quota SIZE] [--password-stdin]
 *   user del ADDRESS [--purge]
 *   user passwd ADDRESS [--password-stdin]
 *   user quota ADDRESS SIZE|default
 *   user show ADDRESS
 *   user list
 *   alias add ALIAS DEST [DEST...]
 *   alias del ALIAS [MEMBER...]
 *   alias list
 *
 * Users and aliases must be in a domain the site serves; quotas are
 * bounded (quota_size_check). `user del` removes the user from every
 * alias (an alias left empty goes too), deletes the entry and archives the
 * mailbox on the stores (mailbox_lifecycle.h), or removes it with
 * --purge; `user add` archives a mailbox left at the address first, so a
 * new user never sees an old one's mail. Alias members in served domains
 * must exist and may not make a loop (alias_rules.h).
 *
 * argv[0] is the subcommand ("add" ...), argc counts it.  A bare local
 * part gets the site's primary domain.  Passwords are read from standard
 * input (--password-stdin, one line) or asked twice on the terminal, never
 * taken from argv.  Success prints one confirmation line (show and list
 * print their data) and returns 0; errors go to stderr as
 * "emailng: user add: REASON" and return 1, usage errors return 2. */
#ifndef EMAILNG_CMD_USER_H
#define EMAILNG_CMD_USER_H

#include "cli.h"
#include "site.h"

struct directory_target {
    const struct site *site;        /* domains served, stores (mailboxes) */
    const char *state_dir;
    const char *ldap_uri;           /* ldapi://... of the directory host */
    const char *base;               /* e.g. dc=example,dc=test */
    const char *primary_domain;     /* domain for bare local parts */
    int json;                       /* --json: listings as JSON */
};

/* argv[0] is the subcommand; the directory is the one of the site the
 * state directory runs. A successful add or del exports the relays'
 * tables again (directory_export.h). */
int cmd_user_run(const struct options *o, int argc, char **argv);
int cmd_alias_run(const struct options *o, int argc, char **argv);

#endif
