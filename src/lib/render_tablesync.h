/* render_tablesync: the placeholder nginx_relay_tables of templates/nginx:
 * on a proxy of a site of several hosts, a server block of its own (SNI
 * name HOST.<primary domain>, the host's certificate of the site CA) that
 * serves the bundle of the relays' tables (table_bundle.h) at
 * /emailng/relay-tables only to a client certificate of the site CA with
 * the subject CN=tables,OU=<a relay of the site>,O=EmailNG client; a
 * comment elsewhere. */
#ifndef EMAILNG_RENDER_TABLESYNC_H
#define EMAILNG_RENDER_TABLESYNC_H

#include "render.h"
#include "site.h"

void render_tablesync_context(const struct site *site, const struct site_host *host, struct render_context *ctx);

#endif
