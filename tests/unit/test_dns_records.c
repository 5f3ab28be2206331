/* Unit tests of the DNS record builder (dns_records.c): the exact zone-file
 * lines `emailng dns` prints, and what the fabric's nsd serves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "dns_records.h"
#include "fsutil.h"
#include "site.h"

/* Two domains, two relays (one IPv6), two proxies, a store pair, a directory. */
static const char *const full =
    "site: {name: t}\n"
    "domains: [example.test, Other.Example]\n"
    "directory: {base: \"dc=example,dc=test\"}\n"
    "hosts:\n"
    "  - {name: relay1, address: 198.18.0.11, roles: [relay]}\n"
    "  - {name: relay2, address: \"2001:db8:0::12\", roles: [relay]}\n"
    "  - {name: proxy1, address: 198.18.0.21, roles: [proxy]}\n"
    "  - {name: proxy2, address: 198.18.0.22, roles: [proxy]}\n"
    "  - {name: store1, address: 198.18.0.31, roles: [store], store_pair: pair1}\n"
    "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: pair1}\n"
    "  - {name: dir1, address: 198.18.0.41, roles: [directory]}\n"
    "tls: {names: [mail.example.test]}\n";

static void load(const char *text, struct site *site)
{
    buf errors = BUF_INIT;
    if (site_parse(text, strlen(text), "site.yaml", site, &errors) != 0)
        fail_msg("site did not load:\n%s", buf_cstr(&errors));
    buf_free(&errors);
}

static char *zone_of(const struct site *site, const char *domain, int only_in_zone, int comments)
{
    struct dns_domain_records r;
    buf err = BUF_INIT, out = BUF_INIT;
    assert_int_equal(dns_records_build(site, domain, &r, &err), 0);
    dns_records_zone_text(&r, only_in_zone, comments, &out);
    dns_records_free(&r);
    buf_free(&err);
    return buf_steal(&out);
}

/* The MTA-STS id is the first 16 bytes of the policy's SHA-256, in hex:
 * printf 'version: STSv1\r\nmode: testing\r\nmx: relay1.example.test\r\n
 * mx: relay2.example.test\r\nmax_age: 604800\r\n' | sha256sum | cut -c1-32 */
static void test_full_topology_primary_domain(void **state)
{
    (void)state;
    struct site site;
    load(full, &site);
    char *text = zone_of(&site, "example.test", 1, 0);
    assert_string_equal(text,
        "example.test. IN MX 10 relay1.example.test.\n"
        "example.test. IN MX 20 relay2.example.test.\n"
        "relay1.example.test. IN A 198.18.0.11\n"
        "relay2.example.test. IN AAAA 2001:db8::12\n"
        "mail.example.test. IN A 198.18.0.21\n"
        "mail.example.test. IN A 198.18.0.22\n"
        "example.test. IN TXT \"v=spf1 ip4:198.18.0.11 ip6:2001:db8::12 -all\"\n"
        "_dmarc.example.test. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@example.test\"\n"
        "_mta-sts.example.test. IN TXT \"v=STSv1; id=9f7781221d138feb0e0c08fa7d33174f\"\n"
        "mta-sts.example.test. IN A 198.18.0.21\n"
        "mta-sts.example.test. IN A 198.18.0.22\n"
        "autoconfig.example.test. IN A 198.18.0.21\n"
        "autoconfig.example.test. IN A 198.18.0.22\n"
        "autodiscover.example.test. IN A 198.18.0.21\n"
        "autodiscover.example.test. IN A 198.18.0.22\n"
        "_smtp._tls.example.test. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.test\"\n"
        "_submissions._tcp.example.test. IN SRV 0 1 465 relay1.example.test.\n"
        "_submissions._tcp.example.test. IN SRV 0 1 465 relay2.example.test.\n"
        "_submission._tcp.example.test. IN SRV 10 1 587 relay1.example.test.\n"
        "_submission._tcp.example.test. IN SRV 10 1 587 relay2.example.test.\n"
        "_imaps._tcp.example.test. IN SRV 0 1 993 mail.example.test.\n"
        "_imap._tcp.example.test. IN SRV 10 1 143 mail.example.test.\n"
        "_pop3s._tcp.example.test. IN SRV 20 1 995 mail.example.test.\n"
        "_pop3._tcp.example.test. IN SRV 30 1 110 mail.example.test.\n"
        "_autodiscover._tcp.example.test. IN SRV 0 1 443 mail.example.test.\n");
    free(text);
    site_free(&site);
}

