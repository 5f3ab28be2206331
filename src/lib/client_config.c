/* client_config: placeholders of the client auto-configuration and its
 * web server; see client_config.h. */
#include "client_config.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_records.h"
#include "public_names.h"

/* The prefixes of the names clients and MTAs look up under each domain. */
static const char *const client_name_prefixes[] = {"autoconfig", "autodiscover", "mta-sts"};

static void set_int(struct render_context *ctx, const char *name, int value)
{
    char text[16];
    snprintf(text, sizeof text, "%d", value);
    render_context_set(ctx, name, text);
}

static char *lower_dup(const char *s)
{
    char *l = xstrdup(s);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

/* Text as XML character data or attribute value. */
static void xml_escape(const char *s, buf *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_append_str(out, "&lt;"); break;
        case '>': buf_append_str(out, "&gt;"); break;
        case '&': buf_append_str(out, "&amp;"); break;
        case '"': buf_append_str(out, "&quot;"); break;
        case '\'': buf_append_str(out, "&apos;"); break;
        default: buf_append_char(out, *s);
        }
    }
}

/* The submission name of every relay, in site order, one per line: the
 * one-host site's is its public name (dns_records.c says the same). */
static void relay_names(const struct site *site, buf *out)
{
    if (site->n_hosts == 1) {
        char *name = lower_dup(site->tls_names[0]);
        buf_printf(out, "%s\n", name);
        free(name);
        return;
    }
    for (size_t i = 0; i < site->n_hosts; i++)
        if (site->hosts[i].roles & ROLE_RELAY)
            public_names_relay(site, &site->hosts[i], out);
}

/* A UUID (RFC 4122 layout, version 5 style) from a SHA-256 of the site's
 * name, primary domain and purpose: the same site gives the same profile,
 * so a reinstalled profile replaces the old one on the device. */
