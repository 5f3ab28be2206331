"""`emailng dns check` against the fabric's DNS (issue 11).

The fabric's nsd serves, for each domain, exactly what `emailng dns` prints
(render.c renders DOMAIN.zone from src/lib/dns_records.c). The check runs
where a sender on the internet is: in the client namespace, whose
resolv.conf names the fabric's DNS (`ip netns exec` mounts it), through
glibc's resolver. Every record right -> exit 0; a record removed from the
zone (and one changed) -> the check names them, exit 1; the zone restored
-> exit 0 again."""

import json
import os
import signal
import time

import dns.resolver

from conftest import DOMAIN, EMAILNG, FABRIC_DNS, TLS_NAME, resolve

DMARC = "_dmarc.%s." % DOMAIN
SPF_LINE = '%s. IN TXT "v=spf1 ip4:198.18.0.11 ip4:198.18.0.12 -all"' % DOMAIN


def _check(ha, *extra):
    return ha.netns("client", EMAILNG, "--state", ha.state, "dns", "check", *extra)


def _zone(ha):
    return os.path.join(ha.state, "etc", "fabric-dns", "nsd", "%s.zone" % DOMAIN)


def _reload(ha, path, text):
    """Write the zone file and make nsd read it (SIGHUP: zone files whose
    mtime changed are read again)."""
    before = os.stat(path).st_mtime
    with open(path, "w") as f:
        f.write(text)
    os.utime(path, (before + 10, before + 10))
    with open(os.path.join(ha.state, "run", "fabric-dns", "nsd.pid")) as f:
        os.kill(int(f.read().strip()), signal.SIGHUP)


def _dmarc_published():
    try:
        resolve(DMARC, "TXT")
        return True
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False


def _wait(want, timeout=15.0):
    deadline = time.time() + timeout
    while _dmarc_published() != want:
        assert time.time() < deadline, "nsd did not reload the zone within %ss" % timeout
        time.sleep(0.2)


def test_dns_check_all_records_published(ha):
    # The client resolves through the fabric's DNS, as the check does.
    cp = ha.netns("client", "cat", "/etc/resolv.conf")
    assert "nameserver %s" % FABRIC_DNS in cp.stdout, cp.stdout
    cp = _check(ha)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    printed = ha.emailng("dns").stdout
    n = len([l for l in printed.splitlines() if l and not l.startswith(";")])
    assert "dns check: %d of %d records correct; 0 missing, 0 wrong, 0 not resolved" % (n, n) in cp.stdout, cp.stdout
    assert "  ok       MX    %s. IN MX 10 relay1.%s." % (DOMAIN, DOMAIN) in cp.stdout, cp.stdout
    assert "  ok       A     %s. IN A 198.18.0.22" % TLS_NAME in cp.stdout, cp.stdout
    cp = _check(ha, "--json", "--domain", DOMAIN)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["ok"] is True and doc["total"] == n == doc["correct"], doc
    assert {r["status"] for r in doc["records"]} == {"ok"}, doc
    srv = [r for r in doc["records"] if r["name"] == "_imaps._tcp." + DOMAIN]
    assert srv == [{"domain": DOMAIN, "name": "_imaps._tcp." + DOMAIN, "type": "SRV",
                    "expected": "0 1 993 " + TLS_NAME, "status": "ok", "found": ["0 1 993 " + TLS_NAME],
                    "error": None}], srv


def test_dns_check_names_a_missing_and_a_wrong_record(ha):
    path = _zone(ha)
    with open(path) as f:
        original = f.read()
    lines = original.splitlines(keepends=True)
    assert any(l.startswith(DMARC) for l in lines) and SPF_LINE + "\n" in lines, original
    broken = "".join(l for l in lines if not l.startswith(DMARC))
    broken = broken.replace(SPF_LINE, '%s. IN TXT "v=spf1 ip4:198.18.0.11 -all"' % DOMAIN)
    try:
        _reload(ha, path, broken)
        _wait(False)
        cp = _check(ha)
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert '  missing  TXT   %s IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@%s"' % (DMARC, DOMAIN) \
            in cp.stdout, cp.stdout
        assert "  wrong    TXT   %s\n           found: \"v=spf1 ip4:198.18.0.11 -all\"" % SPF_LINE \
            in cp.stdout, cp.stdout
        assert "1 missing, 1 wrong, 0 not resolved" in cp.stdout, cp.stdout
        doc = json.loads(_check(ha, "--json").stdout)
        bad = {(r["name"], r["status"]) for r in doc["records"] if r["status"] != "ok"}
        assert bad == {(DMARC[:-1], "missing"), (DOMAIN, "wrong")}, doc
        assert doc["ok"] is False
    finally:
        _reload(ha, path, original)
        _wait(True)
    cp = _check(ha)
    assert cp.returncode == 0, cp.stdout + cp.stderr
