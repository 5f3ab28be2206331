/* site_dmarc: the site file's `dmarc:` section and what it renders.
 *     dmarc: {mode: enforce | monitor | off, policy: none | quarantine | reject}
 * mode is what the relays do with inbound mail (OpenDMARC on the MX,
 * templates/opendmarc; docs/admin-manual.md "DMARC"); policy is the p= our
 * own domains publish in _dmarc.DOMAIN (dns_records.c). The names are
 * tables, read and written here only. */
#ifndef EMAILNG_SITE_DMARC_H
#define EMAILNG_SITE_DMARC_H

#include <yaml.h>

#include "render.h"
#include "site.h"
#include "yaml_config.h"

/* Reads the section into *out; every problem is a FILE:LINE:COL report. */
void site_dmarc_take(ycfg *y, const yaml_node_t *node, struct site_dmarc *out);

const char *site_dmarc_mode_name(enum site_dmarc_mode mode);
const char *site_dmarc_policy_name(enum site_dmarc_policy policy);

/* The dmarc_* placeholders of a host (docs/internals.md): the milter's
 * socket, the MX milter list entry (empty when off), RejectFailures, and
 * the hosts OpenDMARC leaves alone (loopback and the site's own hosts). */
void site_dmarc_render(const struct site *site, struct render_context *ctx);

#endif
