/* acme_forward_service: tls.source acme on a site of several hosts. The
 * CA checks HTTP-01 at port 80 of whatever address a name has: a relay's
 * name is its own, but mail.DOMAIN points at every proxy, while only the
 * first proxy runs lego for it. So every relay and proxy runs a plain TCP
 * forwarder (Debian's socat, no HTTP parsing) from its port 80 to port
 * ACME_LEGO_PORT of the host that orders its certificate
 * (public_names_orderer: itself, or the first proxy), where lego listens
 * only while it orders. After the forwarder is up (after_start), the
 * host's certificate is ordered or taken (public_cert.h) and its running
 * daemons reload when it changed; a forwarder left from an earlier
 * tls.source acme is stopped there too. */
#ifndef EMAILNG_ACME_FORWARD_SERVICE_H
#define EMAILNG_ACME_FORWARD_SERVICE_H

#include "services.h"

int acme_forward_prepare(const struct service_env *env, buf *err);
int acme_forward_start(const struct service_env *env, buf *err);
int acme_forward_ready(const struct service_env *env, buf *detail);
pid_t acme_forward_pid(const struct service_env *env);
int acme_forward_stop(const struct service_env *env, buf *err);
/* Needed (acme, several hosts, a host with public names), or still running. */
int acme_forward_wanted(const struct service_env *env);
int acme_forward_after_start(const struct service_env *env, buf *err);

#endif
