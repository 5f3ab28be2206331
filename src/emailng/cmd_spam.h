/* cmd_spam: "emailng user spam ADDRESS [OPTIONS]", a user's own spam
 * handling (F4), kept in the directory and applied on the store by the
 * global Sieve script (docs/architecture-filtering.md):
 *
 *   --threshold N|default   score (0.5 .. 10.0, one decimal) at or above
 *                           which mail goes to Junk; default = site value
 *   --allow SENDER          never Junk mail from SENDER (address or @domain)
 *   --deny SENDER           always Junk mail from SENDER
 *   --unallow SENDER, --undeny SENDER   take SENDER off a list
 *
 * Options may repeat; with none, the settings are shown. argv[0] is "spam".
 * Returns 0, 1 (error) or 2 (usage). */
#ifndef EMAILNG_CMD_SPAM_H
#define EMAILNG_CMD_SPAM_H

#include "cmd_user.h"

int cmd_user_spam(int argc, char **argv, const struct directory_target *t);

#endif
