/* render_outbound: SRS and outbound TLS placeholders; see render_outbound.h. */
#include "render_outbound.h"

#include <stdlib.h>
#include <string.h>

static void set_int(struct render_context *ctx, const char *name, int value)
{
    char *text = xasprintf("%d", value);
    render_context_set(ctx, name, text);
    free(text);
}

static int runs_own_resolver(const struct site_host *host)
{
    for (const char *const *c = render_components(host->roles); *c; c++)
        if (strcmp(*c, "unbound") == 0)
            return 1;
    return 0;
}

enum site_outbound_tls render_outbound_tls(const struct site *site, const struct site_host *host)
{
    if (site->outbound.tls != OUTBOUND_TLS_DEFAULT)
        return site->outbound.tls;
    return runs_own_resolver(host) ? OUTBOUND_TLS_DANE : OUTBOUND_TLS_MAY;
}

int render_outbound_tlspolicy(const struct site *site, const struct site_host *host)
{
    return site->outbound.mta_sts && (host->roles & ROLE_RELAY) &&
           render_outbound_tls(site, host) == OUTBOUND_TLS_DANE;
}

/* Our domains as one alternation of a POSIX ERE (the srs-senders table). */
static void domains_regexp(const struct site *site, buf *out)
{
    for (size_t i = 0; i < site->n_domains; i++) {
        if (i)
            buf_append_char(out, '|');
        for (const char *p = site->domains[i]; *p; p++) {
            if (strchr(".[]()*+?{}|^$\\", *p))
                buf_append_char(out, '\\');
            buf_append_char(out, *p);
        }
    }
}

static void srs_context(const struct site *site, struct render_context *ctx)
{
    buf b = BUF_INIT;
    set_int(ctx, "port_srs_forward", PORT_SRS_FORWARD);
    set_int(ctx, "port_srs_reverse", PORT_SRS_REVERSE);
    set_int(ctx, "port_srs_reinject", PORT_SRS_REINJECT);
    set_int(ctx, "port_local_reinject", PORT_LOCAL_REINJECT);
    domains_regexp(site, &b);
    render_context_set(ctx, "srs_domains_regexp", buf_cstr(&b));
    /* postsrsd never rewrites its own (-d, the primary) domain; -X names the others. */
    buf_reset(&b);
    for (size_t i = 1; i < site->n_domains; i++)
        buf_printf(&b, "%s%s", i > 1 ? "," : "", site->domains[i]);
    render_context_set(ctx, "srs_exclude_domains", buf_cstr(&b));

    if (!site->outbound.srs_enabled) {
        render_context_set(ctx, "postfix_srs_main", "# srs.enabled is false: forwarded mail keeps its envelope sender");
        render_context_set(ctx, "postfix_srs_master", "# srs.enabled is false: no SRS transport");
        buf_free(&b);
        return;
    }
    /* main.cf: mail with a foreign envelope sender that goes to another
     * site (the default transport class: never our own domains, which are
     * virtual or relay domains) takes the srs transport; bounces to an SRS
     * address of ours are reversed by postsrsd, and only SRS-looking
     * recipients are asked (a forged one finds nothing: "User unknown"). */
    buf_reset(&b);
    buf_printf(&b,
               "sender_dependent_default_transport_maps = regexp:%s/postfix/srs-senders\n"
               "recipient_canonical_maps = pipemap:{regexp:%s/postfix/srs-recipients, tcp:127.0.0.1:%d}\n"
               "recipient_canonical_classes = envelope_recipient",
               render_context_get(ctx, "etc_dir"), render_context_get(ctx, "etc_dir"), PORT_SRS_REVERSE);
    render_context_set(ctx, "postfix_srs_main", buf_cstr(&b));
    /* master.cf: the srs transport hands the message to a loopback
     * listener whose own cleanup asks postsrsd for the new envelope
     * sender (header addresses untouched); the rewritten message is then
     * ours and leaves by the default transport. The client binds to
     * 127.0.0.1: with one inet_interfaces address Postfix would connect
     * from the public one, which the listener does not trust. */
    buf_reset(&b);
    buf_printf(&b,
               "srs       unix  -       -       n       -       -       smtp\n"
               "  -o syslog_name=postfix/srs\n"
               "  -o myhostname=srs.invalid\n"
               "  -o smtp_tls_security_level=none\n"
               "  -o smtp_dns_support_level=disabled\n"
               "  -o smtp_tls_policy_maps=\n"
               "  -o smtp_send_xforward_command=yes\n"
               "  -o smtp_header_checks=\n"
               "  -o smtp_bind_address=127.0.0.1\n"
               "127.0.0.1:%d inet n  -       n       -       -       smtpd\n"
               "  -o syslog_name=postfix/srs-reinject\n"
               "  -o cleanup_service_name=srs-cleanup\n"
               "  -o content_filter=\n"
               "  -o smtpd_milters=\n"
               "  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters\n"
               "  -o mynetworks=127.0.0.1/32\n"
               "  -o smtpd_authorized_xforward_hosts=127.0.0.1/32\n"
               "  -o smtpd_client_restrictions=\n"
               "  -o smtpd_helo_restrictions=\n"
               "  -o smtpd_sender_restrictions=\n"
               "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
               "  -o smtpd_relay_restrictions=permit_mynetworks,reject\n"
               "  -o smtpd_data_restrictions=\n"
               "  -o smtpd_end_of_data_restrictions=\n"
               "  -o smtpd_tls_security_level=none\n"
               "  -o smtpd_sasl_auth_enable=no\n"
               "srs-cleanup unix n     -       n       -       0       cleanup\n"
               "  -o syslog_name=postfix/srs-cleanup\n"
               "  -o sender_canonical_maps=tcp:127.0.0.1:%d\n"
               "  -o sender_canonical_classes=envelope_sender\n"
               "  -o recipient_canonical_maps=\n"
               "  -o virtual_alias_maps=",
               PORT_SRS_REINJECT, PORT_SRS_FORWARD);
    render_context_set(ctx, "postfix_srs_master", buf_cstr(&b));
    buf_free(&b);
}

