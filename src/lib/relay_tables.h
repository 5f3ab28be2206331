/* relay_tables: the Postfix lookup tables of a relay of a site of several
 * hosts, exported from the directory so that the relays never reach it
 * (S3, X1). Two tables in STATE/data/HOST/postfix/ of every relay-only
 * host, each a text file and the LMDB database postmap builds from it
 * (NAME.lmdb, what Postfix reads):
 *
 *   relay-recipients   ADDRESS OK       every address that receives mail:
 *                                       active users, their other addresses,
 *                                       active aliases (relay_recipient_maps)
 *   sender-logins      ADDRESS LOGIN    who may send as an address
 *                                       (smtpd_sender_login_maps)
 *
 * A user whose emailngEnabledService lacks lmtp is no recipient, one that
 * lacks smtp sends as no address (the health monitor's probe account).
 *
 * Written from the same snapshot as the policy table and at the same
 * moments (directory_export.h), atomically, and only when the content
 * changed; then `postmap
 * lmdb:FILE` (with an empty main.cf of its own) updates the database in one transaction, which
 * running Postfix processes see at their next lookup (no reload: a reload
 * while the relay delivers delays those messages by minutes). The small
 * site reads the directory directly and gets no tables. */
#ifndef EMAILNG_RELAY_TABLES_H
#define EMAILNG_RELAY_TABLES_H

#include "buf.h"
#include "directory.h"
#include "site.h"

/* The two tables' text (appended) from a snapshot of the directory;
 * "active" is directory_status_is_active(), as in the policy table. */
void relay_tables_build(const struct directory_snapshot *snapshot, buf *recipients, buf *senders);

/* Writes both tables for every relay-only host and builds their databases
 * (directory_export.h calls it with the snapshot the policy table uses). */
int relay_tables_export(const struct site *site, const char *state_dir, const struct directory_snapshot *snapshot,
                        buf *err);

/* Creates empty tables for host if it has none yet, and builds a missing
 * or stale database (Postfix refuses to start on a missing one); the
 * export fills them. */
int relay_tables_ensure(const char *state_dir, const char *host, buf *err);

/* A relay's copy pulled from the proxies (emailng-tablesync, where the
 * directory is on another host): name is "relay-recipients" or
 * "sender-logins". relay_table_check() refuses text that is not such a
 * table (every line "ADDRESS OK", resp. "ADDRESS LOGIN", addresses as
 * address_normalize() takes them, comments, nothing else) with the line;
 * relay_tables_install() writes it if it differs (*changed = 1) and
 * builds the database, as the export does. */
int relay_table_check(const char *name, const char *text, size_t len, buf *err);
int relay_tables_install(const char *state_dir, const char *host, const char *name, const char *text, size_t len,
                         int *changed, buf *err);

#endif
