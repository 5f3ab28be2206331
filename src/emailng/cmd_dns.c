/* cmd_dns: `emailng dns` and `emailng dns check`; see cmd_dns.h. */
#include "cmd_dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "dns_records.h"

/* An answer of up to 64 KiB (glibc retries over TCP when UDP is truncated). */
#define ANSWER_MAX 65535

/* ---- printing ------------------------------------------------------------ */

static void print_zone(const struct site *site, struct dns_domain_records *r, size_t index)
{
    buf out = BUF_INIT;
    buf_printf(&out, "%s; ---- %s (site %s): the records to publish, from `emailng dns`\n"
                     "; Names are absolute; every record takes the zone's default TTL ($TTL).\n",
               index ? "\n" : "", r->domain, site->name);
    dns_records_zone_text(r, 0, 1, &out);
    fputs(buf_cstr(&out), stdout);
    buf_free(&out);
}

static void json_domain(struct dns_domain_records *r, buf *json)
{
    buf_append_str(json, "{\"domain\":");
    cli_json_string(json, r->domain);
    buf_append_str(json, ",\"records\":[");
    for (size_t i = 0; i < r->n_records; i++) {
        const struct dns_record *rec = &r->records[i];
        buf_append_str(json, i ? ",{\"name\":" : "{\"name\":");
        cli_json_string(json, rec->name);
        buf_printf(json, ",\"type\":\"%s\",\"data\":", dns_type_name(rec->type));
        cli_json_string(json, rec->data);
        buf_append_str(json, ",\"value\":");
        cli_json_string(json, rec->canon);
        buf_append_str(json, ",\"comment\":");
        cli_json_string(json, rec->comment);
        buf_printf(json, ",\"in_zone\":%s}", rec->in_zone ? "true" : "false");
    }
    buf_append_str(json, "],\"mta_sts_policy\":");
    cli_json_string(json, r->mta_sts_policy ? r->mta_sts_policy : "");
    buf_append_str(json, ",\"mta_sts_policy_url\":");
    char *url = xasprintf("https://mta-sts.%s/.well-known/mta-sts.txt", r->domain);
    cli_json_string(json, url);
    free(url);
    buf_append_str(json, ",\"notes\":[");
    for (size_t i = 0; i < r->n_notes; i++) {
        if (i)
            buf_append_char(json, ',');
        cli_json_string(json, r->notes[i]);
    }
    buf_append_str(json, "]}");
}

/* ---- looking records up -------------------------------------------------- */

struct lookup {
    char **values;       /* canonical form, as dns_record.canon */
    size_t n;
    char *error;         /* the lookup failed (not: the name has no such record) */
};

static void lookup_free(struct lookup *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->values[i]);
    free(l->values);
    free(l->error);
    memset(l, 0, sizeof *l);
}

static void push(struct lookup *l, char *value)
{
    l->values = xrealloc(l->values, (l->n + 1) * sizeof *l->values);
    l->values[l->n++] = value;
}

static int ns_type_of(enum dns_type t)
{
    switch (t) {
    case DNS_A: return ns_t_a;
    case DNS_AAAA: return ns_t_aaaa;
    case DNS_MX: return ns_t_mx;
    case DNS_TXT: return ns_t_txt;
    case DNS_SRV: return ns_t_srv;
    }
    return ns_t_invalid;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* A domain name in RDATA at p (compressed names allowed), lower case. */
static int rdata_name(ns_msg *msg, const unsigned char *p, char *name, size_t size)
{
    if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), p, name, size) < 0)
        return -1;
    lower(name);
    return 0;
}

