/* dns_records: the DNS records a site's domains need on the internet, built
 * from the site model alone (a pure function: the same site gives the same
 * records; the DKIM records come from the keys: dkim.h, dkim_dns_add).
 * `emailng dns` prints them as zone-file lines, `emailng dns check` looks
 * each one up, and the test fabric's nsd serves exactly these
 * (render.c), so what the fabric publishes is what the tool prints.
 *
 * Names are absolute, lower case, without the trailing dot; the zone-file
 * form adds the dot. docs/admin-manual.md "DNS records to publish" says
 * why each record is what it is. */
#ifndef EMAILNG_DNS_RECORDS_H
#define EMAILNG_DNS_RECORDS_H

#include <stddef.h>

#include "buf.h"
#include "site.h"

enum dns_type { DNS_A, DNS_AAAA, DNS_MX, DNS_TXT, DNS_SRV };

struct dns_record {
    char *name;          /* owner, absolute, no trailing dot */
    enum dns_type type;
    char *data;          /* zone-file RDATA: "10 relay1.example.test.", "\"v=spf1 ... -all\"" */
    char *canon;         /* for comparison with an answer: "10 relay1.example.test", TXT unquoted */
    const char *tag;     /* TXT only: the record's kind ("v=spf1"); other TXT at the name are not ours */
    char *comment;       /* one line, why it is there */
    int in_zone;         /* 1: the owner is in this domain's zone; 0: in no domain of the site */
};

struct dns_domain_records {
    char *domain;
    struct dns_record *records;
    size_t n_records;
    char *mta_sts_policy;    /* the text served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (CRLF) */
    char **notes;            /* comment lines printed after the records (PTR, DKIM); without "; " */
    size_t n_notes;
};

/* The records of one domain of the site (domain must be one of
 * site->domains). Records whose owner is a host name outside every domain
 * of the site (a tls name such as mail.other.org) go with the primary
 * domain, marked in_zone = 0. Returns 0, or -1 with a message (the
 * MTA-STS policy digest failed, or domain is not the site's); out is then
 * empty but may be freed. */
int dns_records_build(const struct site *site, const char *domain, struct dns_domain_records *out, buf *err);

void dns_records_free(struct dns_domain_records *r);

/* Adds a TXT record in the domain's zone (text unquoted; cut into strings
 * of at most 255 bytes in the zone-file form; tag: the kind, a literal
 * that outlives r), and a note line; both take ownership of comment/line. */
void dns_records_add_txt(struct dns_domain_records *r, const char *name, const char *text, const char *tag,
                         char *comment);
void dns_records_note(struct dns_domain_records *r, char *line);

/* "MX", "TXT", ... */
const char *dns_type_name(enum dns_type type);

/* One record as a zone-file line: "NAME. IN TYPE DATA" (no newline). */
void dns_record_line(const struct dns_record *rec, buf *out);

/* Every record of the domain as zone-file text: a "; comment" line before
 * each record, the MTA-STS policy and the notes as comment blocks.
 * only_in_zone: leave out the records outside the zone (for a zone file). */
void dns_records_zone_text(const struct dns_domain_records *r, int only_in_zone, int comments, buf *out);

/* The site domain whose zone holds name (the longest matching suffix), or NULL. */
const char *dns_zone_of(const struct site *site, const char *name);

#endif
