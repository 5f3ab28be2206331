/* render: templates + site model -> configuration files; see render.h. */
#include "render.h"
#include "loopback_guard.h"
#include "render_lists.h"
#include "render_tablesync.h"
#include "render_outbound.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_config.h"
#include "site_webmail.h"
#include "site_webmail_junk.h"
#include "dkim.h"
#include "dns_records.h"
#include "fsutil.h"
#include "host_kind.h"
#include "process.h"
#include "replication.h"
#include "site_dmarc.h"
#include "site_quota_warning.h"
#include "site_storage.h"
#include "site_search.h"
#include "render_public_tls.h"

#define TEMPLATE_MAX (4 * 1024 * 1024)
/* Debian's dns-root-data: the root zone's DNSSEC key. */
#define UNBOUND_ROOT_KEY "/usr/share/dns/root.key"
#ifndef EMAILNG_PROGRAM
#define EMAILNG_PROGRAM "/usr/local/sbin/emailng"
#endif

void render_context_set(struct render_context *ctx, const char *name, const char *value)
{
    for (size_t i = 0; i < ctx->n_vars; i++)
        if (strcmp(ctx->vars[i].name, name) == 0) {
            free(ctx->vars[i].value);
            ctx->vars[i].value = xstrdup(value);
            return;
        }
    ctx->vars = xrealloc(ctx->vars, (ctx->n_vars + 1) * sizeof *ctx->vars);
    ctx->vars[ctx->n_vars].name = xstrdup(name);
    ctx->vars[ctx->n_vars].value = xstrdup(value);
    ctx->n_vars++;
}

const char *render_context_get(const struct render_context *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_vars; i++)
        if (strcmp(ctx->vars[i].name, name) == 0)
            return ctx->vars[i].value;
    return NULL;
}

void render_context_free(struct render_context *ctx)
{
    for (size_t i = 0; i < ctx->n_vars; i++) {
        free(ctx->vars[i].name);
        free(ctx->vars[i].value);
    }
    free(ctx->vars);
    ctx->vars = NULL;
    ctx->n_vars = 0;
}

static void set_printf(struct render_context *ctx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_printf(struct render_context *ctx, const char *name, const char *fmt, ...)
{
    buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    render_context_set(ctx, name, buf_cstr(&b));
    buf_free(&b);
}

/* ldapi:// URIs carry the socket path percent-encoded (RFC 3986). */
static void ldapi_uri(const char *path, buf *out)
{
    buf_append_str(out, "ldapi://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
            buf_append_char(out, (char)*p);
        else
            buf_printf(out, "%%%02X", *p);
    }
}

/* Dovecot's quota_rule size syntax: the largest exact unit. */
static void quota_text(unsigned long long bytes, buf *out)
{
    static const char units[] = "KMGT";
    if (bytes == 0) {
        buf_append_str(out, "0");   /* 0 = unlimited for Dovecot's storage rule */
        return;
    }
    int unit = -1;
    while (unit < 3 && bytes % 1024 == 0) {
        bytes /= 1024;
        unit++;
    }
    if (unit < 0)
        buf_printf(out, "%lluB", bytes);
    else
        buf_printf(out, "%llu%c", bytes, units[unit]);
}

static int system_ids(struct render_context *ctx, const char *user, buf *err)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        buf_printf(err, "the system user \"%s\" does not exist; run scripts/install-deps.sh (as root) first", user);
        return -1;
    }
    buf name = BUF_INIT;
    buf_printf(&name, "%s_uid", user);
    set_printf(ctx, buf_cstr(&name), "%lu", (unsigned long)pw->pw_uid);
    buf_reset(&name);
    buf_printf(&name, "%s_gid", user);
    set_printf(ctx, buf_cstr(&name), "%lu", (unsigned long)pw->pw_gid);
    buf_free(&name);
    return 0;
}

/* Content filter placeholders (docs/internals.md, "filter_*" and friends).
 * No TCP port (issue 10, local trust): Postfix hands queued mail to amavisd
 * over LMTP on two unix sockets in RUN/amavis/lmtp/ (amavis:postfix 0750),
 * one per policy bank (MX, submission = ORIGINATING), asks clamav-milter on
 * RUN/clamav-milter/milter (group postfix, 0660), and takes scanned mail
 * back on its own unix socket (master.cf amavis-reinject): no local user
 * can hand mail to the filter and have it relayed. */
