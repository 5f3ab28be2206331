/* cmd_replication: "emailng replication status|caught-up" (M3), run from
 * any host that may reach the stores' doveadm servers (port_doveadm): a
 * proxy, a store, an administrator's host on the store network.
 * status [--store ADDR|NAME]: every store's replicator, per user (priority,
 *   times since the last fast/full/successful sync, failed); exit 0 when
 *   no user has a sync queued or failed, 1 otherwise or if a store does
 *   not answer.
 * caught-up [--store ADDR --partner ADDR]: the check of emailng-healthd
 *   (docs/healthd.md "The catch-up check"; without options it reads
 *   HEALTHD_STORE, HEALTHD_PARTNER, HEALTHD_PAIR): asks the partner's
 *   replicator which users still have a sync queued or failed, has the
 *   partner's doveadm server sync each of them with the returning store now
 *   (`doveadm sync -d`, the replicator's own parameters), and asks again.
 *   When caught up and the failover's start is known (--since UNIXTIME or
 *   HEALTHD_DOWN_SINCE), it removes on both stores the second copies the
 *   failover let through (pair_dedup.h: under a lock on the partner, so
 *   that one of the two proxies' checks does it; one line each on
 *   standard error, which healthd logs).
 *   Exit 0 = caught up (nothing pending), 1 = not yet, 2 = usage or site
 *   error.
 * Both use TLS checked against the site's CA and the pair's doveadm
 * password (STATE/secrets/doveadm-password). */
#ifndef EMAILNG_CMD_REPLICATION_H
#define EMAILNG_CMD_REPLICATION_H

#include "site.h"

int cmd_replication(const struct site *site, const char *state_dir, int argc, char **argv);

#endif
