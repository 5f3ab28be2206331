"""The relays' caching resolver (S8, issue 4).

Every relay runs its own unbound (templates/unbound), answering on
127.0.0.1 only and forwarding to the fabric's DNS (fabric.dns; on a real
site resolver.forward, or full recursion). The relay's resolv.conf names
127.0.0.1, so Postfix (MX lookups), Dovecot and emailng-policyd (SPF)
resolve through it.
"""

import smtplib
import sys
import uuid

from conftest import DOMAIN, FABRIC_DNS, HOSTS
import hostns

# A DNS query with dnspython inside a namespace, to 127.0.0.1 or through
# the namespace's resolv.conf ("system"): prints the answers or the error.
_QUERY = r"""
import sys
import dns.resolver
server, name, rdtype = sys.argv[1:4]
r = dns.resolver.Resolver(configure=(server == "system"))
if server != "system":
    r.nameservers = [server]
r.lifetime = 3
try:
    print("\n".join(sorted(a.to_text() for a in r.resolve(name, rdtype))))
except Exception as e:
    print("ERROR %s" % type(e).__name__)
"""


def _query(site, host, server, name, rdtype):
    return hostns.run(site, host, sys.executable, "-c", _QUERY, server, name, rdtype).stdout.strip()


def _stats(site, relay):
    conf = "%s/etc/%s/unbound/unbound.conf" % (site.state, relay)
    out = hostns.run(site, relay, "unbound-control", "-c", conf, "stats_noreset").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_relays_resolve_through_their_own_unbound(ha):
    for relay in ("relay1", "relay2"):
        with open("/etc/netns/%s-%s/resolv.conf" % (ha.prefix, relay)) as f:
            servers = [l.split()[1] for l in f if l.startswith("nameserver")]
        assert servers == ["127.0.0.1"], (relay, servers)
        # Through resolv.conf (what Postfix's and libspf2's resolver read) ...
        assert _query(ha, relay, "system", DOMAIN, "MX") == \
            "10 relay1.%s.\n20 relay2.%s." % (DOMAIN, DOMAIN)
        # ... and the C library's own lookups (Dovecot's imap passdb host).
        addrs = hostns.run(ha, relay, "getent", "ahostsv4", "mail." + DOMAIN).stdout
        assert HOSTS["proxy1"] in addrs and HOSTS["proxy2"] in addrs, addrs
    # The other hosts keep asking the fabric's DNS.
    with open("/etc/netns/%s-store1/resolv.conf" % ha.prefix) as f:
        assert "nameserver %s" % FABRIC_DNS in f.read()


def test_unbound_listens_on_loopback_only(ha):
    listeners = hostns.run(ha, "relay1", "ss", "-H", "-l", "-n", "-t", "-u", "sport", "=", ":53").stdout
    local = [line.split()[4] for line in listeners.splitlines()]
    assert local and all(a == "127.0.0.1:53" for a in local), listeners
    assert _query(ha, "client", HOSTS["relay1"], DOMAIN, "MX").startswith("ERROR")


def test_repeated_query_is_answered_from_the_cache(ha):
    name = "mail." + DOMAIN
    assert _query(ha, "relay1", "127.0.0.1", name, "A") == "%s\n%s" % (HOSTS["proxy1"], HOSTS["proxy2"])
    hits = int(_stats(ha, "relay1")["total.num.cachehits"])
    # Cut relay1 off from the fabric's DNS for a moment (its own table).
    hostns.run(ha, "relay1", "nft", "-f", "-", input=(
        "table inet emailng_test {\n"
        "  chain output { type filter hook output priority filter - 10; ip daddr %s udp dport 53 drop;"
        " ip daddr %s tcp dport 53 drop; }\n}\n" % (FABRIC_DNS, FABRIC_DNS)))
    try:
        assert _query(ha, "relay1", "127.0.0.1", name, "A") == "%s\n%s" % (HOSTS["proxy1"], HOSTS["proxy2"])
        assert int(_stats(ha, "relay1")["total.num.cachehits"]) > hits
        # A name not asked before needs the upstream, which is cut.
        fresh = _query(ha, "relay1", "127.0.0.1", "n%s.%s" % (uuid.uuid4().hex, DOMAIN), "A")
        assert fresh.startswith("ERROR"), fresh
    finally:
        hostns.run(ha, "relay1", "nft", "delete", "table", "inet", "emailng_test")
    # The upstream is back.
    assert _query(ha, "relay1", "127.0.0.1", "relay2." + DOMAIN, "A") == HOSTS["relay2"]


def test_mail_at_the_relay_makes_its_daemons_ask_unbound(ha):
    # The MX's smtpd looks the client up, emailng-policyd checks the
    # sender's SPF: both through the relay's resolver.
    before = int(_stats(ha, "relay1")["total.num.queries"])
    sender = "someone@s%s.%s" % (uuid.uuid4().hex[:12], DOMAIN)
    with smtplib.SMTP(HOSTS["relay1"], 25, local_hostname="client.outside.test", timeout=30) as s:
        s.ehlo()
        s.mail(sender)
        s.rcpt("alice@" + DOMAIN)
        s.rset()
    assert int(_stats(ha, "relay1")["total.num.queries"]) > before