static void render_filter_context(const struct site *site, const char *state_dir,
                                  const struct site_host *host, struct render_context *ctx)
{
    const struct site_filter *f = &site->filter;
    const char *run = render_context_get(ctx, "run_dir");
    set_printf(ctx, "amavis_socket_mx", "%s/amavis/lmtp/mx", run);
    set_printf(ctx, "amavis_socket_submission", "%s/amavis/lmtp/submission", run);
    set_printf(ctx, "clamav_milter_socket", "%s/clamav-milter/milter", run);
    render_context_set(ctx, "filter_enabled", f->enabled ? "yes" : "no");
    if (f->enabled) {
        set_printf(ctx, "filter_mx_content_filter", "amavis:unix:%s/amavis/lmtp/mx", run);
        set_printf(ctx, "filter_submission_content_filter", "amavis:unix:%s/amavis/lmtp/submission", run);
    } else {
        render_context_set(ctx, "filter_mx_content_filter", "");
        render_context_set(ctx, "filter_submission_content_filter", "");
    }
    if (f->enabled && f->before_queue)
        set_printf(ctx, "filter_mx_milters", "unix:%s/clamav-milter/milter", run);
    else
        render_context_set(ctx, "filter_mx_milters", "");
    render_context_set(ctx, "filter_virus_action", f->virus_action == VIRUS_DISCARD ? "discard" : "quarantine");
    render_context_set(ctx, "amavis_virus_destiny", "D_DISCARD");
    render_context_set(ctx, "amavis_virus_quarantine",
                       f->virus_action == VIRUS_DISCARD ? "" : "local:virus-%m");
    set_printf(ctx, "spam_junk_level", "%d.%d", f->spam_junk_tenths / 10, f->spam_junk_tenths % 10);
    set_printf(ctx, "spam_junk_percent", "%d", f->spam_junk_tenths);
    if (f->spam_quarantine_tenths)
        set_printf(ctx, "amavis_spam_kill_level", "%d.%d", f->spam_quarantine_tenths / 10,
                   f->spam_quarantine_tenths % 10);
    else
        render_context_set(ctx, "amavis_spam_kill_level", "9999");
    set_printf(ctx, "quarantine_size_bytes", "%llu", f->quarantine_size);
    render_context_set(ctx, "filter_signatures", f->signatures);
    set_printf(ctx, "clamav_database", "%s/data/%s/clamav/db", state_dir, host->name);
    set_printf(ctx, "clamav_max_scan", "%llu", site->message_size * 4);
    set_printf(ctx, "amavis_processes", "%d", f->processes);
    render_context_set(ctx, "spam_local_tests_only", f->network_tests ? "0" : "1");
    buf domains = BUF_INIT;
    for (size_t i = 0; i < site->n_domains; i++)
        buf_printf(&domains, "%s'.%s'", i ? ", " : "", site->domains[i]);
    render_context_set(ctx, "amavis_local_domains", buf_cstr(&domains));
    buf_free(&domains);
}

/* emailng-policyd placeholders (docs/internals.md, "policyd_*"). */
static void render_policy_context(const struct site *site, const struct site_host *host,
                                  struct render_context *ctx)
{
    const struct site_policy *pol = &site->policy;
    buf b = BUF_INIT;
    /* Postfix's only way in: a directory root:postfix 0750 (emailng up),
     * the socket 0660 group postfix, and peer_users checked by the daemon */
    set_printf(ctx, "policyd_socket", "%s/policyd/policy", render_context_get(ctx, "run_dir"));
    /* emailng-fromcheck, the submission services' milter (issue 11): in a
     * directory of user postfix, 0700; the socket 0600 postfix */
    set_printf(ctx, "fromcheck_socket", "%s/fromcheck/milter", render_context_get(ctx, "run_dir"));
    /* quota.stores: every store pair and the quota-status services of its
     * hosts (a store on this host answers on 127.0.0.1 only). */
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!(h->roles & ROLE_STORE) || h->store_pair == NULL)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= (site->hosts[j].roles & ROLE_STORE) && site->hosts[j].store_pair
                    && strcmp(site->hosts[j].store_pair, h->store_pair) == 0;
        if (seen)
            continue;
        buf_printf(&b, "%s    %s: [", b.len ? "\n" : "", h->store_pair);
        int first = 1;
        for (size_t j = i; j < site->n_hosts; j++) {
            const struct site_host *m = &site->hosts[j];
            if (!(m->roles & ROLE_STORE) || m->store_pair == NULL || strcmp(m->store_pair, h->store_pair) != 0)
                continue;
            const char *addr = m == host ? "127.0.0.1" : m->address;
            if (strchr(addr, ':'))
                buf_printf(&b, "%s\"[%s]:%d\"", first ? "" : ", ", addr, site->ports.quota_status);
            else
                buf_printf(&b, "%s\"%s:%d\"", first ? "" : ", ", addr, site->ports.quota_status);
            first = 0;
        }
        buf_append_str(&b, "]");
    }
    if (b.len == 0)
        buf_append_str(&b, "    {}");
    render_context_set(ctx, "policyd_quota_stores", buf_cstr(&b));
    set_printf(ctx, "policyd_msgs_per_hour", "%ld", pol->user.msgs_per_hour);
    set_printf(ctx, "policyd_rcpts_per_msg", "%ld", pol->user.rcpts_per_msg);
    set_printf(ctx, "policyd_rcpts_per_day", "%ld", pol->user.rcpts_per_day);
    set_printf(ctx, "policyd_client_msgs_per_hour", "%ld", pol->client.msgs_per_hour);
    set_printf(ctx, "policyd_client_rcpts_per_msg", "%ld", pol->client.rcpts_per_msg);
    set_printf(ctx, "policyd_client_rcpts_per_day", "%ld", pol->client.rcpts_per_day);
    render_context_set(ctx, "policyd_spf_enabled", pol->spf_enabled ? "true" : "false");
    render_context_set(ctx, "policyd_spf_reject_fail", pol->spf_reject_fail ? "true" : "false");
    render_context_set(ctx, "policyd_spf_resolv_conf", pol->spf_resolv_conf ? pol->spf_resolv_conf : "");
    buf_reset(&b);
    for (size_t i = 0; i < pol->n_spf_trusted_forwarders; i++)
        buf_printf(&b, "%s\"%s\"", i ? ", " : "", pol->spf_trusted_forwarders[i]);
    render_context_set(ctx, "policyd_trusted_forwarders", buf_cstr(&b));
    render_context_set(ctx, "policyd_greylist_enabled", pol->greylist_enabled ? "true" : "false");
    buf_reset(&b);
    for (size_t i = 0; i < pol->n_greylist_domains; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", pol->greylist_domains[i]);
    render_context_set(ctx, "policyd_greylist_domains", buf_cstr(&b));
    set_printf(ctx, "policyd_greylist_delay", "%ld", pol->greylist_delay);
    /* Postfix smtpd_authorized_xclient_hosts: empty = nobody. */
    buf_reset(&b);
    for (size_t i = 0; i < pol->n_xclient_hosts; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", pol->xclient_hosts[i]);
    render_context_set(ctx, "postfix_xclient_hosts", buf_cstr(&b));
    buf_free(&b);
}

/* Addresses of the hosts with a role, joined by sep, each wrapped as
 * before ADDR after (IPv6 in brackets when `bracket`). */
static void role_addresses(const struct site *site, unsigned role, const char *sep, const char *before,
                           const char *after, int bracket, buf *out)
{
    int first = 1;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!(h->roles & role))
            continue;
        int v6 = strchr(h->address, ':') != NULL;
        buf_printf(out, "%s%s%s%s%s%s", first ? "" : sep, before, bracket && !v6 ? "[" : "",
                   bracket && v6 ? "[" : "", h->address, bracket ? "]" : "");
        buf_append_str(out, after);
        first = 0;
    }
}

