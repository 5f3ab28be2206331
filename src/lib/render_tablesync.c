/* render_tablesync: the proxies' nginx block for the relays' tables; see
 * render_tablesync.h. */
#include "render_tablesync.h"

#include <stdlib.h>

static const char *get(const struct render_context *ctx, const char *name)
{
    const char *v = render_context_get(ctx, name);
    return v ? v : "";
}

void render_tablesync_context(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    if (host->roles != ROLE_PROXY || site->n_hosts < 2) {
        render_context_set(ctx, "nginx_relay_tables", "# not a proxy of several hosts: no relay tables here");
        return;
    }
    buf relays = BUF_INIT, b = BUF_INIT;
    for (size_t i = 0; i < site->n_hosts; i++)
        if (site->hosts[i].roles & ROLE_RELAY)
            buf_printf(&relays, "%s%s", relays.len ? "|" : "", site->hosts[i].name);
    buf_printf(&b,
               "# The relays' tables (emailng-tablesync make writes them from the\n"
               "    # directory; each relay's emailng-tablesync pull asks for them every\n"
               "    # 2 s with the ETag it holds). Reached by the SNI name %s.%s\n"
               "    # only, with a client certificate of the site CA for a relay.\n"
               "    map $ssl_client_s_dn $emailng_relay_client {\n"
               "        default 0;\n"
               "        \"~^CN=tables,OU=(%s),O=EmailNG client$\" 1;\n"
               "    }\n"
               "    server {\n"
               "        listen %s ssl;\n"
               "        server_name %s.%s;\n"
               "        ssl_certificate %s;\n"
               "        ssl_certificate_key %s;\n"
               "        ssl_client_certificate %s;\n"
               "        ssl_verify_client on;\n"
               "        ssl_verify_depth 1;\n"
               "        default_type text/plain;\n"
               "        # every relay asks every 2 s: errors only (nginx-error.log)\n"
               "        access_log off;\n"
               "        location = /emailng/relay-tables {\n"
               "            if ($emailng_relay_client = 0) {\n"
               "                return 403;\n"
               "            }\n"
               "            alias %s/tablesync/relay-tables;\n"
               "        }\n"
               "        location / {\n"
               "            return 404;\n"
               "        }\n"
               "    }",
               host->name, site->domains[0], buf_cstr(&relays), get(ctx, "nginx_listen_https"), host->name,
               site->domains[0], get(ctx, "tls_cert"), get(ctx, "tls_key"), get(ctx, "tls_ca"),
               get(ctx, "data_dir"));
    render_context_set(ctx, "nginx_relay_tables", buf_cstr(&b));
    buf_free(&relays);
    buf_free(&b);
}
