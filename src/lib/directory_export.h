/* directory_export: the relays' copies of the directory. The relays hold
 * no directory credentials (S3, X1), so emailng writes what they need to
 * know about users and aliases into tables on them: emailng-policyd's
 * table (policy_table.h) and, on a site of several hosts, Postfix's
 * recipient and sender tables (relay_tables.h). Both come from one
 * snapshot of the directory read under one lock, so they always agree on
 * who exists and who is active, and the last export writes the newest
 * data. Called by `emailng up` once the directory is ready and after every
 * change of users or aliases. */
#ifndef EMAILNG_DIRECTORY_EXPORT_H
#define EMAILNG_DIRECTORY_EXPORT_H

#include "buf.h"
#include "site.h"

int directory_export(const struct site *site, const char *state_dir, const char *ldap_uri, buf *err);

#endif
