/* auth_cache: tells the site's Dovecots that the directory changed.
 * Dovecot caches passdb and userdb answers (auth_cache_size in
 * templates/dovecot/dovecot.conf: one LDAP search fewer per delivery, per
 * quota-status question and per login); after `emailng user ...` changed
 * an entry (password, quota, spam settings, added, removed) the caches are
 * flushed with `doveadm auth cache flush` on every host running a Dovecot
 * with a user database (stores, proxies, the small site's one host), so
 * the change takes effect at once. A host that cannot be reached is
 * reported on stderr; its cache expires by itself (auth_cache_ttl). */
#ifndef EMAILNG_AUTH_CACHE_H
#define EMAILNG_AUTH_CACHE_H

#include "site.h"

/* 0 when every host flushed its cache, -1 otherwise (reported). */
int auth_cache_flush(const struct site *site, const char *state_dir);

#endif
