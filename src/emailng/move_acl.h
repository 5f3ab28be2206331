/* move_acl: the shares (Dovecot ACLs set by `emailng share grant`) of a
 * user that `emailng user move` takes to another store pair. dsync carries
 * a folder's ACL entries (mailbox attributes) and the target store's
 * shared-mailbox dictionary follows (tests/e2e_pairs/test_move.py checks
 * both with Debian's Dovecot 2.3.19), but only to the store it syncs with;
 * the partner gets them when the replicator next syncs the user. So the
 * move reads them on the source store (doveadm acl get, folder by folder)
 * and sets them on both target stores (doveadm acl set, acl recalc) before
 * the old copy goes; it removes the user from the old stores' dictionaries
 * (which nothing else does). Shares that would cross store pairs after the
 * move (the user shares a folder with, or reads a folder of, a user of
 * another pair) are listed first, for the move to refuse or to split them
 * knowingly. */
#ifndef EMAILNG_MOVE_ACL_H
#define EMAILNG_MOVE_ACL_H

#include <stddef.h>

#include "buf.h"
#include "directory.h"
#include "site.h"

struct move_acl_entry {
    char *folder;
    char *id;               /* user=ADDRESS, anyone, authenticated, group=... */
    char *rights;           /* doveadm's names, space-separated */
};

struct move_acls {
    struct move_acl_entry *v;
    size_t n;
};

/* Every ACL entry of address's own folders on store (global ones left out). */
int move_acl_collect(const char *state_dir, const struct site_host *store, const char *address,
                     struct move_acls *out, buf *err);
void move_acls_free(struct move_acls *a);

/* The shares that would join address (on pair `to` after the move) with a
 * user of another pair: one line each in out ("shares FOLDER with USER
 * (pair P)", "reads the shares of OWNER (pair P)"; a user the directory
 * does not answer for counts too: fail closed). Returns how many, or
 * -1 (err). The readers of address's own shares come from acls, the
 * owners whose shares address reads from store's shared-mailbox
 * dictionary. */
int move_acl_crossing(const struct site *site, const char *state_dir, const struct site_host *store,
                      struct directory *d, const char *address, const char *to, const struct move_acls *acls,
                      buf *out, buf *err);

/* Every entry of acls set on store, then the dictionary recalculated. */
int move_acl_apply(const char *state_dir, const struct site_host *store, const char *address,
                   const struct move_acls *acls, buf *err);

/* Removes from store's shared-mailbox dictionary every entry that names
 * address as owner: its mailbox is gone from store, and a reader left on
 * the pair must not open it there (that would create it again). */
int move_acl_forget_owner(const struct site *site, const char *state_dir, const struct site_host *store,
                          const char *address, buf *err);

#endif
