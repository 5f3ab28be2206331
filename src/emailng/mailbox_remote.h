/* mailbox_remote: put a user's mailbox away on a store whose disk is not
 * on this machine (the directory host of a deployed site), through the
 * store's doveadm server (implicit TLS, the site's CA, the pair's doveadm
 * secret from STATE/secrets/doveadm-password).
 *
 * The same result as the local path's rename (mailbox_lifecycle.c): the
 * tree DATA/STORE/mail/DOMAIN/LOCALPART becomes
 * DATA/STORE/archive/DOMAIN/LOCALPART.STAMP on the store's own disk, root's
 * and mode 0700: `doveadm fs copy` of every file of the tree (the posix
 * driver hard-links, so nothing is copied twice on one file system), then
 * `doveadm fs delete -R` of the tree, then `fs stat` that it is gone.
 * purge skips the copy. No userdb lookup is involved: it works while the
 * user has no active entry (before `user add` writes it, after `user del`
 * made it inactive), so nothing can deliver into the tree meanwhile.
 * Before, the user's sessions on the store are ended (`kick`) and the
 * store's replicator forgets the user (`replicator remove`).
 *
 * One line per store in report, as the local path writes them. Returns 0,
 * or -1 with err naming the store that did not answer or failed; a store
 * that failed keeps the mailbox where it was (a retry finds it). */
#ifndef EMAILNG_MAILBOX_REMOTE_H
#define EMAILNG_MAILBOX_REMOTE_H

#include "buf.h"
#include "site.h"

/* kick: end the user's sessions first (user del). absent_text: the
 * report line when the store has no mailbox (NULL: no line). */
int mailbox_remote_put_away(const struct site *site, const char *state_dir, const struct site_host *store,
                            const char *address, int purge, int kick, const char *absent_text, buf *report,
                            buf *err);

#endif