static void test_second_domain_points_at_the_primary_names(void **state)
{
    (void)state;
    struct site site;
    load(full, &site);
    char *text = zone_of(&site, "OTHER.example", 1, 0);
    /* No A records of the relays or of mail.example.test: they belong in
     * example.test's zone. mta-sts.other.example is its own. */
    assert_string_equal(text,
        "other.example. IN MX 10 relay1.example.test.\n"
        "other.example. IN MX 20 relay2.example.test.\n"
        "other.example. IN TXT \"v=spf1 ip4:198.18.0.11 ip6:2001:db8::12 -all\"\n"
        "_dmarc.other.example. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@other.example\"\n"
        "_mta-sts.other.example. IN TXT \"v=STSv1; id=9f7781221d138feb0e0c08fa7d33174f\"\n"
        "mta-sts.other.example. IN A 198.18.0.21\n"
        "mta-sts.other.example. IN A 198.18.0.22\n"
        "autoconfig.other.example. IN A 198.18.0.21\n"
        "autoconfig.other.example. IN A 198.18.0.22\n"
        "autodiscover.other.example. IN A 198.18.0.21\n"
        "autodiscover.other.example. IN A 198.18.0.22\n"
        "_smtp._tls.other.example. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@other.example\"\n"
        "_submissions._tcp.other.example. IN SRV 0 1 465 relay1.example.test.\n"
        "_submissions._tcp.other.example. IN SRV 0 1 465 relay2.example.test.\n"
        "_submission._tcp.other.example. IN SRV 10 1 587 relay1.example.test.\n"
        "_submission._tcp.other.example. IN SRV 10 1 587 relay2.example.test.\n"
        "_imaps._tcp.other.example. IN SRV 0 1 993 mail.example.test.\n"
        "_imap._tcp.other.example. IN SRV 10 1 143 mail.example.test.\n"
        "_pop3s._tcp.other.example. IN SRV 20 1 995 mail.example.test.\n"
        "_pop3._tcp.other.example. IN SRV 30 1 110 mail.example.test.\n"
        "_autodiscover._tcp.other.example. IN SRV 0 1 443 mail.example.test.\n");
    free(text);
    site_free(&site);
}

