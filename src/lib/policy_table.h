/* policy_table: the table emailng-policyd reads on the relays (format:
 * docs/policyd.md, "The exported table"), exported from the directory so
 * that the relays need no directory credentials.
 *
 *   emailng-policyd-table 1
 *   mailbox   ADDRESS PAIR            every active user and its store pair
 *   alternate ADDRESS MAILBOX         the active users' other addresses
 *   alias     ADDRESS MEMBER...       active aliases (at most 1000 members a line)
 *   limit     ADDRESS KEY=N...        per-user send limits from the site file
 *                                     (policy.limits.overrides)
 *
 * `emailng up` exports it once the directory is ready, and every
 * successful `emailng user add|del` / `alias add|del` exports it again.
 * It lives in STATE/data/HOST/policyd/table on every relay host (not under
 * etc/, which `up` replaces), is replaced atomically, and the running
 * daemon is sent SIGHUP so it reloads at once (it also notices the new
 * mtime within table_check_interval seconds). Concurrent exports are
 * serialised with a lock file next to the table. */
#ifndef EMAILNG_POLICY_TABLE_H
#define EMAILNG_POLICY_TABLE_H

#include "buf.h"
#include "directory.h"
#include "site.h"

/* The table text from the directory's users and aliases and the site's
 * overrides; default_pair is the store pair of users without their own. */
int policy_table_build(struct directory *d, const struct site *site, const char *default_pair,
                       buf *out, buf *err);

/* Writes the table for every relay host of the site under state_dir and
 * tells a running emailng-policyd to reload. Opens its own connection to
 * the directory at ldap_uri. */
int policy_table_export(const struct site *site, const char *state_dir, const char *ldap_uri, buf *err);

/* STATE/data/HOST/policyd/table (caller frees). */
char *policy_table_path(const char *state_dir, const char *host);

#endif