/* OpenDKIM on the relays (templates/opendkim, issue 11). Its milter comes
 * first wherever Postfix lists milters (OpenDMARC after it reads its
 * Authentication-Results); dkim.enabled false leaves every list without it. */
static void render_dkim_context(const struct site *site, struct render_context *ctx)
{
    const char *run = render_context_get(ctx, "run_dir");
    buf b = BUF_INIT;
    set_printf(ctx, "opendkim_socket", "%s/opendkim/milter", run);
    set_printf(ctx, "opendkim_key_dir", "%s/opendkim", render_context_get(ctx, "data_dir"));
    render_context_set(ctx, "dkim_enabled", site->dkim.enabled ? "yes" : "no");
    if (site->dkim.enabled) {
        set_printf(ctx, "opendkim_milter", "unix:%s/opendkim/milter", run);
        set_printf(ctx, "opendkim_milter_first", "unix:%s/opendkim/milter,", run);
        set_printf(ctx, "opendkim_milter_next", ", unix:%s/opendkim/milter", run);
    } else {
        render_context_set(ctx, "opendkim_milter", "");
        render_context_set(ctx, "opendkim_milter_first", "");
        render_context_set(ctx, "opendkim_milter_next", "");
    }
    /* Signed without authentication: loopback and the stores. */
    buf_append_str(&b, "127.0.0.1,::1,");
    role_addresses(site, ROLE_STORE, ",", "", "", 0, &b);
    render_context_set(ctx, "opendkim_internal_hosts", buf_cstr(&b));
    /* The names an Authentication-Results of ours would carry. */
    buf_reset(&b);
    for (size_t i = 0; i < site->n_tls_names; i++)
        if (strchr(site->tls_names[i], '.') && strspn(site->tls_names[i], "0123456789.") != strlen(site->tls_names[i])
            && !strchr(site->tls_names[i], ':'))
            buf_printf(&b, "%s%s", b.len ? "," : "", site->tls_names[i]);
    render_context_set(ctx, "opendkim_own_names", b.len ? buf_cstr(&b) : site->tls_names[0]);
    /* How OpenDKIM finds the keys of the signatures it verifies. Debian's
     * OpenDKIM 2.11 resolves with libunbound and re-reads a
     * ResolverConfiguration file for every message; that parser is not
     * thread-safe, and concurrent messages crash the milter ("fatal flex
     * scanner internal error"; seen at 4 submission sessions). So a real
     * site gets no such file: the site's upstream resolvers (Nameservers,
     * plain addresses), else libunbound's own recursion from the root with
     * DNSSEC (the relay's unbound on 127.0.0.1 cannot serve: libunbound
     * never queries loopback). Only the test fabric needs the file:
     * libunbound answers names under test. itself (NXDOMAIN) unless told
     * "nodefault", and only a file can tell it; the fabric's tests send
     * one message at a time through a relay's verifier. */
    buf_reset(&b);
    buf c = BUF_INIT;
    if (site->fabric.dns && site->n_hosts > 1 && !site->network.n_resolver_forward) {
        buf_printf(&b, "ResolverConfiguration   %s/opendkim/resolver.conf", render_context_get(ctx, "etc_dir"));
        buf_printf(&c, "server:\n    local-zone: \"test.\" nodefault\n"
                       "forward-zone:\n    name: \".\"\n    forward-addr: %s", site->fabric.dns);
    } else if (site->network.n_resolver_forward) {
        buf_append_str(&b, "Nameservers             ");
        for (size_t i = 0; i < site->network.n_resolver_forward; i++)
            buf_printf(&b, "%s%s", i ? "," : "", site->network.resolver_forward[i]);
        buf_append_str(&c, "# not used: opendkim.conf names the resolvers (Nameservers)");
    } else {
        buf_append_str(&b, "TrustAnchorFile         /usr/share/dns/root.key");
        buf_append_str(&c, "# not used: libunbound resolves from the root itself");
    }
    render_context_set(ctx, "opendkim_dns", buf_cstr(&b));
    render_context_set(ctx, "opendkim_resolver_conf", buf_cstr(&c));
    buf_free(&c);
    buf_free(&b);
}