static void tls_context(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    buf b = BUF_INIT;
    if (render_outbound_tls(site, host) == OUTBOUND_TLS_DANE)
        buf_append_str(&b, "smtp_dns_support_level = dnssec\nsmtp_tls_security_level = dane");
    else
        buf_append_str(&b, "smtp_tls_security_level = may");
    /* MTA-STS: a domain with a policy gets "secure" (WebPKI names) from
     * mta-sts-daemon, and Postfix lets such a per-domain answer override
     * the default level above, DANE included. Where the client does DANE,
     * emailng-tlspolicy answers first: "dane" for a domain with validated
     * TLSA records, mta-sts-daemon's answer otherwise (docs/admin-manual.md
     * "Outbound TLS"). */
    if (site->outbound.mta_sts && (host->roles & ROLE_RELAY))
        buf_printf(&b, "\nsmtp_tls_policy_maps = socketmap:unix:%s/%s/socket:postfix\n"
                       "smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt",
                   render_context_get(ctx, "run_dir"), render_outbound_tlspolicy(site, host) ? "tlspolicy" : "mta-sts");
    render_context_set(ctx, "postfix_outbound_tls", buf_cstr(&b));
    buf_free(&b);
}

/* The small site's Postfix (relay and store on one host): a loopback
 * listener for Dovecot's redirects and vacation replies, which port 25
 * (trusting nobody) would refuse for other domains. Normal cleanup (aliases
 * expanded); no second scan. */
static void local_reinject_context(const struct site_host *host, struct render_context *ctx)
{
    if (!(host->roles & ROLE_STORE) || !(host->roles & ROLE_RELAY)) {
        render_context_set(ctx, "postfix_local_reinject", "# not a one-host site: the stores have their own Postfix");
        return;
    }
    char *text = xasprintf(
        "127.0.0.1:%d inet n  -       n       -       -       smtpd\n"
        "  -o syslog_name=postfix/local-reinject\n"
        "  -o content_filter=\n"
        "  -o smtpd_milters=\n"
        "  -o mynetworks=127.0.0.1/32\n"
        "  -o smtpd_client_restrictions=\n"
        "  -o smtpd_helo_restrictions=\n"
        "  -o smtpd_sender_restrictions=\n"
        "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
        "  -o smtpd_relay_restrictions=permit_mynetworks,reject\n"
        "  -o smtpd_end_of_data_restrictions=\n"
        "  -o smtpd_tls_security_level=none\n"
        "  -o smtpd_sasl_auth_enable=no",
        PORT_LOCAL_REINJECT);
    render_context_set(ctx, "postfix_local_reinject", text);
    free(text);
}

void render_outbound_context(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    local_reinject_context(host, ctx);
    srs_context(site, ctx);
    tls_context(site, host, ctx);
}
