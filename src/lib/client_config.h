/* client_config: what mail clients are told when they configure
 * themselves (issue 13, C4), and the placeholders of the site's web
 * server (templates/nginx) that serves it over HTTPS: Thunderbird's
 * autoconfig, Outlook's autodiscover (POX and the v2 JSON), an Apple
 * .mobileconfig, and the MTA-STS policy of `emailng dns`. Everything is a
 * pure function of the site: the answers are static files (no input of
 * the client is ever part of an answer).
 *   client_imap_host     the IMAP/POP3 name (tls.names[0]; the proxies)
 *   client_smtp_host     the first relay's submission name
 *   client_display_name  the site's name, XML-escaped
 *   client_tb_domains    Thunderbird <domain> lines, one per site domain
 *   client_tb_outgoing   Thunderbird <outgoingServer> elements: every relay
 *                        on 465 (TLS), then every relay on 587 (STARTTLS)
 *   client_profile_id, client_uuid_profile, client_uuid_account
 *                        the .mobileconfig's identifiers (stable per site)
 *   mta_sts_policy       the policy text (dns_records.h), CRLF lines
 *   port_https, port_http, nginx_listen_https, nginx_http_server,
 *   nginx_redirect_hosts, webserver_http_rule, acme_webroot
 *                        where nginx listens; port 80 only redirects to
 *                        HTTPS, and serves lego's HTTP-01 tokens from
 *                        acme_webroot (DATA/acme-webroot) on a one-host
 *                        site; with tls.source acme on several hosts it
 *                        is the ACME forwarder's (client_config_serves_http)
 * Needs host_address, data_dir, etc_dir in ctx already. */
#ifndef EMAILNG_CLIENT_CONFIG_H
#define EMAILNG_CLIENT_CONFIG_H

#include "buf.h"
#include "render.h"
#include "site.h"

#define CLIENT_CONFIG_PORT_HTTPS 443
#define CLIENT_CONFIG_PORT_HTTP 80

void client_config_context(const struct site *site, const struct site_host *host, struct render_context *ctx);

/* 1 if the web server listens on port 80 (to redirect to HTTPS): not
 * with tls.source acme on several hosts, where port 80 is the ACME
 * forwarder's (acme_forward_service.h). On one host under acme lego
 * binds port 80 itself while nginx is down (the first `up`), and writes
 * its tokens into nginx's acme_webroot while nginx runs (public_cert.c). */
int client_config_serves_http(const struct site *site);

/* The names clients look up besides tls.names, for every domain:
 * autoconfig.DOMAIN, autodiscover.DOMAIN, mta-sts.DOMAIN, lower case,
 * one per line. The site CA's certificates cover them; a certificate
 * from files or ACME covers what tls.names lists (admin manual). */
void client_config_names(const struct site *site, buf *out);

#endif
