/* tlspolicy_service: emailng-tlspolicy (src/tlspolicy/main.c) on a relay
 * host whose Postfix does DANE (it validates DNSSEC) and asks MTA-STS
 * (outbound.mta_sts): Postfix's smtp_tls_policy_maps asks it on the unix
 * socket RUN/tlspolicy/socket, and it asks mta-sts-daemon (which keeps
 * its own socket, RUN/mta-sts/socket, behind ours) for what is not DANE.
 * Runs as postfix; log LOG/tlspolicy.log. Started after mta-sts-daemon,
 * before Postfix. Whether it runs: render_outbound_tlspolicy(). */
#ifndef EMAILNG_TLSPOLICY_SERVICE_H
#define EMAILNG_TLSPOLICY_SERVICE_H

#include "services.h"

int tlspolicy_wanted(const struct service_env *env);
int tlspolicy_prepare(const struct service_env *env, buf *err);
int tlspolicy_start(const struct service_env *env, buf *err);
int tlspolicy_ready(const struct service_env *env, buf *detail);
pid_t tlspolicy_pid(const struct service_env *env);
int tlspolicy_stop(const struct service_env *env, buf *err);

#endif
