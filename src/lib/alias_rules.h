/* alias_rules: whether adding members to an alias keeps the aliases sound
 * (U3, S3). Two rules, checked before anything is written:
 *   - a member in a domain the site serves must name a user, a user's
 *     alternate address or an alias: an unknown one would be accepted at
 *     RCPT and bounced later (backscatter);
 *   - no alias may reach itself through other aliases: Postfix defers such
 *     mail (451 4.6.0) until it bounces.
 * Members in other domains are forwarding targets and are not checked.
 * Pure functions over a directory snapshot (no LDAP here): the callers
 * read the snapshot, this decides. */
#ifndef EMAILNG_ALIAS_RULES_H
#define EMAILNG_ALIAS_RULES_H

#include <stddef.h>

#include "buf.h"
#include "directory.h"

/* 1 if address's domain is one of domains (case-insensitive). */
int alias_rules_domain_served(const char *address, const char *const *domains, size_t n_domains);

/* 0 if alias may get members; else -1 and err says which member breaks
 * which rule ("x@example.test is not a user, address or alias of this
 * site", "loop: a@x -> b@x -> a@x"). */
int alias_rules_check(const struct directory_snapshot *snapshot, const char *const *domains, size_t n_domains,
                      const char *alias, const char *const *members, size_t n_members, buf *err);

#endif
