/* render_public_tls: placeholders of the public certificate; see
 * render_public_tls.h. */
#include "render_public_tls.h"

#include <stdlib.h>

#include "buf.h"
#include "public_names.h"

/* The relays reach the proxies from their own addresses (the proxies'
 * firewall and LMTP rules assume the same), so a `remote` filter picks
 * the certificate by who connects: relays get the site CA's, everybody
 * else the public one. One name, one port, no SNI needed: Dovecot's imap
 * passdb on the relays cannot send a different SNI name anyway. */
static void proxy_internal_tls(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    buf b = BUF_INIT;
    if (site->cert_source == CERT_SOURCE_SITE_CA || site->n_hosts == 1 || !(host->roles & ROLE_PROXY)) {
        buf_append_str(&b, "# (tls.source site-ca: every client, the relays too, gets the site CA's certificate)");
    } else {
        buf_append_str(&b, "# The relays' SASL logins (their imap passdb checks this proxy against the site CA):\n"
                           "# the site CA's certificate, whatever the public ports serve.");
        for (size_t i = 0; i < site->n_hosts; i++)
            if (site->hosts[i].roles & ROLE_RELAY)
                buf_printf(&b, "\nremote %s {\n  ssl_cert = <%s\n  ssl_key = <%s\n}", site->hosts[i].address,
                           render_context_get(ctx, "tls_cert"), render_context_get(ctx, "tls_key"));
    }
    render_context_set(ctx, "proxy_internal_tls", buf_cstr(&b));
    buf_free(&b);
}

static void acme_http_rule(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    buf names = BUF_INIT, rule = BUF_INIT;
    public_names_of_host(site, host, &names);
    if (site->cert_source == CERT_SOURCE_ACME && site->n_hosts > 1 && names.len > 0) {
        buf_append_str(&rule, "# tls.source acme: the CA's HTTP-01 check of this host's public names, forwarded\n"
                              "        # to lego on the host that orders them (acme-forward; admin manual).\n"
                              "        tcp dport 80 accept");
        if (host->roles & ROLE_PROXY)
            buf_printf(&rule, "\n        # lego of the first proxy, for the other proxies' forwarders.\n"
                              "        ip saddr @proxies_v4 tcp dport %d accept\n"
                              "        ip6 saddr @proxies_v6 tcp dport %d accept", ACME_LEGO_PORT, ACME_LEGO_PORT);
    } else {
        buf_append_str(&rule, "# Port 80: closed (tls.source is not acme).");
    }
    render_context_set(ctx, "acme_http_rule", buf_cstr(&rule));
    buf_free(&rule);
    buf_free(&names);
}

void render_public_tls_context(const struct site *site, const struct site_host *host, const char *state_dir,
                               struct render_context *ctx)
{
    if (site->cert_source == CERT_SOURCE_SITE_CA) {
        render_context_set(ctx, "tls_public_cert", render_context_get(ctx, "tls_cert"));
        render_context_set(ctx, "tls_public_key", render_context_get(ctx, "tls_key"));
    } else {
        char *dir = public_names_dir(site, host, state_dir);
        char *crt = xasprintf("%s/fullchain.pem", dir), *key = xasprintf("%s/key.pem", dir);
        render_context_set(ctx, "tls_public_cert", crt);
        render_context_set(ctx, "tls_public_key", key);
        free(crt);
        free(key);
        free(dir);
    }
    proxy_internal_tls(site, host, ctx);
    acme_http_rule(site, host, ctx);
}
