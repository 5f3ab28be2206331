/* store_pairs: a site's store pairs, each once, told apart by their exact
 * names (a prefix is another pair: pair1 is not pair10). */
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

#endif
