/* cmd_up: `emailng up` renders the site into STATE/etc, starts every
 * daemon whose configuration changed or that is not running (waiting
 * until each answers), creates the demo users and exports the relays'
 * tables; a site of several hosts without --host is started in the test
 * fabric, one network namespace per host. `emailng down` stops them by
 * pid (and removes the fabric). */
#ifndef EMAILNG_CMD_UP_H
#define EMAILNG_CMD_UP_H

#include "cli.h"

int cmd_up(const struct options *o);
int cmd_down(const struct options *o);

#endif
