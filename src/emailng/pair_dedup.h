/* pair_dedup: after the catch-up check has synced a user from the store
 * that served a pair during a failover, removes on that store the second
 * copies of the user's messages that the failover let through
 * (src/lib/dedup.h says which; docs/architecture.md 7a) by the store's
 * doveadm server: one `fetch` of the messages saved since window_start
 * less a day, one `expunge mailbox-guid G uid N` per copy. Each removal is
 * one line on standard output and one key="value" line on standard error
 * (emailng-healthd hands the check's standard error to its log):
 *   action="duplicate-removed" user=... msgid=... store=... mailbox=...
 *   uid=... guid=... kept_guid=...
 * Returns the number removed, or -1 with a reason in err (what was
 * removed before the error stays removed). */
#ifndef EMAILNG_PAIR_DEDUP_H
#define EMAILNG_PAIR_DEDUP_H

#include "buf.h"
#include "doveadm_client.h"

int pair_dedup_user(const struct doveadm_target *t, const char *store_name, const char *user,
                    long long window_start, buf *err);

#endif