static void stable_uuid(const struct site *site, const char *purpose, buf *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    buf seed = BUF_INIT;
    buf_printf(&seed, "emailng\n%s\n%s\n%s", site->name, site->domains[0], purpose);
    if (EVP_Digest(seed.data, seed.len, md, &len, EVP_sha256(), NULL) != 1 || len < 16)
        memset(md, 0, sizeof md);    /* cannot happen with libcrypto's SHA-256; still a well-formed UUID */
    buf_free(&seed);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    for (int i = 0; i < 16; i++)
        buf_printf(out, "%s%02X", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", md[i]);
}

void client_config_names(const struct site *site, buf *out)
{
    for (size_t d = 0; d < site->n_domains; d++) {
        char *domain = lower_dup(site->domains[d]);
        for (size_t p = 0; p < sizeof client_name_prefixes / sizeof client_name_prefixes[0]; p++)
            buf_printf(out, "%s.%s\n", client_name_prefixes[p], domain);
        free(domain);
    }
}

int client_config_serves_http(const struct site *site)
{
    return site->cert_source != CERT_SOURCE_ACME || site->n_hosts == 1;
}

/* Thunderbird's <outgoingServer> for every relay: implicit TLS first. */
static void thunderbird_outgoing(const struct site *site, const char *relays, buf *out)
{
    static const struct {
        int is_tls;
        const char *socket;
    } kinds[] = {{1, "SSL"}, {0, "STARTTLS"}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char *copy = xstrdup(relays);
        for (char *save = NULL, *name = strtok_r(copy, "\n", &save); name; name = strtok_r(NULL, "\n", &save))
            buf_printf(out,
                       "    <outgoingServer type=\"smtp\">\n"
                       "      <hostname>%s</hostname>\n"
                       "      <port>%d</port>\n"
                       "      <socketType>%s</socketType>\n"
                       "      <authentication>password-cleartext</authentication>\n"
                       "      <username>%%EMAILADDRESS%%</username>\n"
                       "    </outgoingServer>\n",
                       name, kinds[k].is_tls ? site->ports.submissions : site->ports.submission, kinds[k].socket);
        free(copy);
    }
}

/* nginx's listen address: IPv6 in brackets. */
static void listen_address(const char *address, int port, buf *out)
{
    if (strchr(address, ':'))
        buf_printf(out, "[%s]:%d", address, port);
    else
        buf_printf(out, "%s:%d", address, port);
}

/* Port 80: a redirect to HTTPS, to one of the site's own names (the
 * Host header only picks among them: nothing the client sent is echoed
 * but the path), or a comment saying why nginx leaves it alone. */
static void http_server(const struct site *site, const struct site_host *host, const char *imap_host,
                        struct render_context *ctx)
{
    buf b = BUF_INIT, map = BUF_INIT, names = BUF_INIT;
    for (size_t i = 0; i < site->n_tls_names; i++)
        if (strcmp(site->tls_names[i], "localhost") != 0 && !public_names_is_address(site->tls_names[i])) {
            char *name = lower_dup(site->tls_names[i]);
            buf_printf(&names, "%s\n", name);
            free(name);
        }
    client_config_names(site, &names);
    buf_printf(&map, "        default %s;\n", imap_host);
    char *copy = xstrdup(buf_cstr(&names));
    for (char *save = NULL, *name = strtok_r(copy, "\n", &save); name; name = strtok_r(NULL, "\n", &save))
        buf_printf(&map, "        %s %s;\n", name, name);
    free(copy);
    render_context_set(ctx, "nginx_redirect_hosts", buf_cstr(&map));
    if (client_config_serves_http(site)) {
        buf_append_str(&b, "# Port 80: nothing but a redirect to HTTPS.\n"
                           "    server {\n"
                           "        listen ");
        listen_address(host->address, CLIENT_CONFIG_PORT_HTTP, &b);
        buf_printf(&b, " default_server;\n"
                       "        server_name _;\n"
                       "        # tls.source acme: lego's HTTP-01 tokens while nginx holds port 80\n"
                       "        # (lego --http.webroot; public_cert.c). Empty otherwise.\n"
                       "        location ^~ /.well-known/acme-challenge/ {\n"
                       "            root %s;\n"
                       "            default_type text/plain;\n"
                       "        }\n"
                       "        location / {\n"
                       "            return 301 https://$emailng_https_host$request_uri;\n"
                       "        }\n"
                       "    }", render_context_get(ctx, "acme_webroot"));
        render_context_set(ctx, "webserver_http_rule", "# Port 80: nginx, a redirect to HTTPS only.\n"
                                                       "        tcp dport 80 accept");
    } else {
        buf_append_str(&b, "# Port 80: not served (tls.source acme on several hosts: the ACME forwarder has it;\n"
                           "    # admin manual, \"Client auto-configuration\").");
        render_context_set(ctx, "webserver_http_rule", "# Port 80 for nginx: none (the ACME forwarder's).");
    }
    render_context_set(ctx, "nginx_http_server", buf_cstr(&b));
    buf_free(&b);
    buf_free(&map);
    buf_free(&names);
}

void client_config_context(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    buf b = BUF_INIT, relays = BUF_INIT;
    char *imap_host = lower_dup(site->tls_names[0]);
    relay_names(site, &relays);
    render_context_set(ctx, "client_imap_host", imap_host);
    buf_append(&b, relays.data, strcspn(buf_cstr(&relays), "\n"));
    render_context_set(ctx, "client_smtp_host", buf_cstr(&b));

    buf_reset(&b);
    xml_escape(site->name, &b);
    render_context_set(ctx, "client_display_name", buf_cstr(&b));
    buf_reset(&b);
    for (size_t d = 0; d < site->n_domains; d++) {
        char *domain = lower_dup(site->domains[d]);
        buf_printf(&b, "%s    <domain>%s</domain>", d ? "\n" : "", domain);
        free(domain);
    }
    render_context_set(ctx, "client_tb_domains", buf_cstr(&b));
    buf_reset(&b);
    thunderbird_outgoing(site, buf_cstr(&relays), &b);
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    render_context_set(ctx, "client_tb_outgoing", buf_cstr(&b));

    /* Reverse DNS of the primary domain: test.example.emailng-mail */
    buf_reset(&b);
    char *domain = lower_dup(site->domains[0]);
    for (char *end = domain + strlen(domain); end > domain;) {
        char *dot = end - 1;
        while (dot > domain && *dot != '.')
            dot--;
        char *label = *dot == '.' ? dot + 1 : dot;
        buf_printf(&b, "%.*s.", (int)(end - label), label);
        end = dot;
    }
    buf_append_str(&b, "emailng-mail");
    free(domain);
    render_context_set(ctx, "client_profile_id", buf_cstr(&b));
    buf_reset(&b);
    stable_uuid(site, "profile", &b);
    render_context_set(ctx, "client_uuid_profile", buf_cstr(&b));
    buf_reset(&b);
    stable_uuid(site, "account", &b);
    render_context_set(ctx, "client_uuid_account", buf_cstr(&b));

    /* One policy for every domain: it names the relays only. */
    struct dns_domain_records records;
    buf ignored = BUF_INIT;
    if (dns_records_build(site, site->domains[0], &records, &ignored) == 0) {
        render_context_set(ctx, "mta_sts_policy", records.mta_sts_policy);
        dns_records_free(&records);
    } else {
        render_context_set(ctx, "mta_sts_policy", "");   /* the digest failed: `emailng dns` says why */
    }
    buf_free(&ignored);

    char *webroot = xasprintf("%s/acme-webroot", render_context_get(ctx, "data_dir"));
    render_context_set(ctx, "acme_webroot", webroot);
    free(webroot);
    set_int(ctx, "port_https", CLIENT_CONFIG_PORT_HTTPS);
    set_int(ctx, "port_http", CLIENT_CONFIG_PORT_HTTP);
    buf_reset(&b);
    listen_address(host->address, CLIENT_CONFIG_PORT_HTTPS, &b);
    render_context_set(ctx, "nginx_listen_https", buf_cstr(&b));
    http_server(site, host, imap_host, ctx);
    free(imap_host);
    buf_free(&b);
    buf_free(&relays);
}
