/* site_webmail: the site file's `webmail:` section (issue 13, C3) and the
 * placeholders of templates/roundcube and of the webmail part of
 * templates/nginx.
 *     webmail: {enabled: BOOL}   (default: true on a one-host site,
 *                                 false on a site of several hosts)
 * Roundcube (Debian's roundcube-core) runs under php-fpm on the hosts with
 * nginx (the proxies; the one host of the small site) at
 * https://PUBLIC-NAME/webmail/, and talks IMAP, ManageSieve and submission
 * like any client: TLS verified for the public names against the CA that
 * signs them (docs/admin-manual.md, "Webmail").
 *   webmail_enabled       "1" or "0" (the php-fpm service's `wanted`)
 *   nginx_webmail         the include of nginx/webmail.conf, or a comment
 *   nginx_webmail_http    the login throttle (limit_req_zone), or a comment
 *   webmail_imap_uri, webmail_imap_peer      where Roundcube's IMAP goes:
 *                         this host's own IMAPS port (its Dovecot, the one
 *                         clients reach by the public name), TLS checked
 *                         for the public IMAP name
 *   webmail_sieve_uri     ManageSieve (STARTTLS), same host and peer name
 *   webmail_smtp_relays   submission (465, implicit TLS): every relay in
 *                         site order, as PHP array elements ['host' =>
 *                         ADDRESS, 'port' => 465, 'peer' => NAME TLS is
 *                         checked for]; Roundcube sends through the first
 *                         that accepts a connection (templates/roundcube)
 *   webmail_tls_ca        the CA file that signs those certificates: the
 *                         site CA, or Debian's bundle for files/acme
 *   webmail_max_upload, webmail_post_max   the largest attachment
 *                         (limits.message_size) and form
 *   webmail_plugins       Roundcube's plugin list (PHP strings): password
 *                         only with site_webmail_passwords()
 *   webmail_trusted_hosts, webmail_product_name   tls.names, site.name
 * Needs client_imap_host, client_smtp_host, tls_ca in ctx already. */
#ifndef EMAILNG_SITE_WEBMAIL_H
#define EMAILNG_SITE_WEBMAIL_H

#include <yaml.h>

#include "render.h"
#include "site.h"
#include "yaml_config.h"

/* Reads the section into *out; every problem is a FILE:LINE:COL report. */
void site_webmail_take(ycfg *y, const yaml_node_t *node, struct site_webmail *out);

/* 1 if the site runs webmail (given, or the default for its size). */
int site_webmail_enabled(const struct site *site);

/* 1 if host runs the webmail and so emailng-passwd, which changes users'
 * own passwords: webmail on, and the host a proxy (the one host of a small
 * site is one too). There it writes over ldapi as root; on a proxy of
 * several hosts over LDAPS with the client certificate client-passwd. */
int site_webmail_passwords(const struct site *site, const struct site_host *host);

void site_webmail_render(const struct site *site, const struct site_host *host, struct render_context *ctx);

#endif
