/* site_backup: the site file's `backup:` section (M6), where `emailng
 * backup` keeps its generations and how many:
 *     backup: {path: /srv/emailng-backup, keep: 7}
 * path: an absolute folder (default: STATE/backup, chosen by the command,
 * since the site file does not know the state directory); keep: how many
 * complete generations stay, 1 to 1000 (default 7). Problems are reported
 * as FILE:LINE:COL through yaml_config. */
#ifndef EMAILNG_SITE_BACKUP_H
#define EMAILNG_SITE_BACKUP_H

#include <yaml.h>

#include "site.h"
#include "yaml_config.h"

#define SITE_BACKUP_KEEP_DEFAULT 7
#define SITE_BACKUP_KEEP_MAX 1000

void site_backup_default(struct site_backup *b);
void site_backup_free(struct site_backup *b);

/* node: the value of the top-level key `backup`. */
void site_backup_take(ycfg *y, const yaml_node_t *node, struct site_backup *b);

#endif
