/* alt_storage: the stores' ALT storage (storage.alt_path, site_storage.h)
 * on the host: its folder, the check that it is really there, and the
 * daily move of old mail.
 *
 * Dovecot does not notice an ALT file system that is not mounted: it reads
 * an empty mount point as "no files" and the old mail of every user fails
 * to open. So `up` marks the ALT folder the first time it sees it
 * (ALT/.emailng-alt) and records that in DATA/alt-storage; from then on a
 * folder without the mark is a missing ALT file system: `up` and `status`
 * say so, and `storage altmove` refuses to move mail onto it.
 *
 * The move is `doveadm altmove -A before Nd`, then `doveadm purge -A`, on each store (ALT does not
 * replicate: each store moves its own copy), daily from cron (cron_jobs.h). */
#ifndef EMAILNG_ALT_STORAGE_H
#define EMAILNG_ALT_STORAGE_H

#include "buf.h"
#include "cli.h"
#include "site.h"

enum alt_state {
    ALT_NONE,       /* no ALT storage on this host */
    ALT_OK,         /* the marked folder is there */
    ALT_MISSING,    /* marked once, the mark is gone: not mounted? */
    ALT_NEW,        /* configured, not prepared yet (before the first up) */
};

enum alt_state alt_storage_state(const struct site *site, const struct site_host *host, const char *state_dir);

/* For `up` (Dovecot's prepare on a store): the folder and its mark the
 * first time; a missing one is reported in *warning (not an error: the
 * store still serves its recent mail). */
int alt_storage_prepare(const struct site *site, const struct site_host *host, const char *state_dir,
                        buf *warning, buf *err);

/* The line `status` and `up` print for a missing ALT file system. */
void alt_storage_missing_text(const struct site *site, const struct site_host *host, buf *out);

/* `emailng storage altmove [--host STORE]`. */
int cmd_storage_run(const struct options *o, int argc, char **argv);

#endif
