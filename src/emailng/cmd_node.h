/* cmd_node: `emailng node list|drain|undrain` for a site of several hosts.
 * drain STORE takes a store out of service on purpose: it is written to
 * the drain file of every proxy's emailng-healthd (DATA/PROXY/healthd/
 * drained, read every probe round), which then moves the store's pair to
 * its partner; emailng waits (bounded) until every proxy's table shows
 * the switch, then kicks the sessions still proxied to the store (`doveadm
 * proxy kick -h STORE` on each proxy) so clients reconnect to the partner.
 * It refuses when the partner is drained or not up on every monitor.
 * undrain removes it again; the monitors give the pair back after the
 * normal recovery (probes, grace, catch-up check). list shows, per proxy,
 * each pair's active store, every store's state and the drained stores. */
#ifndef EMAILNG_CMD_NODE_H
#define EMAILNG_CMD_NODE_H

#include "site.h"

/* argv: the words after "node". Returns the exit status. */
/* json: `list` as JSON (see node_list in cmd_node.c). */
int cmd_node(const struct site *site, const char *state_dir, int json, int argc, char **argv);

#endif