/* emailng-healthd on the proxies (templates/healthd): every store pair,
 * its first store in the site file as the primary; and the emailng
 * program (next to the running one, else the installed one) for the
 * catch-up check. */
static void render_healthd_context(const struct site *site, struct render_context *ctx)
{
    buf b = BUF_INIT;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        const struct site_host *partner = site_store_partner(site, h);
        if (partner == NULL || partner < h)    /* a pair once, from its first store */
            continue;
        buf_printf(&b, "%s  %s: {primary: \"%s\", secondary: \"%s\"}", b.len ? "\n" : "", h->store_pair,
                   h->address, partner->address);
    }
    render_context_set(ctx, "healthd_pairs", buf_cstr(&b));
    buf_free(&b);
    char *program = process_program_next_to_us("emailng", EMAILNG_PROGRAM);
    render_context_set(ctx, "emailng_program", program);
    free(program);
}

/* text with the characters special in a POSIX extended regular expression
 * escaped (Postfix regexp tables: header checks that name hosts, S7). */
static void regex_escaped(const char *text, buf *out)
{
    for (const char *p = text; *p; p++) {
        if (strchr(".[]()*+?{}|^$\\", *p))
            buf_append_char(out, '\\');
        buf_append_char(out, *p);
    }
}

/* Placeholders of a site of several hosts (docs/architecture.md): per-host
 * certificates, LDAPS to the directory host with client certificates, and
 * the next hops between the roles. The small site gets the same names with
 * values for one host, so every template could use them. */
static void render_topology_context(const struct site *site, const struct site_host *host,
                                    const char *state_dir, struct render_context *ctx)
{
    enum { PORT_LDAPS = 636 };
    const struct site_host *dir_host = site_host_with_role(site, ROLE_DIRECTORY);
    int multi = site->n_hosts > 1;
    buf b = BUF_INIT;

    set_printf(ctx, "tls_dir", "%s/tls", state_dir);
    /* Postfix myhostname: a host of several has its own name (the relays
     * see the stores' greetings and refuse mail that "loops back to myself"
     * when both say the same); the small site keeps the public name. */
    if (multi)
        set_printf(ctx, "host_fqdn", "%s.%s", host->name, site->domains[0]);
    else
        render_context_set(ctx, "host_fqdn", site->tls_names[0]);
    set_printf(ctx, "port_ldaps", "%d", PORT_LDAPS);
    if (multi) {
        /* One server certificate per host; client certificates for the
         * daemons that bind to slapd over LDAPS. */
        set_printf(ctx, "tls_cert", "%s/tls/%s/server.crt", state_dir, host->name);
        set_printf(ctx, "tls_key", "%s/tls/%s/server.key", state_dir, host->name);
    }
    set_printf(ctx, "tls_client_dovecot_cert", "%s/tls/%s/client-dovecot.crt", state_dir, host->name);
    set_printf(ctx, "tls_client_dovecot_key", "%s/tls/%s/client-dovecot.key", state_dir, host->name);
    set_printf(ctx, "tls_client_postfix_cert", "%s/tls/%s/client-postfix.crt", state_dir, host->name);
    set_printf(ctx, "tls_client_postfix_key", "%s/tls/%s/client-postfix.key", state_dir, host->name);
    set_printf(ctx, "tls_client_passwd_cert", "%s/tls/%s/client-passwd.crt", state_dir, host->name);
    set_printf(ctx, "tls_client_passwd_key", "%s/tls/%s/client-passwd.key", state_dir, host->name);

    /* slapd's listeners: always its ldapi socket (the emailng tool, local
     * daemons); on the directory host of several hosts also LDAPS. */
    const char *ldapi = render_context_get(ctx, "ldap_uri");
    if (multi && dir_host == host)
        set_printf(ctx, "slapd_urls", "%s/ ldaps://%s%s%s:%d/", ldapi, strchr(host->address, ':') ? "[" : "",
                   host->address, strchr(host->address, ':') ? "]" : "", PORT_LDAPS);
    else
        set_printf(ctx, "slapd_urls", "%s/", ldapi);
    /* Other hosts reach the directory over LDAPS. */
    if (multi && dir_host && dir_host != host)
        set_printf(ctx, "ldap_uri", "ldaps://%s%s%s:%d/", strchr(dir_host->address, ':') ? "[" : "",
                   dir_host->address, strchr(dir_host->address, ':') ? "]" : "", PORT_LDAPS);

    /* Relays -> stores' Postfix (mail for our domains), in site order. */
    buf_reset(&b);
    buf_printf(&b, "%s", "");
    {
        buf port = BUF_INIT;
        buf_printf(&port, ":%d", site->ports.smtp);
        role_addresses(site, ROLE_STORE, ", ", "", buf_cstr(&port), 1, &b);
        render_context_set(ctx, "relay_nexthops", buf_cstr(&b));
        /* Stores -> relays (outgoing mail). */
        buf_reset(&b);
        role_addresses(site, ROLE_RELAY, ", ", "", buf_cstr(&port), 1, &b);
        render_context_set(ctx, "relay_nexthops_out", buf_cstr(&b));
        /* Stores' Postfix -> proxies' LMTP. */
        buf_reset(&b);
        buf_reset(&port);
        buf_printf(&port, ":%d", site->ports.lmtp);
        /* "inet:" once, before the list: Postfix's LMTP client takes the
         * transport type off the whole next-hop field and reads every list
         * element as [host]:port ("inet:" on the second is a bad host name). */
        buf_append_str(&b, "inet:");
        role_addresses(site, ROLE_PROXY, ", ", "", buf_cstr(&port), 1, &b);
        render_context_set(ctx, "store_lmtp_nexthops", buf_cstr(&b));
        buf_free(&port);
    }
    /* Replication of a store pair (templates/dovecot-store): the partner's
     * doveadm server; the nftables rules admit port_doveadm from the
     * partner only. The pair's shared secret stays in STATE/secrets. */
    enum { PORT_DOVEADM = 12345 };
    set_printf(ctx, "port_doveadm", "%d", PORT_DOVEADM);
    char *doveadm_secret = replication_secret_path(state_dir);
    render_context_set(ctx, "doveadm_password_file", doveadm_secret);
    free(doveadm_secret);
    const struct site_host *partner = site_store_partner(site, host);
    render_context_set(ctx, "replica_address", partner ? partner->address : "");
    render_context_set(ctx, "store_pair", host->store_pair ? host->store_pair : "");
    /* Dovecot's own name for the host (DOVECOT_HOSTDOMAIN): the two stores
     * of a pair must differ (dsync takes a user's lock on the side whose
     * name sorts last), and Dovecot 2.3 also writes it into the
     * Message-ID of Sieve's rejections, which leave the site (S7). So an
     * opaque label (FNV-1a of the host's name) under the public name:
     * distinct, and it names no internal host. */
    uint32_t fnv = 2166136261u;
    for (const char *c = host->name; *c; c++)
        fnv = (fnv ^ (unsigned char)*c) * 16777619u;
    set_printf(ctx, "dovecot_hostdomain", "h%08x.%s", (unsigned)fnv, site->tls_names[0]);

    static const struct {
        const char *name;
        unsigned role;
    } lists[] = {
        {"relay_addresses", ROLE_RELAY},
        {"proxy_addresses", ROLE_PROXY},
        {"store_addresses", ROLE_STORE},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        buf_reset(&b);
        role_addresses(site, lists[i].role, " ", "", "", 0, &b);
        render_context_set(ctx, lists[i].name, buf_cstr(&b));
        /* NAME_regex: the same addresses as one regexp alternative, for the
         * S7 header and body checks of postfix-relay and postfix-store. */
        buf_reset(&b);
        for (size_t h = 0, n = 0; h < site->n_hosts; h++) {
            if (!(site->hosts[h].roles & lists[i].role))
                continue;
            if (n++)
                buf_append_char(&b, '|');
            regex_escaped(site->hosts[h].address, &b);
        }
        char *name = xasprintf("%s_regex", lists[i].name);
        render_context_set(ctx, name, buf_cstr(&b));
        free(name);
    }
    render_healthd_context(site, ctx);
    buf_reset(&b);
    regex_escaped(site->tls_names[0], &b);
    render_context_set(ctx, "public_hostname_regex", buf_cstr(&b));
    buf_free(&b);
}

