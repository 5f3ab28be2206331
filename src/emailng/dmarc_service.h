/* dmarc_service: OpenDMARC (Debian's opendmarc), the MX's DMARC milter, on
 * every host with the relay role unless dmarc.mode is off (issue 11;
 * docs/admin-manual.md "DMARC"). Its configuration is templates/opendmarc,
 * its socket the placeholder dmarc_socket (RUN/opendmarc, Postfix only),
 * its pid file RUN/opendmarc/opendmarc.pid. With policy.spf.resolv_conf
 * set it resolves through that file, bind-mounted over /etc/resolv.conf in
 * a mount namespace of its own (as emailng-policyd's SPF helper does).
 * Started before Postfix, which tempfails MX mail without it. */
#ifndef EMAILNG_DMARC_SERVICE_H
#define EMAILNG_DMARC_SERVICE_H

#include "services.h"

int dmarc_wanted(const struct service_env *env);
int dmarc_prepare(const struct service_env *env, buf *err);
int dmarc_start(const struct service_env *env, buf *err);
int dmarc_ready(const struct service_env *env, buf *detail);
pid_t dmarc_pid(const struct service_env *env);
int dmarc_stop(const struct service_env *env, buf *err);

#endif