/* The small site, everything `emailng dns` prints for it (comments too). */
static void test_small_site_with_comments(void **state)
{
    (void)state;
    struct site site;
    site_default(&site);
    char *text = zone_of(&site, "example.test", 0, 1);
    assert_string_equal(text,
        "; MX: mail for example.test goes to relay mail (preference 10; senders try the lowest first)\n"
        "example.test. IN MX 10 mail.example.test.\n"
        "; relay mail: MX target, submission (587, 465) and the name it sends as (HELO)\n"
        "mail.example.test. IN A 127.0.0.1\n"
        "; SPF: only the relays send for example.test; -all: everything else fails\n"
        "example.test. IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n"
        "; DMARC: p=none (reports only) to start; tighten to quarantine, then reject (dmarc.policy; admin manual)\n"
        "_dmarc.example.test. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@example.test\"\n"
        "; MTA-STS: a policy exists; id = SHA-256 of the policy text below (changes with it)\n"
        "_mta-sts.example.test. IN TXT \"v=STSv1; id=42cd25c14e55a3a9fa02428d39df66c0\"\n"
        "; MTA-STS: the HTTPS server of the policy (as the public name: proxy mail)\n"
        "mta-sts.example.test. IN A 127.0.0.1\n"
        "; autoconfig: the clients' auto-configuration over HTTPS (nginx on proxy mail)\n"
        "autoconfig.example.test. IN A 127.0.0.1\n"
        "; autodiscover: the clients' auto-configuration over HTTPS (nginx on proxy mail)\n"
        "autodiscover.example.test. IN A 127.0.0.1\n"
        "; TLS-RPT: daily reports of TLS failures to postmaster@\n"
        "_smtp._tls.example.test. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.test\"\n"
        "; RFC 6186/8314: submission, implicit TLS at mail.example.test port 465 (priority 0: lower is preferred)\n"
        "_submissions._tcp.example.test. IN SRV 0 1 465 mail.example.test.\n"
        "; RFC 6186/8314: submission, STARTTLS at mail.example.test port 587 (priority 10: lower is preferred)\n"
        "_submission._tcp.example.test. IN SRV 10 1 587 mail.example.test.\n"
        "; RFC 6186/8314: IMAP, implicit TLS at mail.example.test port 993 (priority 0: lower is preferred)\n"
        "_imaps._tcp.example.test. IN SRV 0 1 993 mail.example.test.\n"
        "; RFC 6186/8314: IMAP, STARTTLS at mail.example.test port 143 (priority 10: lower is preferred)\n"
        "_imap._tcp.example.test. IN SRV 10 1 143 mail.example.test.\n"
        "; RFC 6186/8314: POP3, implicit TLS (after IMAP) at mail.example.test port 995 (priority 20: lower is "
        "preferred)\n"
        "_pop3s._tcp.example.test. IN SRV 20 1 995 mail.example.test.\n"
        "; RFC 6186/8314: POP3, STARTTLS (after IMAP) at mail.example.test port 110 (priority 30: lower is "
        "preferred)\n"
        "_pop3._tcp.example.test. IN SRV 30 1 110 mail.example.test.\n"
        "; Outlook: autodiscover over HTTPS at mail.example.test port 443 (nginx on the proxies)\n"
        "_autodiscover._tcp.example.test. IN SRV 0 1 443 mail.example.test.\n"
        "; MTA-STS policy: serve this text (CRLF line ends, Content-Type text/plain) at\n"
        ";   https://mta-sts.example.test/.well-known/mta-sts.txt\n"
        "; with a certificate for mta-sts.example.test (the proxies' nginx serves it, `emailng up`);\n"
        "; a new policy needs the new _mta-sts id above.\n"
        ";   version: STSv1\n"
        ";   mode: testing\n"
        ";   mx: mail.example.test\n"
        ";   max_age: 604800\n"
        "; PTR 1.0.0.127.in-addr.arpa. -> mail.example.test. (relay mail; set by the owner of 127.0.0.1: ask "
        "your provider)\n");
    free(text);
    site_free(&site);
}

/* dmarc.policy is the p= of every domain's DMARC record (issue 11). */
static void test_dmarc_policy_from_the_site(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *comment, *record;
    } cases[] = {
        {"dmarc: {policy: quarantine}\n",
         "; DMARC: p=quarantine (dmarc.policy): receivers put mail that fails DMARC in spam\n",
         "_dmarc.other.example. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@other.example\"\n"},
        {"dmarc: {mode: off, policy: reject}\n",
         "; DMARC: p=reject (dmarc.policy): receivers refuse mail that fails DMARC\n",
         "_dmarc.other.example. IN TXT \"v=DMARC1; p=reject; rua=mailto:postmaster@other.example\"\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct site site;
        buf text = BUF_INIT, want = BUF_INIT;
        buf_printf(&text, "%s%s", full, cases[i].yaml);
        load(buf_cstr(&text), &site);
        char *zone = zone_of(&site, "other.example", 0, 1);
        buf_printf(&want, "%s%s", cases[i].comment, cases[i].record);
        if (strstr(zone, buf_cstr(&want)) == NULL)
            fail_msg("expected\n%s\nin\n%s", buf_cstr(&want), zone);
        free(zone);
        buf_free(&text);
        buf_free(&want);
        site_free(&site);
    }
}

static void test_policy_and_ptr_notes(void **state)
{
    (void)state;
    struct site site;
    load(full, &site);
    struct dns_domain_records r;
    buf err = BUF_INIT;
    assert_int_equal(dns_records_build(&site, "example.test", &r, &err), 0);
    assert_string_equal(r.mta_sts_policy, "version: STSv1\r\nmode: testing\r\nmx: relay1.example.test\r\n"
                                          "mx: relay2.example.test\r\nmax_age: 604800\r\n");
    assert_int_equal(r.n_notes, 2);
    assert_string_equal(r.notes[0], "PTR 11.0.18.198.in-addr.arpa. -> relay1.example.test. (relay relay1; set by "
                                    "the owner of 198.18.0.11: ask your provider)");
    assert_string_equal(r.notes[1], "PTR 2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. "
                                    "-> relay2.example.test. (relay relay2; set by the owner of 2001:db8:0::12: "
                                    "ask your provider)");
    dns_records_free(&r);
    buf_free(&err);
    site_free(&site);
}