/* nftables set elements ("elements = { A, B }", or "" for an empty set) of
 * one address family; `only` NULL: every host with the role. */
static void nft_elements(const struct site *site, unsigned role, const struct site_host *only, int v6,
                         buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!(h->roles & role) || (only && h != only) || (strchr(h->address, ':') != NULL) != v6)
            continue;
        buf_printf(out, "%s%s", out->len ? ", " : "elements = { ", h->address);
    }
    if (out->len)
        buf_append_str(out, " }");
}

/* fail2ban (templates/fail2ban, X2): the jails of the host's roles and the
 * site's limits. Relays watch SMTP AUTH (Postfix's log), proxies IMAP/POP3
 * and ManageSieve logins (Dovecot's login processes). */
static void render_bruteforce_context(const struct site *site, const struct site_host *host,
                                      struct render_context *ctx)
{
    const struct site_bruteforce *bf = &site->bruteforce;
    set_printf(ctx, "fail2ban_maxretry", "%ld", bf->maxretry);
    set_printf(ctx, "fail2ban_findtime", "%ld", bf->findtime);
    set_printf(ctx, "fail2ban_bantime", "%ld", bf->bantime);
    render_context_set(ctx, "fail2ban_smtp_enabled", host->roles & ROLE_RELAY ? "true" : "false");
    render_context_set(ctx, "fail2ban_imap_enabled", host->roles & ROLE_PROXY ? "true" : "false");
    buf b = BUF_INIT;
    for (size_t i = 0; i < bf->n_ignore; i++)
        buf_printf(&b, "%s%s", b.len ? " " : "", bf->ignore[i]);
    /* A proxy of several hosts sees the relays' submission logins (the
     * relays' imap passdb) as coming from the relay: never ban a relay for
     * its clients' guesses, which the relay's own jail bans. */
    if (host->roles == ROLE_PROXY)
        for (size_t h = 0; h < site->n_hosts; h++)
            if (site->hosts[h].roles & ROLE_RELAY)
                buf_printf(&b, "%s%s", b.len ? " " : "", site->hosts[h].address);
    render_context_set(ctx, "fail2ban_ignoreip", buf_cstr(&b));
    buf_free(&b);
}

