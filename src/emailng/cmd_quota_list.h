/* cmd_quota_list: `emailng user list --quota [--over PERCENT] [--json]`
 * (U2): every user's quota usage and limit as the stores count them
 * (`doveadm quota get -A` on one store of each pair: the first that
 * answers), fullest first; --over keeps those at or above PERCENT of a
 * limit. Exit status 0, 1 when no store of a pair answered, 2 usage. */
#ifndef EMAILNG_CMD_QUOTA_LIST_H
#define EMAILNG_CMD_QUOTA_LIST_H

#include "cmd_user.h"

/* 1 if `user list` was given --quota or --over (this module's job). */
int cmd_quota_list_wanted(int argc, char **argv);

/* argv[0] is "list". */
int cmd_quota_list(int argc, char **argv, const struct directory_target *t);

#endif
