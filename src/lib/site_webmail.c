/* site_webmail: the `webmail:` section of the site file and its
 * placeholders; see site_webmail.h. */
#include "site_webmail.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "public_names.h"

/* Debian's bundle of public CAs (ca-certificates): what signs a
 * certificate of tls.source files or acme. */
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

void site_webmail_take(ycfg *y, const yaml_node_t *node, struct site_webmail *out)
{
    static const char *const keys[] = {"enabled", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "webmail", keys, &m) == 0)
        while (ycfg_map_next_all(&m))
            if (m.index == 0 && ycfg_bool(y, m.value, m.path, &out->enabled) == 0)
                out->given = 1;
    ycfg_map_end(&m);
}

int site_webmail_enabled(const struct site *site)
{
    /* On by default where it costs one php-fpm on the one host; a site of
     * several hosts opts in (it runs on every proxy). */
    return site->webmail.given ? site->webmail.enabled : site->n_hosts == 1;
}

/* s as a PHP single-quoted string literal. */
static void php_quote(const char *s, buf *out)
{
    buf_append_char(out, '\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            buf_append_char(out, '\\');
        buf_append_char(out, *s);
    }
    buf_append_char(out, '\'');
}

int site_webmail_passwords(const struct site *site, const struct site_host *host)
{
    /* Wherever Roundcube runs: the one host, or a proxy of several. */
    return site_webmail_enabled(site) && (host->roles & ROLE_PROXY);
}

/* An address as the host part of a URI (IPv6 in brackets). */
static char *uri_host(const char *address)
{
    for (const char *p = address; *p; p++)
        if (*p == ':')
            return xasprintf("[%s]", address);
    return xstrdup(address);
}

/* Roundcube's submission relays as PHP array elements, in site order:
 * ['host' => ADDRESS, 'port' => 465, 'peer' => NAME]. By address (the web
 * host resolves none of its site's names), with the name TLS is checked
 * for: a relay's own HOST.DOMAIN on several hosts, the public name on one
 * (smtp_peer, client_smtp_host). */
static void smtp_relays(const struct site *site, const struct site_host *host, const char *smtp_peer, buf *out)
{
    buf peer = BUF_INIT;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *relay = &site->hosts[i];
        if (!(relay->roles & ROLE_RELAY))
            continue;
        buf_reset(&peer);
        if (site->n_hosts == 1) {
            buf_append_str(&peer, smtp_peer);
        } else {
            public_names_relay(site, relay, &peer);
            if (peer.len && peer.data[peer.len - 1] == '\n')
                peer.data[--peer.len] = '\0';
        }
        char *address = uri_host(relay->address);
        buf_append_str(out, out->len ? ",\n    " : "\n    ");
        buf_append_str(out, "['host' => ");
        php_quote(address, out);
        buf_printf(out, ", 'port' => %d, 'peer' => ", site->ports.submissions);
        php_quote(buf_cstr(&peer), out);
        buf_append_str(out, "]");
        free(address);
    }
    if (out->len == 0) {    /* no relay (site.c refuses such a site): this host, as a client would */
        char *address = uri_host(host->address);
        buf_append_str(out, "\n    ['host' => ");
        php_quote(address, out);
        buf_printf(out, ", 'port' => %d, 'peer' => ", site->ports.submissions);
        php_quote(smtp_peer, out);
        buf_append_str(out, "]");
        free(address);
    }
    buf_append_str(out, ",\n");
    buf_free(&peer);
}

/* A placeholder set earlier (client_config, tls), or "" if none. */
static const char *earlier(const struct render_context *ctx, const char *name)
{
    const char *v = render_context_get(ctx, name);
    return v ? v : "";
}

void site_webmail_render(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    int on = site_webmail_enabled(site);
    const char *etc_dir = earlier(ctx, "etc_dir");
    render_context_set(ctx, "webmail_enabled", on ? "1" : "0");
    char *include = on ? xasprintf("include %s/nginx/webmail.conf;", etc_dir)
                       : xstrdup("# webmail.enabled is false: no webmail");
    render_context_set(ctx, "nginx_webmail", include);
    free(include);
    /* Login attempts (POST ?_task=login) per client address: 20 a minute,
     * 10 at once; Roundcube's login_rate_limit counts per account. */
    render_context_set(ctx, "nginx_webmail_http",
                       on ? "map $request_method:$arg__task $webmail_login_client {\n"
                            "        default \"\";\n"
                            "        POST:login $binary_remote_addr;\n"
                            "    }\n"
                            "    limit_req_zone $webmail_login_client zone=webmail_login:1m rate=20r/m;\n"
                            "    limit_req_status 429;"
                          : "# webmail.enabled is false: no login throttle");

    /* By address, with the public name for TLS: the web host does not
     * depend on resolving its own site's names (which, on this host, mean
     * this very Dovecot), and never reaches a store directly. */
    char *self = uri_host(host->address);
    char *imap = xasprintf("ssl://%s:%d", self, site->ports.imaps);
    char *sieve = xasprintf("tls://%s:%d", self, site->ports.managesieve);
    render_context_set(ctx, "webmail_imap_uri", imap);
    render_context_set(ctx, "webmail_sieve_uri", sieve);
    render_context_set(ctx, "webmail_imap_peer", earlier(ctx, "client_imap_host"));
    buf relays = BUF_INIT;
    smtp_relays(site, host, earlier(ctx, "client_smtp_host"), &relays);
    render_context_set(ctx, "webmail_smtp_relays", buf_cstr(&relays));
    buf_free(&relays);
    render_context_set(ctx, "webmail_tls_ca",
                       site->cert_source == CERT_SOURCE_SITE_CA ? earlier(ctx, "tls_ca")
                                                                : SYSTEM_CA_BUNDLE);
    /* A base64 attachment is 4/3 of its size, plus the rest of the form. */
    char *upload = xasprintf("%llu", site->message_size);
    char *post = xasprintf("%llu", site->message_size / 3 * 4 + 1024 * 1024);
    render_context_set(ctx, "webmail_max_upload", upload);
    render_context_set(ctx, "webmail_post_max", post);
    free(upload);
    free(post);

    /* The Host: names Roundcube accepts (it builds links from it). */
    buf b = BUF_INIT;
    for (size_t i = 0; i < site->n_tls_names; i++) {
        buf_append_str(&b, i ? ", " : "");
        php_quote(site->tls_names[i], &b);
    }
    render_context_set(ctx, "webmail_trusted_hosts", buf_cstr(&b));
    buf_reset(&b);
    php_quote(site->name, &b);
    render_context_set(ctx, "webmail_product_name", buf_cstr(&b));
    render_context_set(ctx, "webmail_plugins", site_webmail_passwords(site, host)
                                                   ? "'managesieve', 'archive', 'markasjunk', 'password'"
                                                   : "'managesieve', 'archive', 'markasjunk'");
    buf_free(&b);
    free(imap);
    free(sieve);
    free(self);
}
