/* render_public_tls: the placeholders of the public certificate
 * (tls.source; public_names.h), for every host's templates:
 *   tls_public_cert, tls_public_key  what the public ports serve: the
 *       host's site-CA certificate (tls_cert/tls_key) for site-ca, else
 *       fullchain.pem/key.pem of the host's folder under STATE/tls/public;
 *   proxy_internal_tls  on a proxy of several hosts with files or acme:
 *       Dovecot `remote RELAY-ADDRESS { ssl_cert ... }` blocks, so the
 *       relays' SASL logins over IMAPS still get the proxy's site-CA
 *       certificate (the relays check it against the site CA); empty
 *       (a comment) otherwise;
 *   acme_http_rule  the nftables rules of tls.source acme on a relay or
 *       proxy of several hosts: TCP 80 from anywhere (HTTP-01, forwarded
 *       to lego: acme_forward_service.h), and on a proxy ACME_LEGO_PORT
 *       from the other proxies; a comment saying 80 stays closed otherwise.
 * Needs tls_cert and tls_key in ctx already. */
#ifndef EMAILNG_RENDER_PUBLIC_TLS_H
#define EMAILNG_RENDER_PUBLIC_TLS_H

#include "render.h"
#include "site.h"

void render_public_tls_context(const struct site *site, const struct site_host *host, const char *state_dir,
                               struct render_context *ctx);

#endif