/* A public name outside the site's domains: printed with the primary
 * domain, said to belong elsewhere, and left out of a zone file. */
static void test_name_outside_the_domains(void **state)
{
    (void)state;
    struct site site;
    char *text = NULL;
    buf t = BUF_INIT;
    buf_append_str(&t, full);
    char *p = strstr(t.data, "mail.example.test");
    assert_non_null(p);
    memcpy(p, "mail.provider.net", strlen("mail.provider.net"));
    load(buf_cstr(&t), &site);
    text = zone_of(&site, "example.test", 0, 1);
    assert_non_null(strstr(text, "; the public name: IMAP/POP3/ManageSieve on proxy proxy1 [mail.provider.net is "
                                 "in none of the site's domains: publish it in the zone that holds it]\n"
                                 "mail.provider.net. IN A 198.18.0.21\n"));
    free(text);
    text = zone_of(&site, "example.test", 1, 0);
    assert_null(strstr(text, "mail.provider.net. IN A"));
    assert_non_null(strstr(text, "_imaps._tcp.example.test. IN SRV 0 1 993 mail.provider.net.\n"));
    free(text);
    text = zone_of(&site, "other.example", 0, 0);
    assert_null(strstr(text, "mail.provider.net. IN A"));
    free(text);
    buf_free(&t);
    site_free(&site);
}

/* An SPF record longer than 255 bytes is cut into character-strings. */
static void test_long_txt_is_split(void **state)
{
    (void)state;
    buf t = BUF_INIT, spf = BUF_INIT;
    buf_append_str(&t, "domains: [example.test]\nhosts:\n");
    buf_append_str(&spf, "v=spf1");
    for (int i = 1; i <= 20; i++) {
        buf_printf(&t, "  - {name: relay%d, address: 198.18.0.%d, roles: [relay]}\n", i, 100 + i);
        buf_printf(&spf, " ip4:198.18.0.%d", 100 + i);
    }
    buf_append_str(&spf, " -all");
    buf_append_str(&t, "  - {name: proxy1, address: 198.18.0.21, roles: [proxy]}\n"
                       "  - {name: proxy2, address: 198.18.0.22, roles: [proxy]}\n"
                       "  - {name: store1, address: 198.18.0.31, roles: [store], store_pair: pair1}\n"
                       "  - {name: store2, address: 198.18.0.32, roles: [store], store_pair: pair1}\n"
                       "  - {name: dir1, address: 198.18.0.41, roles: [directory]}\n");
    struct site site;
    load(buf_cstr(&t), &site);
    struct dns_domain_records r;
    buf err = BUF_INIT, line = BUF_INIT;
    assert_int_equal(dns_records_build(&site, "example.test", &r, &err), 0);
    const struct dns_record *rec = NULL;
    for (size_t i = 0; i < r.n_records; i++)
        if (r.records[i].tag && strcmp(r.records[i].tag, "v=spf1") == 0)
            rec = &r.records[i];
    assert_non_null(rec);
    assert_string_equal(rec->canon, buf_cstr(&spf));
    assert_true(spf.len > 255);
    dns_record_line(rec, &line);
    char *expected = xasprintf("example.test. IN TXT \"%.255s\" \"%s\"", buf_cstr(&spf), buf_cstr(&spf) + 255);
    assert_string_equal(buf_cstr(&line), expected);
    free(expected);
    dns_records_free(&r);
    buf_free(&err);
    buf_free(&line);
    buf_free(&t);
    buf_free(&spf);
    site_free(&site);
}

/* Hostile domain names never reach the builder: the site model refuses
 * them; and the builder refuses a domain that is not the site's. */