/* One answer record in canonical form, or NULL if malformed. */
static char *canonical(ns_msg *msg, const ns_rr *rr, enum dns_type type)
{
    const unsigned char *rd = ns_rr_rdata(*rr);
    size_t len = ns_rr_rdlen(*rr);
    char text[INET6_ADDRSTRLEN], name[NS_MAXDNAME];
    switch (type) {
    case DNS_A:
        return len == 4 && inet_ntop(AF_INET, rd, text, sizeof text) ? xstrdup(text) : NULL;
    case DNS_AAAA:
        return len == 16 && inet_ntop(AF_INET6, rd, text, sizeof text) ? xstrdup(text) : NULL;
    case DNS_MX:
        if (len < 3 || rdata_name(msg, rd + 2, name, sizeof name) != 0)
            return NULL;
        return xasprintf("%u %s", ns_get16(rd), name);
    case DNS_SRV:
        if (len < 7 || rdata_name(msg, rd + 6, name, sizeof name) != 0)
            return NULL;
        return xasprintf("%u %u %u %s", ns_get16(rd), ns_get16(rd + 2), ns_get16(rd + 4), name);
    case DNS_TXT: {
        /* RFC 1035 3.3.14: one or more <length><bytes> character-strings,
         * read as one text (RFC 7208 3.3). */
        buf b = BUF_INIT;
        size_t off = 0;
        while (off < len) {
            size_t n = rd[off];
            if (off + 1 + n > len) {
                buf_free(&b);
                return NULL;
            }
            buf_append(&b, rd + off + 1, n);
            off += 1 + n;
        }
        /* Shown in messages and JSON: control bytes and non-ASCII as '?'
         * (our records are ASCII, so a match is never made by it). */
        for (size_t i = 0; i < b.len; i++)
            if ((unsigned char)b.data[i] < 0x20 || (unsigned char)b.data[i] >= 0x7f)
                b.data[i] = '?';
        buf_cstr(&b);
        return buf_steal(&b);
    }
    }
    return NULL;
}

static void resolve(res_state st, const char *name, enum dns_type type, unsigned char *answer, struct lookup *out)
{
    memset(out, 0, sizeof *out);
    int len = res_nquery(st, name, ns_c_in, ns_type_of(type), answer, ANSWER_MAX);
    if (len < 0) {
        switch (st->res_h_errno) {
        case HOST_NOT_FOUND:    /* NXDOMAIN */
        case NO_DATA:           /* the name exists, not this type */
            return;
        case TRY_AGAIN:
            out->error = xstrdup("no answer (timed out, or the server failed: SERVFAIL)");
            return;
        default:
            out->error = xstrdup("the server refused the query or cannot answer it");
            return;
        }
    }
    ns_msg msg;
    if (ns_initparse(answer, len > ANSWER_MAX ? ANSWER_MAX : len, &msg) != 0) {
        out->error = xstrdup("the answer could not be parsed");
        return;
    }
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) {
            out->error = xstrdup("the answer could not be parsed");
            return;
        }
        if ((int)ns_rr_type(rr) != ns_type_of(type) || ns_rr_class(rr) != ns_c_in)
            continue;           /* e.g. the CNAME in front */
        char *v = canonical(&msg, &rr, type);
        if (v)
            push(out, v);
    }
}

int dns_lookup_txt(const char *name, buf *found, buf *err)
{
    struct __res_state st;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0) {
        buf_printf(err, "cannot read the resolver configuration (/etc/resolv.conf)");
        return -1;
    }
    unsigned char *answer = xmalloc(ANSWER_MAX);
    struct lookup l;
    resolve(&st, name, DNS_TXT, answer, &l);
    int rc = 0;
    if (l.error) {
        buf_printf(err, "%s TXT: %s", name, l.error);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        buf_printf(found, "%s\n", l.values[i]);
    lookup_free(&l);
    free(answer);
    res_nclose(&st);
    return rc;
}

/* A TXT value of the kind of tag ("v=spf1"): the tag, then a space, ';' or the end. */
static int has_tag(const char *value, const char *tag)
{
    size_t n = strlen(tag);
    return strncasecmp(value, tag, n) == 0 && (value[n] == '\0' || value[n] == ' ' || value[n] == ';');
}

static int same_value(enum dns_type type, const char *a, const char *b)
{
    return type == DNS_TXT ? strcmp(a, b) == 0 : strcasecmp(a, b) == 0;
}

static int same_set(const struct dns_record *a, const struct dns_record *b)
{
    return a->type == b->type && strcmp(a->name, b->name) == 0
           && (a->tag == NULL ? b->tag == NULL : b->tag != NULL && strcmp(a->tag, b->tag) == 0);
}

enum verdict { V_OK, V_MISSING, V_WRONG, V_ERROR };
static const char *const verdict_names[] = {"ok", "missing", "wrong", "error"};

/* Compares one record with the values found at its name: ok when it is
 * there and everything of its kind there is a record of ours (an extra MX
 * to an old host, or a second SPF record, is wrong too). */
