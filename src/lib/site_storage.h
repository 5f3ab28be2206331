/* site_storage: the site file's `storage:` section and what it renders.
 *     storage: {alt_path: /srv/mail-alt, alt_after_days: 90}
 * alt_path turns on Dovecot's ALT storage on every store: mail whose
 * received date (INTERNALDATE) is older than alt_after_days moves there
 * (`emailng storage altmove`, run daily from cron). Each store keeps its
 * ALT files in alt_path/HOST, so a real host mounts its second file system
 * at alt_path and the hosts of the test fabric, which share one file
 * system, do not collide. Unset: no ALT storage. */
#ifndef EMAILNG_SITE_STORAGE_H
#define EMAILNG_SITE_STORAGE_H

#include <yaml.h>

#include "render.h"
#include "site.h"
#include "yaml_config.h"

#define SITE_ALT_AFTER_DAYS_DEFAULT 90

/* Reads the section into *out; every problem is a FILE:LINE:COL report. */
void site_storage_take(ycfg *y, const yaml_node_t *node, struct site_storage *out);

/* A store's ALT folder (alt_path/HOST), malloc'd; NULL without ALT. */
char *site_storage_alt_dir(const struct site *site, const struct site_host *host);

/* The placeholder mail_alt: ":ALT=DIR/%d/%n" on a store with ALT storage,
 * else empty (appended to mail_location in templates/dovecot*); and
 * mail_alt_shared, the same with %%d/%%n for the shared namespace; and
 * public_owner (LOCALPART@DOMAIN) and public_owner_dir (DOMAIN/LOCALPART),
 * the announcement folders' owner account (acl_rights.h), with
 * mail_alt_public, its ":ALT=DIR/DOMAIN/LOCALPART". */
void site_storage_render(const struct site *site, const struct site_host *host, struct render_context *ctx);

#endif
