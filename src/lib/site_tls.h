/* site_tls: the certificates a site needs, from its model.
 * One CA and the site-wide server certificate in STATE/tls (tls_ensure;
 * the small site uses only these). A site of several hosts also gets, per
 * host in STATE/tls/HOST/: a server certificate (HOST.<primary domain>,
 * the site's tls.names and the host's address) and client certificates for
 * the daemons that bind to the directory over LDAPS with SASL EXTERNAL:
 * client-dovecot (proxies, stores), client-postfix (stores) and
 * client-passwd (proxies with webmail: emailng-passwd); and client-tables
 * for the relays' emailng-tablesync at the proxies' nginx. Paths are the
 * render placeholders tls_cert, tls_key, tls_client_*. */
#ifndef EMAILNG_SITE_TLS_H
#define EMAILNG_SITE_TLS_H

#include "buf.h"
#include "site.h"

/* Creates what is missing or no longer valid (expiring within
 * TLS_RENEW_BEFORE_DAYS, longer than TLS_SERVER_DAYS, names not covered);
 * host NULL = every host. *changed (when not NULL) becomes 1 when a
 * certificate was written: the daemons must restart to use it. A new CA
 * gets the name constraints of site_tls_permitted(); an existing CA is
 * kept as it is. A host of several with ca.crt but no ca.key (deployed by
 * `emailng deploy`: the CA key stays on the control host) only checks its
 * own certificates. Returns 0, or -1 with the reason in err. Run as root. */
int site_tls_ensure(const struct site *site, const char *state_dir, const struct site_host *host, int *changed,
                    buf *err);

/* The names the site's CA may vouch for, into out (room for n_domains +
 * n_tls_names + n_hosts): every domain (with its subdomains), each TLS name
 * and host address not below a domain (e.g. localhost, 127.0.0.1).
 * Returns how many. The strings are the site's. */
size_t site_tls_permitted(const struct site *site, const char **out);

#endif