static enum verdict judge(const struct dns_domain_records *r, size_t index, const struct lookup *l, buf *found)
{
    const struct dns_record *rec = &r->records[index];
    if (l->error) {
        buf_append_str(found, l->error);
        return V_ERROR;
    }
    size_t relevant = 0;
    int present = 0, foreign = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *v = l->values[i];
        if (rec->tag && !has_tag(v, rec->tag))
            continue;
        if (relevant++)
            buf_append_str(found, ", ");
        if (rec->type == DNS_TXT)
            buf_printf(found, "\"%s\"", v);
        else
            buf_append_str(found, v);
        present |= same_value(rec->type, v, rec->canon);
        int ours = 0;
        for (size_t k = 0; k < r->n_records; k++)
            if (same_set(&r->records[k], rec) && same_value(rec->type, v, r->records[k].canon))
                ours = 1;
        foreign |= !ours;
    }
    if (relevant == 0)
        return V_MISSING;
    return present && !foreign ? V_OK : V_WRONG;
}

static void show_text(const char *text, buf *out)
{
    /* What the DNS returned may hold anything: control bytes escaped. */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            buf_printf(out, "\\%03o", *p);
        else
            buf_append_char(out, (char)*p);
}

static int check(struct dns_domain_records *doms, size_t n_doms, int as_json)
{
    struct __res_state st;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0) {
        fputs("emailng: dns check: cannot read the resolver configuration (/etc/resolv.conf)\n", stderr);
        return EXIT_FAILED;
    }
    unsigned char *answer = xmalloc(ANSWER_MAX);
    size_t counts[4] = {0}, total = 0;
    buf json = BUF_INIT, text = BUF_INIT;
    buf_append_str(&json, "{\"records\":[");
    for (size_t d = 0; d < n_doms; d++) {
        struct dns_domain_records *r = &doms[d];
        struct lookup *looks = xcalloc(r->n_records ? r->n_records : 1, sizeof *looks);
        buf_printf(&text, "%s:\n", r->domain);
        for (size_t i = 0; i < r->n_records; i++) {
            const struct dns_record *rec = &r->records[i];
            size_t same = i;
            for (size_t k = 0; k < i; k++)
                if (rec->type == r->records[k].type && strcmp(rec->name, r->records[k].name) == 0)
                    same = k;
            struct lookup *l = &looks[same];
            if (same == i)
                resolve(&st, rec->name, rec->type, answer, l);
            buf found = BUF_INIT;
            enum verdict v = judge(r, i, l, &found);
            counts[v]++;
            total++;
            buf_printf(&text, "  %-8s %-5s ", verdict_names[v], dns_type_name(rec->type));
            buf line = BUF_INIT;
            dns_record_line(rec, &line);
            buf_append_str(&text, buf_cstr(&line));
            if (v == V_WRONG) {
                buf_append_str(&text, "\n           found: ");
                show_text(buf_cstr(&found), &text);
            } else if (v == V_ERROR) {
                buf_append_str(&text, "\n           ");
                buf_append_str(&text, buf_cstr(&found));
            }
            buf_append_char(&text, '\n');
            buf_append_str(&json, total > 1 ? ",{\"domain\":" : "{\"domain\":");
            cli_json_string(&json, r->domain);
            buf_append_str(&json, ",\"name\":");
            cli_json_string(&json, rec->name);
            buf_printf(&json, ",\"type\":\"%s\",\"expected\":", dns_type_name(rec->type));
            cli_json_string(&json, rec->canon);
            buf_printf(&json, ",\"status\":\"%s\",\"found\":[", verdict_names[v]);
            if (l->error == NULL)
                for (size_t k = 0, first = 1; k < l->n; k++) {
                    if (rec->tag && !has_tag(l->values[k], rec->tag))
                        continue;
                    if (!first)
                        buf_append_char(&json, ',');
                    first = 0;
                    cli_json_string(&json, l->values[k]);
                }
            buf_append_str(&json, "],\"error\":");
            if (l->error)
                cli_json_string(&json, l->error);
            else
                buf_append_str(&json, "null");
            buf_append_char(&json, '}');
            buf_free(&line);
            buf_free(&found);
        }
        for (size_t i = 0; i < r->n_records; i++)
            lookup_free(&looks[i]);
        free(looks);
    }
    int all_ok = counts[V_OK] == total;
    buf_printf(&json, "],\"ok\":%s,\"total\":%zu,\"correct\":%zu,\"missing\":%zu,\"wrong\":%zu,\"error\":%zu}\n",
               all_ok ? "true" : "false", total, counts[V_OK], counts[V_MISSING], counts[V_WRONG], counts[V_ERROR]);
    buf_printf(&text, "dns check: %zu of %zu records correct; %zu missing, %zu wrong, %zu not resolved\n",
               counts[V_OK], total, counts[V_MISSING], counts[V_WRONG], counts[V_ERROR]);
    fputs(buf_cstr(as_json ? &json : &text), stdout);
    buf_free(&json);
    buf_free(&text);
    free(answer);
    res_nclose(&st);
    return all_ok ? EXIT_DONE : EXIT_FAILED;
}

