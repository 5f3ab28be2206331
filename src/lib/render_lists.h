/* render_lists: the placeholders of mailing lists (U4; docs/admin-manual.md
 * "Mailing lists") for a host's Postfix:
 *   postfix_list_services  the master.cf services of a host that expands
 *                          lists (a store, or the one-host site): the pipe
 *                          emailng-list, the loopback reinjection smtpd and
 *                          its cleanup listcleanup; a comment elsewhere
 *                          (templates/postfix/master.cf is the relays' too)
 *   list_deliver_program   emailng-list-deliver's path
 *   port_list_reinject     PORT_LIST_REINJECT (render_outbound.h) */
#ifndef EMAILNG_RENDER_LISTS_H
#define EMAILNG_RENDER_LISTS_H

#include "render.h"
#include "site.h"

void render_lists_context(const struct site_host *host, struct render_context *ctx);

#endif