/* The host firewall (templates/nftables-ROLE, X1) and the relays' caching
 * resolver (templates/unbound, S8); docs/architecture.md, "Firewall". */
static void render_network_context(const struct site *site, const struct site_host *host,
                                   struct render_context *ctx)
{
    enum { PORT_DNS = 53, PORT_DOVEADM = 12345 };
    static const struct {
        const char *name;
        unsigned role;
    } sets[] = {
        {"relays", ROLE_RELAY}, {"proxies", ROLE_PROXY}, {"stores", ROLE_STORE}, {"directory", ROLE_DIRECTORY},
    };
    buf b = BUF_INIT, name = BUF_INIT;
    for (int v6 = 0; v6 <= 1; v6++) {
        for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
            nft_elements(site, sets[i].role, NULL, v6, &b);
            buf_reset(&name);
            buf_printf(&name, "nft_%s_v%d", sets[i].name, v6 ? 6 : 4);
            render_context_set(ctx, buf_cstr(&name), buf_cstr(&b));
        }
        /* The other store of this store's pair (doveadm replication). */
        const struct site_host *partner = site_store_partner(site, host);
        buf_reset(&b);
        if (partner)
            nft_elements(site, ROLE_STORE, partner, v6, &b);
        render_context_set(ctx, v6 ? "nft_partner_v6" : "nft_partner_v4", buf_cstr(&b));
        buf_reset(&b);
        for (size_t i = 0; i < site->network.n_admin_hosts; i++) {
            const char *a = site->network.admin_hosts[i];
            if ((strchr(a, ':') != NULL) == v6)
                buf_printf(&b, "%s%s", b.len ? ", " : "elements = { ", a);
        }
        if (b.len)
            buf_append_str(&b, " }");
        render_context_set(ctx, v6 ? "nft_admin_v6" : "nft_admin_v4", buf_cstr(&b));
    }
    /* Replication between the stores of a pair; another module may set it
     * from the site's ports first. */
    if (render_context_get(ctx, "port_doveadm") == NULL)
        set_printf(ctx, "port_doveadm", "%d", PORT_DOVEADM);
    set_printf(ctx, "port_dns", "%d", PORT_DNS);

    /* unbound: the site's upstream resolvers; else, in the test fabric
     * (no internet), the fabric's DNS; else full recursion from the root,
     * validated with Debian's root key (static: no RFC 5011 updates). */
    buf_reset(&b);
    if (site->network.n_resolver_forward || site->fabric.dns) {
        buf_append_str(&b, "forward-zone:\n    name: \".\"\n");
        if (site->network.n_resolver_forward)
            for (size_t i = 0; i < site->network.n_resolver_forward; i++)
                buf_printf(&b, "    forward-addr: %s\n", site->network.resolver_forward[i]);
        else
            buf_printf(&b, "    forward-addr: %s\n", site->fabric.dns);
    } else {
        buf_append_str(&b, "# no forwarders (resolver.forward): full recursion from the root servers\n");
    }
    render_context_set(ctx, "unbound_forward_zone", buf_cstr(&b));
    if (site->network.n_resolver_forward || site->fabric.dns || access(UNBOUND_ROOT_KEY, R_OK) != 0)
        render_context_set(ctx, "unbound_trust_anchor", "# no DNSSEC trust anchor: answers of the forwarders are trusted");
    else
        set_printf(ctx, "unbound_trust_anchor", "trust-anchor-file: \"%s\"", UNBOUND_ROOT_KEY);
    /* Our own domains are always looked up, even under a name unbound
     * answers locally by default (e.g. .test of the test fabric). */
    buf_reset(&b);
    for (size_t i = 0; i < site->n_domains; i++)
        buf_printf(&b, "%s    local-zone: \"%s.\" transparent", i ? "\n" : "", site->domains[i]);
    render_context_set(ctx, "unbound_local_zones", buf_cstr(&b));
    buf_free(&b);
    buf_free(&name);
}

/* Prometheus metrics (O1; site_metrics.h): where every host's endpoints
 * listen. A host of several has a firewall that admits only the site's
 * admin_hosts to them (templates/nftables-ROLE); the one-host site has
 * none, so there they listen on loopback only. */
static void render_metrics_context(const struct site *site, const struct site_host *host,
                                   struct render_context *ctx)
{
    const struct site_metrics *m = &site->metrics;
    const char *address = site->n_hosts > 1 ? host->address : "127.0.0.1";
    render_context_set(ctx, "metrics_address", address);
    set_printf(ctx, "port_metrics_dovecot", "%d", m->dovecot_port);
    set_printf(ctx, "port_metrics_postfix", "%d", m->postfix_port);
    set_printf(ctx, "port_metrics_emailng", "%d", m->emailng_port);
    if (m->enabled)
        set_printf(ctx, "dovecot_stats_listener",
                   "service stats {\n"
                   "  inet_listener http {\n"
                   "    address = %s\n"
                   "    port = %d\n"
                   "  }\n"
                   "}", address, m->dovecot_port);
    else
        render_context_set(ctx, "dovecot_stats_listener", "# metrics.enabled is false: no OpenMetrics listener");
}