/* ---- the command ----------------------------------------------------------- */

static int usage(const char *what, const char *word)
{
    if (word) {
        char *q = cli_quoted(word);
        fprintf(stderr, "emailng: dns: %s %s\n", what, q);
        free(q);
    } else {
        fprintf(stderr, "emailng: dns: %s\n", what);
    }
    fputs("usage: emailng dns [--domain DOMAIN] [--json]\n"
          "       emailng dns check [--domain DOMAIN] [--json]\n", stderr);
    return EXIT_USAGE;
}

int cmd_dns_run(const struct options *o, int argc, char **argv)
{
    int checking = 0;
    const char *domain = NULL;
    for (int i = 0; i < argc; i++) {
        if (i == 0 && strcmp(argv[i], "check") == 0)
            checking = 1;
        else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc && domain == NULL)
            domain = argv[++i];
        else if (strcmp(argv[i], "--domain") == 0)
            return usage(domain ? "--domain given twice" : "--domain needs a value", NULL);
        else
            return usage("unexpected argument", argv[i]);
    }
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    int rc = EXIT_DONE;
    size_t n = 0;
    struct dns_domain_records *doms = xcalloc(site.n_domains, sizeof *doms);
    int known = domain == NULL;
    for (size_t i = 0; !known && i < site.n_domains; i++)
        known = strcasecmp(site.domains[i], domain) == 0;
    if (!known) {
        rc = EXIT_USAGE;
        buf names = BUF_INIT;
        for (size_t i = 0; i < site.n_domains; i++)
            buf_printf(&names, "%s%s", i ? ", " : "", site.domains[i]);
        char *q = cli_quoted(domain);
        fprintf(stderr, "emailng: dns: --domain %s: not a domain of site %s; its domains are %s\n", q, site.name,
                buf_cstr(&names));
        free(q);
        buf_free(&names);
    }
    for (size_t i = 0; rc == EXIT_DONE && i < site.n_domains; i++) {
        if (domain && strcasecmp(site.domains[i], domain) != 0)
            continue;
        buf err = BUF_INIT;
        if (dns_records_build(&site, site.domains[i], &doms[n], &err) != 0) {
            cli_fail("dns", &err);
            rc = EXIT_FAILED;
        } else if (dkim_dns_add(&site, o->state_dir, &doms[n], &err) != 0) {
            /* The DKIM records come from the keys in the state directory. */
            dns_records_free(&doms[n]);
            cli_fail("dns", &err);
            rc = EXIT_FAILED;
        } else {
            n++;
        }
        buf_free(&err);
    }
    if (rc == EXIT_DONE && checking) {
        rc = check(doms, n, o->json);
    } else if (rc == EXIT_DONE && o->json) {
        buf json = BUF_INIT;
        buf_append_str(&json, "{\"site\":");
        cli_json_string(&json, site.name);
        buf_append_str(&json, ",\"domains\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_append_char(&json, ',');
            json_domain(&doms[i], &json);
        }
        buf_append_str(&json, "]}\n");
        fputs(buf_cstr(&json), stdout);
        buf_free(&json);
    } else if (rc == EXIT_DONE) {
        for (size_t i = 0; i < n; i++)
            print_zone(&site, &doms[i], i);
    }
    for (size_t i = 0; i < n; i++)
        dns_records_free(&doms[i]);
    free(doms);
    site_free(&site);
    return rc;
}
