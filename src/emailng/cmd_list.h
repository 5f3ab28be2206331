/* cmd_list: the "emailng list ..." command (mailing lists, U4;
 * docs/admin-manual.md "Mailing lists").
 *
 *   list create LIST [--policy open|internal|announce] [--owner ADDRESS]...
 *   list delete LIST
 *   list add LIST MEMBER...
 *   list remove LIST MEMBER...
 *   list owner LIST ADDRESS...        the owners (replaces them)
 *   list policy LIST open|internal|announce
 *   list show [LIST] [--json]
 *
 * A list is an alias entry with the class emailngMailingList: its members
 * follow the alias rules (members of the site's domains must exist, no
 * loop through lists and aliases: alias_rules.h); it may be empty. Its
 * local part may not contain "+": LIST+owner and LIST+members are the
 * list's own addresses. Owners of the site's domains must exist. The
 * default policy is internal. Every change exports the relays' tables
 * again (directory_export.h). Exit status 0, 1 failed, 2 usage. */
#ifndef EMAILNG_CMD_LIST_H
#define EMAILNG_CMD_LIST_H

#include "cli.h"

int cmd_list_run(const struct options *o, int argc, char **argv);

#endif