static void test_hostile_domains_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "domains: [\"evil.test. IN NS attacker.example.\"]\n",
        "domains: [\"evil.test\\n@ IN NS attacker.example.\"]\n",
        "domains: [\"ev\\\"il.test\"]\n",
        "domains: [\"evil;.test\"]\n",
        "domains: [\"a..test\"]\n",
        "domains: [\"-evil.test\"]\n",
        "domains: [\"evil.test.\"]\n",
        "domains: [\"$INCLUDE\"]\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct site site;
        buf errors = BUF_INIT;
        if (site_parse(bad[i], strlen(bad[i]), "site.yaml", &site, &errors) == 0)
            fail_msg("accepted: %s", bad[i]);
        buf_free(&errors);
        site_free(&site);
    }
    struct site site;
    site_default(&site);
    struct dns_domain_records r;
    buf err = BUF_INIT;
    assert_int_equal(dns_records_build(&site, "example.test\n@ IN NS x.", &r, &err), -1);
    assert_string_equal(buf_cstr(&err), "not a domain of the site");
    dns_records_free(&r);
    buf_free(&err);
    site_free(&site);
}

/* The DKIM records come from the keys in a state directory: one TXT per
 * selector at SELECTOR._domainkey.DOMAIN, its p= cut into strings of at
 * most 255 bytes in the zone-file form, whole in canon (what `dns check`
 * compares with the resolver's joined answer); none and a note without keys,
 * none at all with dkim.enabled false. */
static void test_dkim_records_from_the_keys(void **state)
{
    (void)state;
    struct site site;
    load(full, &site);
    char dir[] = "/tmp/emailng-test-dnsdkim-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct dns_domain_records r;
    buf err = BUF_INIT;

    assert_int_equal(dns_records_build(&site, "example.test", &r, &err), 0);
    assert_int_equal(dkim_dns_add(&site, dir, &r, &err), 0);
    assert_string_equal(r.notes[r.n_notes - 1], "DKIM: no key for example.test yet; `emailng up` makes one.");
    dns_records_free(&r);

    int made = 0;
    assert_int_equal(dkim_keys_ensure(&site, dir, &made, &err), 0);
    assert_int_equal(made, 2);      /* example.test and other.example */
    struct dkim_domain d;
    assert_int_equal(dkim_domain_load(dir, "example.test", &d, &err), 0);
    assert_int_equal(d.n_selectors, 1);
    char *name = dkim_record_name(d.selectors[0].name, "example.test");
    assert_int_equal(dns_records_build(&site, "example.test", &r, &err), 0);
    assert_int_equal(dkim_dns_add(&site, dir, &r, &err), 0);
    const struct dns_record *rec = &r.records[r.n_records - 1];
    assert_string_equal(rec->name, name);
    assert_int_equal(rec->type, DNS_TXT);
    assert_string_equal(rec->tag, "v=DKIM1");
    assert_true(strncmp(rec->canon, "v=DKIM1; k=rsa; p=MIIBIjAN", 26) == 0);
    assert_true(strlen(rec->canon) > 255);
    /* "...255 bytes" "the rest": each quoted string at most 255 bytes. */
    assert_int_equal(rec->data[0], '"');
    const char *second = strstr(rec->data, "\" \"");
    assert_non_null(second);
    assert_int_equal(second - rec->data - 1, 255);
    assert_non_null(strstr(rec->comment, "active: the relays sign with it"));
    dns_records_free(&r);

    site.dkim.enabled = 0;
    assert_int_equal(dns_records_build(&site, "example.test", &r, &err), 0);
    size_t n = r.n_records, notes = r.n_notes;
    assert_int_equal(dkim_dns_add(&site, dir, &r, &err), 0);
    assert_int_equal(r.n_records, n);
    assert_int_equal(r.n_notes, notes);
    dns_records_free(&r);

    free(name);
    dkim_domain_free(&d);
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    buf_free(&err);
    site_free(&site);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_topology_primary_domain),
        cmocka_unit_test(test_second_domain_points_at_the_primary_names),
        cmocka_unit_test(test_small_site_with_comments),
        cmocka_unit_test(test_dmarc_policy_from_the_site),
        cmocka_unit_test(test_policy_and_ptr_notes),
        cmocka_unit_test(test_name_outside_the_domains),
        cmocka_unit_test(test_long_txt_is_split),
        cmocka_unit_test(test_hostile_domains_refused),
        cmocka_unit_test(test_dkim_records_from_the_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