int render_context_for_host(const struct site *site, const struct site_host *host,
                            const char *state_dir, struct render_context *ctx, buf *err)
{
    const struct site_host *dir_host = site_host_with_role(site, ROLE_DIRECTORY);
    buf b = BUF_INIT;

    render_context_set(ctx, "site_name", site->name);
    render_context_set(ctx, "host_name", host->name);
    render_context_set(ctx, "host_address", host->address);
    render_context_set(ctx, "public_hostname", site->tls_names[0]);
    render_context_set(ctx, "primary_domain", site->domains[0]);
    for (size_t i = 0; i < site->n_domains; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", site->domains[i]);
    render_context_set(ctx, "domains", buf_cstr(&b));
    render_context_set(ctx, "ldap_base", site->ldap_base);
    render_context_set(ctx, "state_dir", state_dir);
    set_printf(ctx, "etc_dir", "%s/etc/%s", state_dir, host->name);
    set_printf(ctx, "run_dir", "%s/run/%s", state_dir, host->name);
    set_printf(ctx, "data_dir", "%s/data/%s", state_dir, host->name);
    set_printf(ctx, "log_dir", "%s/log/%s", state_dir, host->name);
    set_printf(ctx, "tls_ca", "%s/tls/ca.crt", state_dir);
    set_printf(ctx, "tls_cert", "%s/tls/server.crt", state_dir);
    set_printf(ctx, "tls_key", "%s/tls/server.key", state_dir);

    buf_reset(&b);
    buf_printf(&b, "%s/run/%s/ldapi", state_dir, dir_host ? dir_host->name : host->name);
    render_context_set(ctx, "ldap_socket", buf_cstr(&b));
    buf uri = BUF_INIT;
    ldapi_uri(buf_cstr(&b), &uri);
    render_context_set(ctx, "ldap_uri", buf_cstr(&uri));
    buf_free(&uri);

    buf_reset(&b);
    quota_text(site->quota_default, &b);
    render_context_set(ctx, "quota_default", buf_cstr(&b));
    set_printf(ctx, "quota_grace", "%u%%", site->quota_grace_percent);
    set_printf(ctx, "message_size_limit", "%llu", site->message_size);
    set_printf(ctx, "line_length_limit", "%llu", site->line_length);
    set_printf(ctx, "port_smtp", "%d", site->ports.smtp);
    set_printf(ctx, "port_submission", "%d", site->ports.submission);
    set_printf(ctx, "port_submissions", "%d", site->ports.submissions);
    set_printf(ctx, "port_imap", "%d", site->ports.imap);
    set_printf(ctx, "port_imaps", "%d", site->ports.imaps);
    set_printf(ctx, "port_pop3", "%d", site->ports.pop3);
    set_printf(ctx, "port_pop3s", "%d", site->ports.pop3s);
    set_printf(ctx, "port_managesieve", "%d", site->ports.managesieve);
    set_printf(ctx, "port_lmtp", "%d", site->ports.lmtp);
    set_printf(ctx, "port_quota_status", "%d", site->ports.quota_status);
    buf_free(&b);
    render_filter_context(site, state_dir, host, ctx);
    render_policy_context(site, host, ctx);
    render_topology_context(site, host, state_dir, ctx);
    render_public_tls_context(site, host, state_dir, ctx);    /* after tls_cert is final */
    render_network_context(site, host, ctx);
    render_dkim_context(site, ctx);
    render_bruteforce_context(site, host, ctx);
    site_dmarc_render(site, ctx);
    site_storage_render(site, host, ctx);
    site_quota_warning_render(site, ctx);
    site_search_render(site, ctx);
    render_metrics_context(site, host, ctx);
    render_outbound_context(site, host, ctx);
    render_lists_context(host, ctx);
    client_config_context(site, host, ctx);   /* nginx and the clients' auto-configuration */
    render_tablesync_context(site, host, ctx);  /* after client_config and the host's certificate */
    site_webmail_render(site, host, ctx);     /* after client_config: the public names */
    site_webmail_junk_render(site, host, ctx);
    {
        buf guard = BUF_INIT;
        loopback_guard_rules(site, host, &guard);
        render_context_set(ctx, "loopback_guard_rules", buf_cstr(&guard));
        buf_free(&guard);
    }

    static const char *const users[] = {"postfix", "dovecot", "vmail", "openldap"};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
        if (system_ids(ctx, users[i], err) != 0)
            return -1;
    return 0;
}

int render_text(const struct render_context *ctx, const char *text, const char *where,
                buf *out, buf *err)
{
    size_t line = 1;
    const char *p = text;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (open == NULL) {
            buf_append_str(out, p);
            break;
        }
        for (const char *q = p; q < open; q++)
            if (*q == '\n')
                line++;
        buf_append(out, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        const char *newline = strchr(open + 2, '\n');
        if (close == NULL || (newline && newline < close)) {
            buf_printf(err, "%s:%zu: \"{{\" without a closing \"}}\" on the same line", where, line);
            return -1;
        }
        buf name = BUF_INIT;
        buf_append(&name, open + 2, (size_t)(close - open - 2));
        const char *value = render_context_get(ctx, buf_cstr(&name));
        if (value == NULL) {
            buf_printf(err, "%s:%zu: unknown placeholder {{%s}}", where, line, buf_cstr(&name));
            buf_free(&name);
            return -1;
        }
        buf_free(&name);
        buf_append_str(out, value);
        p = close + 2;
    }
    return 0;
}

const char *const *render_components(unsigned roles)
{
    static const char *const none[] = {NULL};
    const struct host_kind *kind = host_kind_of(roles);
    return kind ? kind->components : none;
}

const char *render_component_template(unsigned roles, const char *component)
{
    const struct host_kind *kind = host_kind_of(roles);
    for (size_t i = 0; kind != NULL && kind->components[i]; i++)
        if (strcmp(kind->components[i], component) == 0)
            return kind->templates[i];
    return component;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Renders src (a file or folder) to dst, recursively, in sorted order. */
static int render_tree(const struct render_context *ctx, const char *src, const char *dst, buf *err)
{
    struct stat st;
    if (stat(src, &st) != 0) {
        buf_printf(err, "%s: %s", src, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (fs_mkdirs(dst, 0755, err) != 0)
            return -1;
        DIR *d = opendir(src);
        if (d == NULL) {
            buf_printf(err, "%s: %s", src, strerror(errno));
            return -1;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = xstrdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, compare_names);
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            if (rc == 0) {
                char *s = xasprintf("%s/%s", src, names[i]);
                char *t = xasprintf("%s/%s", dst, names[i]);
                rc = render_tree(ctx, s, t, err);
                free(s);
                free(t);
            }
            free(names[i]);
        }
        free(names);
        return rc;
    }
    buf text = BUF_INIT, out = BUF_INIT;
    int rc = fs_read_file(src, TEMPLATE_MAX, &text, err);
    if (rc == 0)
        rc = render_text(ctx, buf_cstr(&text), src, &out, err);
    if (rc == 0)
        rc = fs_write_file(dst, out.data ? out.data : "", out.len, 0644, err);
    buf_free(&text);
    buf_free(&out);
    return rc;
}

/* The test fabric's DNS (templates/nsd): one zone file per domain, DOMAIN.zone,
 * whose records are exactly what `emailng dns` prints (dns_records.h), so
 * `emailng dns check` against the fabric checks the tool's own output. */
static void fabric_dns_context(const struct site *site, const char *state_dir, struct render_context *ctx)
{
    buf b = BUF_INIT;
    render_context_set(ctx, "site_name", site->name);
    render_context_set(ctx, "state_dir", state_dir);
    render_context_set(ctx, "fabric_dns_address", site->fabric.dns);
    set_printf(ctx, "fabric_dns_dir", "%s/etc/fabric-dns/nsd", state_dir);
    for (size_t i = 0; i < site->n_domains; i++)
        buf_printf(&b, "zone:\n    name: %s\n    zonefile: %s.zone\n", site->domains[i], site->domains[i]);
    render_context_set(ctx, "nsd_zones", buf_cstr(&b));
    buf_free(&b);
}

/* templates/nsd/nsd.conf, and templates/nsd/zone once per domain as
 * DOMAIN.zone with that domain's records. */
static int render_fabric_dns(const struct site *site, const char *templates_dir, const char *state_dir,
                             const char *out_dir, buf *err)
{
    struct render_context ctx = {0};
    fabric_dns_context(site, state_dir, &ctx);
    char *dst = xasprintf("%s/fabric-dns/nsd", out_dir);
    char *src = xasprintf("%s/nsd/nsd.conf", templates_dir);
    char *file = xasprintf("%s/nsd.conf", dst);
    int rc = fs_mkdirs(dst, 0755, err);
    if (rc == 0)
        rc = render_tree(&ctx, src, file, err);
    free(src);
    free(file);
    src = xasprintf("%s/nsd/zone", templates_dir);
    for (size_t i = 0; rc == 0 && i < site->n_domains; i++) {
        struct dns_domain_records r;
        buf records = BUF_INIT;
        rc = dns_records_build(site, site->domains[i], &r, err);
        if (rc == 0)
            rc = dkim_dns_add(site, state_dir, &r, err);
        if (rc != 0)
            dns_records_free(&r);
        if (rc == 0) {
            dns_records_zone_text(&r, 1, 1, &records);
            dns_records_free(&r);
            render_context_set(&ctx, "zone_domain", site->domains[i]);
            render_context_set(&ctx, "zone_records", buf_cstr(&records));
            file = xasprintf("%s/%s.zone", dst, site->domains[i]);
            rc = render_tree(&ctx, src, file, err);
            free(file);
        }
        buf_free(&records);
    }
    free(src);
    free(dst);
    render_context_free(&ctx);
    return rc;
}

int render_site(const struct site *site, const char *templates_dir, const char *state_dir,
                const char *out_dir, buf *err)
{
    if (site->fabric.dns && site->n_hosts > 1 && render_fabric_dns(site, templates_dir, state_dir, out_dir, err) != 0)
        return -1;
    for (size_t h = 0; h < site->n_hosts; h++) {
        const struct site_host *host = &site->hosts[h];
        struct render_context ctx = {0};
        if (render_context_for_host(site, host, state_dir, &ctx, err) != 0) {
            render_context_free(&ctx);
            return -1;
        }
        int rc = 0;
        for (const char *const *c = render_components(host->roles); rc == 0 && *c; c++) {
            char *src = xasprintf("%s/%s", templates_dir, render_component_template(host->roles, *c));
            char *dst = xasprintf("%s/%s/%s", out_dir, host->name, *c);
            rc = render_tree(&ctx, src, dst, err);
            free(src);
            free(dst);
        }
        render_context_free(&ctx);
        if (rc != 0)
            return -1;
    }
    return 0;
}
