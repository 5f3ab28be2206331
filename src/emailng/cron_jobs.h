/* cron_jobs: EmailNG's daily jobs, in one file an administrator reads in
 * /etc/cron.d: emailng for the default state directory, emailng-PREFIX
 * for another (fabric_system_file). A table says what each job runs and
 * where it is wanted:
 *   storage altmove       a store with ALT storage (alt_storage.h);
 *   fts optimize --all    a store with full-text search: the Xapian
 *                         backend only queues the removal of expunged
 *                         messages until then, and compacts its index.
 * `up` writes the jobs its host(s) want (or removes the file when none
 * is); `down` removes it. Without cron (/etc/cron.d missing) `up` names
 * the commands to run daily. */
#ifndef EMAILNG_CRON_JOBS_H
#define EMAILNG_CRON_JOBS_H

#include "buf.h"
#include "site.h"

/* host: the --host of `up` (NULL: every host of the site runs here; the
 * lines then name no --host). */
int cron_jobs_install(const struct site *site, const char *state_dir, const char *host, buf *err);
int cron_jobs_remove(const char *state_dir, buf *err);

#endif
