/* site_tls: the certificates a site needs, from its model.
 * One CA and the site-wide server certificate in STATE/tls (tls_ensure;
 * the small site uses only these). A site of several hosts also gets, per
 * host in STATE/tls/HOST/: a server certificate (HOST.<primary domain>,
 * the site's tls.names and the host's address) and client certificates for
 * the daemons that bind to the directory over LDAPS with SASL EXTERNAL:
 * client-dovecot (proxies, stores) and client-postfix (stores). Paths are
 * the render placeholders tls_cert, tls_key, tls_client_*. */
#ifndef EMAILNG_SITE_TLS_H
#define EMAILNG_SITE_TLS_H

#include "buf.h"
#include "site.h"

/* Creates what is missing or no longer valid; host NULL = every host.
 * Returns 0, or -1 with the reason in err. Run as root. */
int site_tls_ensure(const struct site *site, const char *state_dir, const struct site_host *host, buf *err);

#endif
