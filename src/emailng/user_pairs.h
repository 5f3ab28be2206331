/* user_pairs: which store pair holds a user's mailbox (the directory's
 * emailngMailHost, read by the proxies to route and by the stores' userdb
 * filter). user_pair_for_new_user() places a new user: the pair named by
 * `user add --pair NAME` (it must be one of the site's pairs), else the
 * pair with the fewest users (store_pairs_fewest over a count of every
 * user's emailngMailHost). Users, not bytes: the count is one directory
 * search where `user add` runs, while bytes would need a doveadm quota
 * query per user on every pair's store; a new pair starts empty either
 * way, and moving users (`user move`) is how full pairs are relieved.
 * Returns 0 with *pair (caller frees), or -1 with a reason in err. */
#ifndef EMAILNG_USER_PAIRS_H
#define EMAILNG_USER_PAIRS_H

#include "buf.h"
#include "directory.h"
#include "site.h"

int user_pair_for_new_user(const struct site *site, struct directory *d, const char *requested, char **pair,
                           buf *err);

/* "pair1, pair2": the site's pairs, for messages. */
void user_pairs_names(const struct site *site, buf *out);

#endif
