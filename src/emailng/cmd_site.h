/* cmd_site: `emailng check --site FILE` (validate a site file: every
 * problem as FILE:LINE:COL) and `emailng render --site FILE --out DIR`
 * (write every daemon's configuration, the same bytes on every run). */
#ifndef EMAILNG_CMD_SITE_H
#define EMAILNG_CMD_SITE_H

#include "cli.h"

int cmd_check(const struct options *o);
int cmd_render(const struct options *o);

#endif
