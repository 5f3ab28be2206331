/* dns_records: the records a site's domains need; see dns_records.h. */
#include "dns_records.h"
#include "client_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "site_dmarc.h"

/* Preferences of the MX records: the relays in site order, 10, 20, ... */
#define MX_STEP 10
/* MTA-STS policy lifetime (RFC 8461 suggests weeks): one week. */
#define MTA_STS_MAX_AGE 604800
/* Bytes of the policy's SHA-256 in its id (hex: 32 characters, the most
 * RFC 8461 allows). */
#define MTA_STS_ID_BYTES 16

const char *dns_type_name(enum dns_type type)
{
    switch (type) {
    case DNS_A: return "A";
    case DNS_AAAA: return "AAAA";
    case DNS_MX: return "MX";
    case DNS_TXT: return "TXT";
    case DNS_SRV: return "SRV";
    }
    return "?";
}

static char *lower_dup(const char *s)
{
    char *d = xstrdup(s);
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* name is subdomain of (or equal to) zone */
static int name_in(const char *name, const char *zone)
{
    size_t n = strlen(name), z = strlen(zone);
    if (n == z)
        return strcasecmp(name, zone) == 0;
    return n > z && name[n - z - 1] == '.' && strcasecmp(name + n - z, zone) == 0;
}

const char *dns_zone_of(const struct site *site, const char *name)
{
    const char *best = NULL;
    for (size_t i = 0; i < site->n_domains; i++)
        if (name_in(name, site->domains[i]) && (best == NULL || strlen(site->domains[i]) > strlen(best)))
            best = site->domains[i];
    return best;
}

static int is_ipv6(const char *address)
{
    return strchr(address, ':') != NULL;
}

/* A relay's public name: its HELO name and MX target (render.c host_fqdn:
 * HOST.PRIMARY on a site of several hosts, the public name on the one-host
 * site). Caller frees. */
static char *relay_name(const struct site *site, const struct site_host *h)
{
    if (site->n_hosts > 1) {
        char *s = xasprintf("%s.%s", h->name, site->domains[0]);
        char *l = lower_dup(s);
        free(s);
        return l;
    }
    return lower_dup(site->tls_names[0]);
}

/* A TXT value in zone-file form: quoted, " and \ escaped, cut into
 * character-strings of at most 255 bytes (RFC 1035 3.3.14). */
static void txt_quote(const char *text, buf *out)
{
    size_t len = strlen(text);
    if (len == 0) {
        buf_append_str(out, "\"\"");
        return;
    }
    for (size_t off = 0; off < len; off += 255) {
        size_t n = len - off < 255 ? len - off : 255;
        buf_append_str(out, off ? " \"" : "\"");
        for (size_t i = 0; i < n; i++) {
            char c = text[off + i];
            if (c == '"' || c == '\\')
                buf_append_char(out, '\\');
            buf_append_char(out, c);
        }
        buf_append_char(out, '"');
    }
}

static void add(struct dns_domain_records *r, const char *name, enum dns_type type, const char *data,
                const char *canon, const char *tag, int in_zone, char *comment)
{
    for (size_t i = 0; i < r->n_records; i++)
        if (r->records[i].type == type && strcmp(r->records[i].name, name) == 0
            && strcmp(r->records[i].canon, canon) == 0) {
            free(comment);          /* the same record again (small site: one host) */
            return;
        }
    r->records = xrealloc(r->records, (r->n_records + 1) * sizeof *r->records);
    struct dns_record *rec = &r->records[r->n_records++];
    rec->name = xstrdup(name);
    rec->type = type;
    rec->data = xstrdup(data);
    rec->canon = xstrdup(canon);
    rec->tag = tag;
    rec->comment = comment;
    rec->in_zone = in_zone;
}

void dns_records_add_txt(struct dns_domain_records *r, const char *name, const char *text, const char *tag,
                         char *comment)
{
    buf q = BUF_INIT;
    txt_quote(text, &q);
    add(r, name, DNS_TXT, buf_cstr(&q), text, tag, 1, comment);
    buf_free(&q);
}

void dns_records_note(struct dns_domain_records *r, char *line)
{
    r->notes = xrealloc(r->notes, (r->n_notes + 1) * sizeof *r->notes);
    r->notes[r->n_notes++] = line;
}

/* An address as inet_ntop writes it (as a resolver answer shows it), in text. */
static const char *canon_address(const char *address, char text[INET6_ADDRSTRLEN])
{
    unsigned char bin[16];
    int af = is_ipv6(address) ? AF_INET6 : AF_INET;
    if (inet_pton(af, address, bin) == 1 && inet_ntop(af, bin, text, INET6_ADDRSTRLEN) != NULL)
        return text;
    return address;         /* the site model accepted it: cannot happen */
}

/* A/AAAA of a host name, if it belongs with this domain: in its zone, or in
 * no zone of the site and this is the primary domain. */
static void add_address(const struct site *site, struct dns_domain_records *r, const char *name,
                        const char *address, char *comment)
{
    const char *zone = dns_zone_of(site, name);
    int here = zone ? strcasecmp(zone, r->domain) == 0 : strcmp(r->domain, site->domains[0]) == 0;
    if (!here) {
        free(comment);
        return;
    }
    char text[INET6_ADDRSTRLEN];
    const char *canon = canon_address(address, text);
    add(r, name, is_ipv6(address) ? DNS_AAAA : DNS_A, canon, canon, NULL, zone != NULL, comment);
}

/* The reverse name of an address: 11.0.18.198.in-addr.arpa, or the
 * nibbles of an IPv6 address under ip6.arpa. */
static void ptr_name(const char *address, buf *out)
{
    unsigned char bin[16];
    if (is_ipv6(address)) {
        if (inet_pton(AF_INET6, address, bin) != 1) {
            buf_append_str(out, address);
            return;
        }
        for (int i = 15; i >= 0; i--)
            buf_printf(out, "%x.%x.", bin[i] & 0xf, bin[i] >> 4);
        buf_append_str(out, "ip6.arpa");
    } else {
        if (inet_pton(AF_INET, address, bin) != 1) {
            buf_append_str(out, address);
            return;
        }
        buf_printf(out, "%u.%u.%u.%u.in-addr.arpa", bin[3], bin[2], bin[1], bin[0]);
    }
}

static int policy_id(const char *policy, char *id, size_t id_size, buf *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(policy, strlen(policy), md, &md_len, EVP_sha256(), NULL) != 1 || md_len < MTA_STS_ID_BYTES
        || id_size < 2 * MTA_STS_ID_BYTES + 1) {
        buf_append_str(err, "SHA-256 of the MTA-STS policy failed (libcrypto)");
        return -1;
    }
    for (size_t i = 0; i < MTA_STS_ID_BYTES; i++)
        snprintf(id + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void add_srv(struct dns_domain_records *r, const char *service, int priority, int port, const char *target,
                    const char *what)
{
    char *name = xasprintf("%s.%s", service, r->domain);
    char *data = xasprintf("%d 1 %d %s.", priority, port, target);
    char *canon = xasprintf("%d 1 %d %s", priority, port, target);
    add(r, name, DNS_SRV, data, canon, NULL, 1,
        xasprintf("RFC 6186/8314: %s at %s port %d (priority %d: lower is preferred)", what, target, port,
                  priority));
    free(name);
    free(data);
    free(canon);
}

int dns_records_build(const struct site *site, const char *domain, struct dns_domain_records *out, buf *err)
{
    memset(out, 0, sizeof *out);
    const char *d = NULL;
    for (size_t i = 0; i < site->n_domains; i++)
        if (strcasecmp(site->domains[i], domain) == 0)
            d = site->domains[i];
    if (d == NULL) {
        buf_append_str(err, "not a domain of the site");
        return -1;
    }
    out->domain = lower_dup(d);
    char *public_name = lower_dup(site->tls_names[0]);
    size_t n_relays = site_count_role(site, ROLE_RELAY);
    char **relays = xcalloc(n_relays + 1, sizeof *relays);
    const struct site_host **relay_hosts = xcalloc(n_relays + 1, sizeof *relay_hosts);
    for (size_t i = 0, k = 0; i < site->n_hosts; i++)
        if (site->hosts[i].roles & ROLE_RELAY) {
            relay_hosts[k] = &site->hosts[i];
            relays[k++] = relay_name(site, &site->hosts[i]);
        }

    /* MX: every relay by its own name, preference 10, 20, ... in site order. */
    for (size_t k = 0; k < n_relays; k++) {
        char *data = xasprintf("%zu %s.", MX_STEP * (k + 1), relays[k]);
        char *canon = xasprintf("%zu %s", MX_STEP * (k + 1), relays[k]);
        add(out, out->domain, DNS_MX, data, canon, NULL, 1,
            xasprintf("MX: mail for %s goes to relay %s (preference %zu; senders try the lowest first)",
                      out->domain, relay_hosts[k]->name, MX_STEP * (k + 1)));
        free(data);
        free(canon);
    }
    /* The relays' names: MX targets, submission servers, HELO names. */
    for (size_t k = 0; k < n_relays; k++)
        add_address(site, out, relays[k], relay_hosts[k]->address,
                    xasprintf("relay %s: MX target, submission (%d, %d) and the name it sends as (HELO)",
                              relay_hosts[k]->name, site->ports.submission, site->ports.submissions));
    /* The public name: IMAP, POP3, ManageSieve through the proxies. */
    for (size_t i = 0; i < site->n_hosts; i++)
        if (site->hosts[i].roles & ROLE_PROXY)
            add_address(site, out, public_name, site->hosts[i].address,
                        xasprintf("the public name: IMAP/POP3/ManageSieve on proxy %s", site->hosts[i].name));

    /* SPF: mail from the domain leaves only through the relays. */
    buf b = BUF_INIT;
    buf_append_str(&b, "v=spf1");
    for (size_t k = 0; k < n_relays; k++) {
        char text[INET6_ADDRSTRLEN];
        buf_printf(&b, " ip%c:%s", is_ipv6(relay_hosts[k]->address) ? '6' : '4',
                   canon_address(relay_hosts[k]->address, text));
    }
    buf_append_str(&b, " -all");
    dns_records_add_txt(out, out->domain, buf_cstr(&b), "v=spf1",
            xasprintf("SPF: only the relays send for %s; -all: everything else fails", out->domain));

    /* DMARC: the site's dmarc.policy (none by default: monitor first),
     * reports to postmaster@. */
    const char *dmarc_p = site_dmarc_policy_name(site->dmarc.policy);
    char *name = xasprintf("_dmarc.%s", out->domain);
    char *text = xasprintf("v=DMARC1; p=%s; rua=mailto:postmaster@%s", dmarc_p, out->domain);
    dns_records_add_txt(out, name, text, "v=DMARC1",
            site->dmarc.policy == DMARC_POLICY_NONE
                ? xstrdup("DMARC: p=none (reports only) to start; tighten to quarantine, then reject "
                          "(dmarc.policy; admin manual)")
                : xasprintf("DMARC: p=%s (dmarc.policy): receivers %s", dmarc_p,
                            site->dmarc.policy == DMARC_POLICY_REJECT ? "refuse mail that fails DMARC"
                                                                      : "put mail that fails DMARC in spam"));
    free(name);
    free(text);

    /* MTA-STS (RFC 8461): the policy names the MX hosts; its id changes
     * whenever the policy does. */
    buf_reset(&b);
    buf_append_str(&b, "version: STSv1\r\nmode: testing\r\n");
    for (size_t k = 0; k < n_relays; k++)
        buf_printf(&b, "mx: %s\r\n", relays[k]);
    buf_printf(&b, "max_age: %d\r\n", MTA_STS_MAX_AGE);
    out->mta_sts_policy = buf_steal(&b);
    char id[2 * MTA_STS_ID_BYTES + 1];
    int rc = policy_id(out->mta_sts_policy, id, sizeof id, err);
    if (rc == 0) {
        name = xasprintf("_mta-sts.%s", out->domain);
        text = xasprintf("v=STSv1; id=%s", id);
        dns_records_add_txt(out, name, text, "v=STSv1",
                xstrdup("MTA-STS: a policy exists; id = SHA-256 of the policy text below (changes with it)"));
        free(name);
        free(text);
        name = xasprintf("mta-sts.%s", out->domain);
        for (size_t i = 0; i < site->n_hosts; i++)
            if (site->hosts[i].roles & ROLE_PROXY)
                add_address(site, out, name, site->hosts[i].address,
                            xasprintf("MTA-STS: the HTTPS server of the policy (as the public name: proxy %s)",
                                      site->hosts[i].name));
        free(name);
    }

    /* The clients' auto-configuration (client_config.h): Thunderbird asks
     * autoconfig.DOMAIN, Outlook autodiscover.DOMAIN, both served by
     * nginx on the proxies over HTTPS. */
    static const char *const client_names[] = {"autoconfig", "autodiscover"};
    for (size_t n = 0; n < sizeof client_names / sizeof client_names[0]; n++) {
        name = xasprintf("%s.%s", client_names[n], out->domain);
        for (size_t i = 0; i < site->n_hosts; i++)
            if (site->hosts[i].roles & ROLE_PROXY)
                add_address(site, out, name, site->hosts[i].address,
                            xasprintf("%s: the clients' auto-configuration over HTTPS (nginx on proxy %s)",
                                      client_names[n], site->hosts[i].name));
        free(name);
    }

    /* TLS-RPT (RFC 8460): senders' reports of TLS failures. */
    name = xasprintf("_smtp._tls.%s", out->domain);
    text = xasprintf("v=TLSRPTv1; rua=mailto:postmaster@%s", out->domain);
    dns_records_add_txt(out, name, text, "v=TLSRPTv1", xstrdup("TLS-RPT: daily reports of TLS failures to postmaster@"));
    free(name);
    free(text);

    /* RFC 6186/8314 SRV: implicit TLS first. Submission at every relay,
     * IMAP/POP3 at the public name. */
    for (size_t k = 0; k < n_relays; k++)
        add_srv(out, "_submissions._tcp", 0, site->ports.submissions, relays[k], "submission, implicit TLS");
    for (size_t k = 0; k < n_relays; k++)
        add_srv(out, "_submission._tcp", 10, site->ports.submission, relays[k], "submission, STARTTLS");
    add_srv(out, "_imaps._tcp", 0, site->ports.imaps, public_name, "IMAP, implicit TLS");
    add_srv(out, "_imap._tcp", 10, site->ports.imap, public_name, "IMAP, STARTTLS");
    add_srv(out, "_pop3s._tcp", 20, site->ports.pop3s, public_name, "POP3, implicit TLS (after IMAP)");
    add_srv(out, "_pop3._tcp", 30, site->ports.pop3, public_name, "POP3, STARTTLS (after IMAP)");
    /* Outlook's fallback when autodiscover.DOMAIN has no answer. */
    name = xasprintf("_autodiscover._tcp.%s", out->domain);
    text = xasprintf("0 1 %d %s.", CLIENT_CONFIG_PORT_HTTPS, public_name);
    char *canon = xasprintf("0 1 %d %s", CLIENT_CONFIG_PORT_HTTPS, public_name);
    add(out, name, DNS_SRV, text, canon, NULL, 1,
        xasprintf("Outlook: autodiscover over HTTPS at %s port %d (nginx on the proxies)", public_name,
                  CLIENT_CONFIG_PORT_HTTPS));
    free(name);
    free(text);
    free(canon);

    /* What cannot be published here (DKIM: dkim_dns_add, from the keys). */
    for (size_t k = 0; k < n_relays; k++) {
        buf_reset(&b);
        ptr_name(relay_hosts[k]->address, &b);
        dns_records_note(out, xasprintf("PTR %s. -> %s. (relay %s; set by the owner of %s: ask your provider)", buf_cstr(&b),
                            relays[k], relay_hosts[k]->name, relay_hosts[k]->address));
    }
    buf_free(&b);
    for (size_t k = 0; k < n_relays; k++)
        free(relays[k]);
    free(relays);
    free(relay_hosts);
    free(public_name);
    if (rc != 0) {
        dns_records_free(out);
        return -1;
    }
    return 0;
}

void dns_records_free(struct dns_domain_records *r)
{
    for (size_t i = 0; i < r->n_records; i++) {
        free(r->records[i].name);
        free(r->records[i].data);
        free(r->records[i].canon);
        free(r->records[i].comment);
    }
    free(r->records);
    for (size_t i = 0; i < r->n_notes; i++)
        free(r->notes[i]);
    free(r->notes);
    free(r->mta_sts_policy);
    free(r->domain);
    memset(r, 0, sizeof *r);
}

void dns_record_line(const struct dns_record *rec, buf *out)
{
    buf_printf(out, "%s. IN %s %s", rec->name, dns_type_name(rec->type), rec->data);
}

void dns_records_zone_text(const struct dns_domain_records *r, int only_in_zone, int comments, buf *out)
{
    for (size_t i = 0; i < r->n_records; i++) {
        const struct dns_record *rec = &r->records[i];
        if (only_in_zone && !rec->in_zone)
            continue;
        if (comments) {
            buf_printf(out, "; %s", rec->comment);
            if (!rec->in_zone)
                buf_printf(out, " [%s is in none of the site's domains: publish it in the zone that holds it]",
                           rec->name);
            buf_append_char(out, '\n');
        }
        dns_record_line(rec, out);
        buf_append_char(out, '\n');
    }
    if (!comments)
        return;
    if (r->mta_sts_policy) {
        buf_printf(out, "; MTA-STS policy: serve this text (CRLF line ends, Content-Type text/plain) at\n"
                        ";   https://mta-sts.%s/.well-known/mta-sts.txt\n"
                        "; with a certificate for mta-sts.%s (the proxies' nginx serves it, `emailng up`);\n"
                        "; a new policy needs the new _mta-sts id above.\n",
                   r->domain, r->domain);
        const char *p = r->mta_sts_policy;
        while (*p) {
            size_t n = strcspn(p, "\r\n");
            buf_printf(out, ";   %.*s\n", (int)n, p);
            p += n;
            p += strspn(p, "\r\n");
        }
    }
    for (size_t i = 0; i < r->n_notes; i++)
        buf_printf(out, "; %s\n", r->notes[i]);
}
