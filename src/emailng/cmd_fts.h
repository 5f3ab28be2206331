/* cmd_fts: "emailng fts rescan|reindex|optimize USER|--all [--host STORE]" (M5),
 * the full-text indexes of the stores (docs/admin-manual.md "Search").
 * Indexes are per replica, so each command runs on every store whose
 * configuration is on this machine (the small site: its one host; the
 * test fabric: every store, inside its namespace), or only on --host.
 * For USER, a store without the user's mailbox is skipped (its pair does
 * not hold the user, or no mail came yet); no store with it is a failure.
 *   rescan:  `doveadm fts rescan`: the index is compared with the folders
 *            at the next indexing; with the Xapian backend that means the
 *            user's index is dropped and built again on the next delivery
 *            or search (cheap now, the cost comes later).
 *   reindex: rescan, then `doveadm index '*'`: every folder indexed now;
 *            when the command returns, searches are answered from the index.
 *   optimize: `doveadm fts optimize`: the Xapian backend applies the
 *            expunges it queued (an expunged message stays in the index,
 *            never in an answer, until then) and compacts the index; the
 *            plugin's authors advise once a day (cron: fts_cron.h).
 * Exit 0 when every store did it, 1 otherwise, 2 usage. */
#ifndef EMAILNG_CMD_FTS_H
#define EMAILNG_CMD_FTS_H

#include "cli.h"

int cmd_fts_run(const struct options *o, int argc, char **argv);

#endif
