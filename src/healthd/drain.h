/* drain: the stores an administrator has taken out of service on purpose
 * (`emailng node drain STORE`). The drain file lists store addresses, one
 * a line; blank lines and lines starting with '#' are ignored. emailng-
 * healthd reads it every round: a drained store counts as down (its pair
 * moves to the partner); once it is no longer listed it must pass the
 * normal recovery (probes, grace, catch-up check) before it serves again.
 * A missing file drains nothing. */
#ifndef HEALTHD_DRAIN_H
#define HEALTHD_DRAIN_H

#include "buf.h"
#include "config.h"

/* drained[2 * pair + role] is set to 1 for every listed store (0 for the
 * others). Addresses that are no store of the configuration are appended
 * to `unknown` (space separated). Returns how many stores are drained. */
int drain_parse(const hd_config *c, const char *text, int *drained, buf *unknown);

/* Reads c->drain_file (nothing drained if it does not exist). 0, or -1
 * with err set (drained is left as it was). */
int drain_read(const hd_config *c, int *drained, buf *unknown, buf *err);

#endif
