/* auth_cache: tells the site's Dovecots that the directory changed.
 * The small site's Dovecot caches passdb and userdb answers
 * (auth_cache_size in templates/dovecot/dovecot.conf: one LDAP search
 * fewer per delivery, per quota-status question and per login); after
 * `emailng user ...` changed an entry (password, quota, spam settings,
 * added, removed) the cache is flushed with `doveadm auth cache flush` on
 * every host whose Dovecot is rendered from a template with the cache
 * (host_kind table; the stores and proxies of the full topology have none),
 * so the change takes effect at once. A host that fails is reported on
 * stderr; its cache expires by itself (auth_cache_ttl). */
#ifndef EMAILNG_AUTH_CACHE_H
#define EMAILNG_AUTH_CACHE_H

#include "site.h"

/* 1 if host's Dovecot caches passdb answers (to be flushed after a change). */
int auth_cache_on(const struct site_host *host);

/* 0 when every host flushed its cache, -1 otherwise (reported). */
int auth_cache_flush(const struct site *site, const char *state_dir);

#endif
