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
 * It is written from the same snapshot of the directory as the relays'
 * Postfix tables, at the same moments (directory_export.h). It lives in STATE/data/HOST/policyd/table on every relay host (not under
 * etc/, which `up` replaces), is replaced atomically, and the running
 * daemon is sent SIGHUP so it reloads at once (it also notices the new
 * mtime within table_check_interval seconds). */
#ifndef EMAILNG_POLICY_TABLE_H
#define EMAILNG_POLICY_TABLE_H

#include "buf.h"
#include "directory.h"
#include "site.h"

/* The table text (appended) from a snapshot's active users and aliases
 * (directory_status_is_active()) and the site's overrides; default_pair
 * is the store pair of users without their own. */
void policy_table_build(const struct directory_snapshot *snapshot, const struct site *site, const char *default_pair,
                        buf *out);

/* Writes the table for every relay host of the site under state_dir and
 * tells a running emailng-policyd to reload. */
int policy_table_export(const struct site *site, const char *state_dir, const struct directory_snapshot *snapshot,
                        buf *err);

/* The store pair of users without their own: the first store's. */
const char *policy_table_default_pair(const struct site *site);

/* A relay's table pulled from the proxies (emailng-tablesync): written
 * when it differs (*changed = 1, its daemon told to reload). The caller
 * has checked it with the daemon's own parser. */
int policy_table_install(const char *state_dir, const char *host, const char *text, size_t len, int *changed,
                         buf *err);

/* STATE/data/HOST/policyd/table (caller frees). */
char *policy_table_path(const char *state_dir, const char *host);

#endif
