/* site_metrics: the site file's `metrics:` section (O1): whether every
 * host serves Prometheus metrics, and on which ports:
 *     metrics: {enabled: true, dovecot: 9900, postfix: 9154, emailng: 9901}
 * dovecot: Dovecot's own stats service (OpenMetrics), on proxies and
 * stores; postfix: Debian's prometheus-postfix-exporter, on relays and
 * stores; emailng: emailng-metricsd (src/metricsd/), on every host.
 * Where they listen and who reaches them: docs/admin-manual.md,
 * "Monitoring". site_metrics_take() is called by site_parse() once the
 * whole file is read, so that a clash with a port of `ports:` is found
 * wherever either stands; problems are reported as FILE:LINE:COL. */
#ifndef EMAILNG_SITE_METRICS_H
#define EMAILNG_SITE_METRICS_H

#include <yaml.h>

#include "site.h"
#include "yaml_config.h"

void site_metrics_default(struct site_metrics *m);

/* node: the value of the top-level key `metrics`. */
void site_metrics_take(ycfg *y, const yaml_node_t *node, struct site *site);

#endif
