/* mailbox_lifecycle: what happens on the stores' disks when a user is
 * deleted or added (U6). A user's mailbox (mail, Sieve scripts, indexes)
 * is DATA/STORE/mail/DOMAIN/LOCALPART on every store that holds the user's
 * pair (the small site: its one store).
 *
 * retire (user del): the user's sessions are ended (doveadm kick on each
 * store, doveadm proxy kick on each proxy of a site of several hosts),
 * then the mailbox is moved to DATA/STORE/archive/DOMAIN/LOCALPART.STAMP
 * (STAMP = UTC time of the deletion; the archive folder is root's, mode
 * 0700, outside every login path), or removed when purge is set. The
 * caller deletes the directory entry first, so nothing can log in or
 * deliver while the mailbox moves.
 *
 * clear_leftover (user add): a mailbox already at the path (left by hand,
 * restored from a backup, or by an older emailng) is archived the same
 * way, so a re-added address always starts with an empty mailbox.
 *
 * Both append one line per store to report ("mail: archived in PATH").
 * A store whose data is not on this machine (the directory host of a
 * deployed site) does the same through its doveadm server
 * (mailbox_remote.h); one that does not answer counts as a failure (-1)
 * and err names it. There the caller keeps the entry, not active, until
 * retire succeeds (cmd_user.c), instead of deleting it first.
 *
 * create_folders (user add, small site): the new user's INBOX and the
 * folders the configuration creates automatically are made at once.
 * Otherwise the first deliveries create them, and two LMTP processes
 * creating folders of one new user at the same time can make Dovecot 2.3
 * panic on a lock-order deadlock the kernel reports (the message waits in
 * Postfix's queue for the retry). Only where the site has one store: with
 * a pair, each store creating its own folders would give them two GUIDs
 * that replication then has to reconcile. A failure is a note in report,
 * never an error: the folders are still created at first use. */
#ifndef EMAILNG_MAILBOX_LIFECYCLE_H
#define EMAILNG_MAILBOX_LIFECYCLE_H

#include "buf.h"
#include "site.h"

/* pair: the user's emailngMailHost (NULL or "": the site's one pair). */
int mailbox_retire(const struct site *site, const char *state_dir, const char *address, const char *pair,
                   int purge, buf *report, buf *err);
int mailbox_clear_leftover(const struct site *site, const char *state_dir, const char *address, const char *pair,
                           buf *report, buf *err);
void mailbox_create_folders(const struct site *site, const char *state_dir, const char *address, buf *report);

#endif
