/* cmd_dkim: `emailng dkim list|rotate|activate|retire` (issue 11), the
 * site's DKIM selectors (src/lib/dkim.h) and their safe rotation:
 *   rotate DOMAIN [--selector NAME]  a new key, pending: published by
 *       `emailng dns`, not used for signing;
 *   activate DOMAIN  only once the system resolver serves the pending
 *       record exactly: it signs from then on (every relay's OpenDKIM here
 *       reloads), the old selector becomes retiring, still published;
 *   retire DOMAIN [--force]  removes retiring selectors older than
 *       dkim.retire_after_days (all of them with --force).
 * Exit status 0 done, 1 failed (refused), 2 usage. */
#ifndef EMAILNG_CMD_DKIM_H
#define EMAILNG_CMD_DKIM_H

#include "cli.h"

int cmd_dkim_run(const struct options *o, int argc, char **argv);

#endif
