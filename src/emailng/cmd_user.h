/* cmd_user: the "emailng user ..." and "emailng alias ..." commands.
 *
 *   user add ADDRESS [--quota SIZE] [--password-stdin]
 *   user del ADDRESS
 *   user passwd ADDRESS [--password-stdin]
 *   user quota ADDRESS SIZE|default
 *   user show ADDRESS
 *   user list
 *   alias add ALIAS DEST [DEST...]
 *   alias del ALIAS
 *   alias list
 *
 * argv[0] is the subcommand ("add" ...), argc counts it.  A bare local
 * part gets the site's primary domain.  Passwords are read from standard
 * input (--password-stdin, one line) or asked twice on the terminal, never
 * taken from argv.  Success prints one confirmation line (show and list
 * print their data) and returns 0; errors go to stderr as
 * "emailng: user add: REASON" and return 1, usage errors return 2. */
#ifndef EMAILNG_CMD_USER_H
#define EMAILNG_CMD_USER_H

struct directory_target {
    const char *ldap_uri;           /* ldapi://... of the directory host */
    const char *base;               /* e.g. dc=example,dc=test */
    const char *primary_domain;     /* domain for bare local parts */
    const char *default_mail_host;  /* emailngMailHost of new users */
};

int cmd_user(int argc, char **argv, const struct directory_target *t);
int cmd_alias(int argc, char **argv, const struct directory_target *t);

#endif
