/* pair_dedup: when a store comes back after a failover, removes the second
 * copies of a user's messages that the failover let through to both
 * stores of the pair (src/lib/dedup.h says which; docs/architecture.md
 * 7a). It asks both stores' doveadm servers for the user's messages saved
 * since window_start less a day (one `fetch` each), plans over both lists
 * together (a copy may still be on one store only: dsync has not carried
 * it yet), and removes each planned copy on every store that has it
 * (`expunge mailbox-guid G uid N`: 2.3.19 does not announce doveadm's
 * expunges to the replicator, so the other store would keep its copy
 * until its next full sync). Each removal is one line on standard output
 * and one line on standard error (emailng-healthd hands the check's
 * standard error to its log):
 *   duplicate-removed user="..." msgid="..." store="..." mailbox="..."
 *   uid="..." guid="..." kept_guid="..."
 * pair_dedup_user returns the number removed, or -1 with a reason in err
 * (what was removed before the error stays removed). */
#ifndef EMAILNG_PAIR_DEDUP_H
#define EMAILNG_PAIR_DEDUP_H

#include "buf.h"
#include "doveadm_client.h"

struct pair_dedup_store {
    const struct doveadm_target *t;
    const char *name;           /* the site's host name, for the log */
};

int pair_dedup_user(const struct pair_dedup_store stores[2], const char *user, long long window_start, buf *err);

/* Both proxies' monitors run the check at about the same moment; the
 * removals are run by one of them. The lock is a folder
 * "emailng-dedup-PAIR" of lock_user (the health probe's account: no pair,
 * not replicated, never a recipient) on the store t: `mailbox create`
 * succeeds for one check only. A lock older than PAIR_DEDUP_LOCK_STALE_S
 * (its UIDVALIDITY is the time it was made) was left by a check that died:
 * it is taken over. Returns 1 when this check holds it, 0 when another
 * does, -1 (err) when it cannot tell. */
#define PAIR_DEDUP_LOCK_STALE_S 600
int pair_dedup_lock(const struct doveadm_target *t, const char *lock_user, const char *pair, long long now,
                    buf *err);
int pair_dedup_unlock(const struct doveadm_target *t, const char *lock_user, const char *pair, buf *err);

#endif
