/* store_pairs: a site's store pairs, each once, told apart by their exact
 * names (a prefix is another pair: pair1 is not pair10); and where a new
 * user goes (store_pairs_fewest: the pair with the fewest users). */
#ifndef EMAILNG_STORE_PAIRS_H
#define EMAILNG_STORE_PAIRS_H

#include <stddef.h>

#include "buf.h"
#include "site.h"

/* 1 if site->hosts[i] is a store with a pair and no earlier host of the
 * site file is a store of the same pair, else 0. */
int store_pair_first_host(const struct site *site, size_t i);

/* The proxies' pair table before emailng-healthd has written one
 * (DATA/healthd/pairs.passwd, Dovecot passwd-file form): every pair to its
 * first store in the site file, one "PAIR:::::::host=ADDRESS nopassword"
 * line each, appended to out. */
void store_pairs_default_passwd(const struct site *site, buf *out);

/* The site's pairs in site-file order, each once: *names gets an array of
 * the site's own strings (free the array only). Returns their number. */
size_t store_pairs_list(const struct site *site, const char ***names);

/* 1 if pair is a store pair of the site. */
int store_pairs_has(const struct site *site, const char *pair);

/* The store of pair that comes first in the site file (its primary), or
 * its partner; NULL if the site has no such pair. */
const struct site_host *store_pairs_first_store(const struct site *site, const char *pair);

/* Placement of a new user: the index of the pair with the fewest users
 * (users[i] for pair i), the earliest on a tie, so that a new pair fills
 * up first and equal pairs take turns. n must be at least 1. */
size_t store_pairs_fewest(const size_t *users, size_t n);

#endif
