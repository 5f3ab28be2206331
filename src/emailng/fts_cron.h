/* fts_cron: the daily `emailng fts optimize --all` from cron (M5). The
 * Xapian backend only queues the removal of expunged messages from its
 * index (they are never in an answer meanwhile); the optimize applies the
 * queue and compacts the index, which the plugin's authors advise once a
 * day. `up` writes /etc/cron.d/emailng-fts (emailng-fts-PREFIX for a
 * state directory other than the default) when a store runs here and
 * search.fts is true, removes it otherwise; `down` removes it. */
#ifndef EMAILNG_FTS_CRON_H
#define EMAILNG_FTS_CRON_H

#include "buf.h"
#include "site.h"

/* host: the --host of `up` (NULL: every host of the site runs here). */
int fts_cron_install(const struct site *site, const char *state_dir, const char *host, buf *err);
int fts_cron_remove(const char *state_dir, buf *err);

#endif
