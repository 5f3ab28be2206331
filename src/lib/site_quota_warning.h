/* site_quota_warning: quota warnings (U2) in the site file's `quota:` section
 * and what they render.
 *     quota: {warnings: [80, 95], warning_message: /etc/emailng/quota-warning.txt}
 * warnings: the percentages of a user's quota at which Dovecot delivers a
 * notice to the user, once each time a save crosses one (Dovecot's
 * quota_warning; the highest crossed wins when one save crosses several).
 * warning_message: the notice (headers, empty line, body; @PERCENT@ and
 * @USER@ are replaced), to translate it; default the rendered
 * templates/dovecot/quota-warning.txt. */
#ifndef EMAILNG_SITE_QUOTA_WARNING_H
#define EMAILNG_SITE_QUOTA_WARNING_H

#include <yaml.h>

#include "render.h"
#include "site.h"
#include "yaml_config.h"

/* quota.warnings: a list of 1..SITE_QUOTA_WARNINGS_MAX different whole
 * percentages 1-100 (or [] for none); stored highest first. */
void site_quota_warnings_take(ycfg *y, const yaml_node_t *node, struct site *site);
/* quota.warning_message: an absolute file path. */
void site_quota_warning_message_take(ycfg *y, const yaml_node_t *node, struct site *site);

/* quota_warning_settings (the plugin lines, none without warnings) and
 * quota_warning_message (the notice's file). */
void site_quota_warning_render(const struct site *site, struct render_context *ctx);

#endif
