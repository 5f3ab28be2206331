/* metrics_service: the Prometheus endpoints of a host that are daemons of
 * their own (O1; docs/admin-manual.md, "Monitoring"), for the services
 * table. Dovecot's endpoint is its stats service (templates/dovecot*
 * metrics.conf) and needs no entry here.
 *   postfix-exporter  Debian's prometheus-postfix-exporter, on a host
 *                     with Postfix: the queue through showq, delivery and
 *                     reject counters from STATE/log/HOST/postfix.log.
 *   metricsd          emailng-metricsd (src/metricsd/), on every host.
 * Both listen on metrics_address (render.c: the host's address on a site
 * of several hosts, behind its firewall; 127.0.0.1 on the one-host site),
 * run as METRICS_USER, and are wanted only when metrics.enabled. */
#ifndef EMAILNG_METRICS_SERVICE_H
#define EMAILNG_METRICS_SERVICE_H

#include "services.h"

#define METRICS_USER "emailng-metrics"
#define POSTFIX_EXPORTER "/usr/bin/prometheus-postfix-exporter"

int metrics_wanted(const struct service_env *env);

/* The URLs of the host's endpoints (Dovecot's, the exporter's, ours) for
 * `status`: space-separated into text, as JSON strings (comma-separated)
 * into json. Nothing when metrics are off. */
void metrics_endpoints(const struct service_env *env, buf *text, buf *json);

int postfix_exporter_prepare(const struct service_env *env, buf *err);
int postfix_exporter_start(const struct service_env *env, buf *err);
int postfix_exporter_ready(const struct service_env *env, buf *detail);
pid_t postfix_exporter_pid(const struct service_env *env);
int postfix_exporter_stop(const struct service_env *env, buf *err);

int metricsd_prepare(const struct service_env *env, buf *err);
int metricsd_start(const struct service_env *env, buf *err);
int metricsd_ready(const struct service_env *env, buf *detail);
pid_t metricsd_pid(const struct service_env *env);
int metricsd_stop(const struct service_env *env, buf *err);

#endif
