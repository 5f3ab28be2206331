/* cmd_quarantine: "emailng quarantine list|release ID|delete ID" (F1).
 * The quarantine is amavisd's folder DATA/amavis/quarantine on the relay
 * host, one file per message ("virus-MAILID", "spam-MAILID"), capped at
 * filter.quarantine.size (amavisd removes the oldest files first).
 * release re-sends the message to its original recipients through the
 * relay's Postfix (sendmail -C ETC/postfix; the content filter is not asked
 * again: releasing is the administrator's decision) and deletes the file.
 * Every relay has its own quarantine: host (--host, or NULL) selects one;
 * without it list shows every relay's, and release/delete act on the relay
 * whose quarantine holds the ID. Returns 0, 1 (error) or 2 (usage). */
#ifndef EMAILNG_CMD_QUARANTINE_H
#define EMAILNG_CMD_QUARANTINE_H

#include "site.h"

/* json: `list` prints {"relays":[{"name":..,"messages":[{"id","date","bytes","from","to","subject"}]}]}. */
int cmd_quarantine(const struct site *site, const char *state_dir, const char *host, int json, int argc,
                   char **argv);

#endif
