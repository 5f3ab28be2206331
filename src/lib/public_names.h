/* public_names: which public names each host serves with the public
 * certificate (tls.source files or acme), who obtains that certificate,
 * and where it is kept. One place for what `up`, the renderer and `tls
 * renew` must agree on.
 *   - One host: the DNS names of tls.names (not localhost, not addresses).
 *   - Several hosts: a relay serves its own name HOST.PRIMARY-DOMAIN (its
 *     MX and SRV target, `emailng dns`); a proxy serves the DNS names of
 *     tls.names (tls.names[0] is the IMAP/POP3 name, whose A records point
 *     at every proxy); stores and the directory serve none.
 * tls.source files: one certificate for the whole site, which must cover
 * tls.names[0] and every relay's name (public_names_all). tls.source acme:
 * one certificate per group of hosts answering the same names: each relay
 * its own, the proxies one together, obtained by the first proxy in the
 * site file (public_names_orderer) and used by the others from the same
 * directory (shared in the test fabric, copied on real hosts). */
#ifndef EMAILNG_PUBLIC_NAMES_H
#define EMAILNG_PUBLIC_NAMES_H

#include "buf.h"
#include "site.h"

/* On a site of several hosts lego answers HTTP-01 on this port of the
 * ordering host (its own address), and every relay and proxy forwards
 * port 80 to it (acme_forward_service.h): the CA may ask any address of
 * a name, and mail.DOMAIN has one per proxy. The proxies accept it from
 * the other proxies only. */
#define ACME_LEGO_PORT 8402

/* Whether s is an IPv4 or IPv6 literal. */
int public_names_is_address(const char *s);

/* The DNS names host serves publicly, lower case, one per line ("\n"
 * after each); nothing for a store or the directory. */
void public_names_of_host(const struct site *site, const struct site_host *host, buf *out);

/* A relay's own public name on a site of several hosts, HOST.PRIMARY-DOMAIN
 * (its MX and submission name), lower case, one line. */
void public_names_relay(const struct site *site, const struct site_host *host, buf *out);

/* Every public name of the site (tls.names[0] first, then the relays'
 * names on a site of several hosts), one per line: what one certificate
 * from tls.files must cover. */
void public_names_all(const struct site *site, buf *out);

/* The host that obtains host's ACME certificate: host itself, or for a
 * proxy the site's first proxy. NULL for a host serving no public name. */
const struct site_host *public_names_orderer(const struct site *site, const struct site_host *host);

/* Where host's public certificate is kept (fullchain.pem, key.pem):
 * STATE/tls/public for tls.source files and for a site of one host,
 * STATE/tls/public/FIRST-NAME for an ACME certificate on several hosts.
 * Caller frees. */
char *public_names_dir(const struct site *site, const struct site_host *host, const char *state_dir);

#endif
