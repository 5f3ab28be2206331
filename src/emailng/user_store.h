/* user_store: on which store a command runs doveadm for a user.
 * pair_active_store(): the store the proxies send a pair to (the first
 * proxy's table written by emailng-healthd, DATA/PROXY/healthd/pairs.passwd),
 * else the pair's first store in the site file; NULL if no store holds it.
 * user_store_find(): the user's pair from the directory (emailngMailHost;
 * a user without one is on the only pair of a site that has one pair),
 * then that pair's active store; -1 with a reason in err (no such user,
 * a pair the site file does not have, the directory unreadable). */
#ifndef EMAILNG_USER_STORE_H
#define EMAILNG_USER_STORE_H

#include "buf.h"
#include "directory.h"
#include "site.h"

const struct site_host *pair_active_store(const struct site *site, const char *state_dir, const char *pair);

int user_store_find(const struct site *site, const char *state_dir, struct directory *d, const char *address,
                    const struct site_host **store, buf *err);

#endif
