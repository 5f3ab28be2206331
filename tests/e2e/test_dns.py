"""`emailng dns` on the small site (issue 11): every record the domain needs,
as zone-file lines that Debian's nsd accepts (nsd-checkzone), the same in
--json, and bad input refused. `emailng dns check` against a DNS that
publishes the records is tested on the full topology
(tests/e2e_ha/test_dns_check.py), where the fabric has an authoritative DNS."""

import json
import re
import subprocess

from conftest import DOMAIN, HOST, PORTS, TLS_NAME

NSD_CHECKZONE = "/usr/sbin/nsd-checkzone"


def _records(text):
    """The zone-file lines of the output (not the comments)."""
    return [l for l in text.splitlines() if l and not l.startswith(";")]


def test_dns_prints_every_record(site):
    r = site.run("dns")
    assert r.rc == 0, r
    lines = _records(r.out)
    mx = "%s. IN MX 10 %s." % (DOMAIN, TLS_NAME)
    expected = [
        mx,
        "%s. IN A %s" % (TLS_NAME, HOST),
        "%s. IN TXT \"v=spf1 ip4:%s -all\"" % (DOMAIN, HOST),
        "_dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@%s\"" % (DOMAIN, DOMAIN),
        "mta-sts.%s. IN A %s" % (DOMAIN, HOST),
        "_smtp._tls.%s. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@%s\"" % (DOMAIN, DOMAIN),
        "_submissions._tcp.%s. IN SRV 0 1 %d %s." % (DOMAIN, PORTS["submissions"], TLS_NAME),
        "_submission._tcp.%s. IN SRV 10 1 %d %s." % (DOMAIN, PORTS["submission"], TLS_NAME),
        "_imaps._tcp.%s. IN SRV 0 1 %d %s." % (DOMAIN, PORTS["imaps"], TLS_NAME),
        "_imap._tcp.%s. IN SRV 10 1 %d %s." % (DOMAIN, PORTS["imap"], TLS_NAME),
        "_pop3s._tcp.%s. IN SRV 20 1 %d %s." % (DOMAIN, PORTS["pop3s"], TLS_NAME),
        "_pop3._tcp.%s. IN SRV 30 1 %d %s." % (DOMAIN, PORTS["pop3"], TLS_NAME),
        # The clients' auto-configuration (test_autoconfig.py).
        "autoconfig.%s. IN A %s" % (DOMAIN, HOST),
        "autodiscover.%s. IN A %s" % (DOMAIN, HOST),
        "_autodiscover._tcp.%s. IN SRV 0 1 443 %s." % (DOMAIN, TLS_NAME),
    ]
    for line in expected:
        assert line in lines, (line, r.out)
    sts = [l for l in lines if l.startswith("_mta-sts.%s. IN TXT" % DOMAIN)]
    assert len(sts) == 1 and re.fullmatch(r'_mta-sts\.\S+ IN TXT "v=STSv1; id=[0-9a-f]{32}"', sts[0]), r.out
    # DKIM: the active selector's key (made by `up`), its p= cut into
    # strings of at most 255 bytes.
    dkim = [l for l in lines if "._domainkey.%s. IN TXT" % DOMAIN in l]
    assert len(dkim) == 1, r.out
    m = re.fullmatch(r'(s\d{8})\._domainkey\.\S+ IN TXT ((?:"[^"]*" ?)+)', dkim[0])
    assert m, dkim[0]
    strings = re.findall(r'"([^"]*)"', m.group(2))
    assert all(len(x) <= 255 for x in strings) and len(strings) == 2, strings
    assert "".join(strings).startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
    assert len(lines) == len(expected) + 2, r.out
    # One comment line before every record.
    all_lines = r.out.splitlines()
    for i, line in enumerate(all_lines):
        if line and not line.startswith(";"):
            assert all_lines[i - 1].startswith("; "), (line, r.out)
    # The policy file, its URL and the PTR reminder, as comments.
    assert "; MTA-STS policy: serve this text" in r.out
    assert ";   https://mta-sts.%s/.well-known/mta-sts.txt" % DOMAIN in r.out
    assert ";   mx: %s\n" % TLS_NAME in r.out and ";   mode: testing\n" in r.out
    assert "; DKIM selector %s, active: the relays sign with it" % m.group(1) in r.out
    assert "; PTR 1.0.0.127.in-addr.arpa. -> %s." % TLS_NAME in r.out


def test_dns_output_is_a_valid_zone(site, tmp_path):
    """Debian's nsd-checkzone accepts what `emailng dns` prints, under a
    minimal SOA/NS head."""
    r = site.run("dns")
    assert r.rc == 0, r
    zone = tmp_path / "zone"
    zone.write_text("$TTL 3600\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n"
                    + r.out)
    cp = subprocess.run([NSD_CHECKZONE, DOMAIN, str(zone)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "zone %s is ok" % DOMAIN in cp.stdout, cp.stdout
    # A broken line is refused by the same check (the check is not always green).
    zone.write_text(zone.read_text() + "%s. IN MX relay-without-preference.\n" % DOMAIN)
    cp = subprocess.run([NSD_CHECKZONE, DOMAIN, str(zone)], capture_output=True, text=True)
    assert cp.returncode != 0, cp.stdout + cp.stderr


def test_dns_json_matches_the_text(site):
    text = site.run("dns", "--domain", DOMAIN.upper())
    assert text.rc == 0, text
    r = site.run("dns", "--json")
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["site"] == "small-site"
    [dom] = doc["domains"]
    assert dom["domain"] == DOMAIN
    lines = ["%s. IN %s %s" % (rec["name"], rec["type"], rec["data"]) for rec in dom["records"]]
    assert lines == _records(text.out)
    assert all(rec["comment"] and rec["in_zone"] for rec in dom["records"])
    spf = [rec for rec in dom["records"] if rec["value"].startswith("v=spf1")]
    assert [s["value"] for s in spf] == ["v=spf1 ip4:%s -all" % HOST]
    assert dom["mta_sts_policy"] == "version: STSv1\r\nmode: testing\r\nmx: %s\r\nmax_age: 604800\r\n" % TLS_NAME
    assert dom["mta_sts_policy_url"] == "https://mta-sts.%s/.well-known/mta-sts.txt" % DOMAIN
    dkim = [rec for rec in dom["records"] if rec["value"].startswith("v=DKIM1")]
    assert len(dkim) == 1 and dkim[0]["name"].endswith("._domainkey.%s" % DOMAIN), dkim
    assert not any(n.startswith("DKIM") for n in dom["notes"])


def test_dns_bad_input(site):
    r = site.run("dns", "--domain", "evil.test\n@ IN NS attacker.")
    assert r.rc == 2, r
    assert "not a domain of site small-site; its domains are example.test" in r.err
    assert "\n@ IN NS" not in r.err and r.out == ""
    r = site.run("dns", "--domain")
    assert r.rc == 2 and "--domain needs a value" in r.err, r
    r = site.run("dns", "bogus")
    assert r.rc == 2 and 'unexpected argument "bogus"' in r.err, r
    r = site.run("dns", "check", "--domain", "other.test")
    assert r.rc == 2 and "not a domain of site" in r.err, r
    r = site.run("help", "dns")
    assert r.rc == 0 and "emailng dns [check] [--domain DOMAIN] [--json]" in r.out, r
