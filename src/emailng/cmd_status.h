/* cmd_status: `emailng status [--json] [--host NAME]`: every service of
 * every host (state, pid, ports, memory, queue), the firewall, the test
 * fabric's DNS, and warnings an administrator must act on. Exit 0 when
 * everything is up, 1 when something is down. */
#ifndef EMAILNG_CMD_STATUS_H
#define EMAILNG_CMD_STATUS_H

#include "cli.h"

int cmd_status(const struct options *o);

#endif
