/* logrotate_install: hands the site's logs to Debian's logrotate. Every
 * host's rotation is rendered to STATE/etc/HOST/logrotate/emailng.conf
 * (templates/logrotate); `emailng up` writes /etc/logrotate.d/emailng (the
 * default state directory) or /etc/logrotate.d/emailng-PREFIX (another
 * one, PREFIX as the test fabric's) with an include of each host's file
 * that is on this machine, and `emailng down` removes it. Without
 * /etc/logrotate.d (logrotate not installed) nothing is written and up
 * says so. */
#ifndef EMAILNG_LOGROTATE_INSTALL_H
#define EMAILNG_LOGROTATE_INSTALL_H

#include "buf.h"
#include "site.h"

#define LOGROTATE_DIR "/etc/logrotate.d"

int logrotate_install(const struct site *site, const char *state_dir, buf *err);
int logrotate_remove(const char *state_dir, buf *err);

#endif
