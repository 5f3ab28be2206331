"""The relays' tables between deploys on separate hosts (issue 12;
docs/architecture.md section 5): each proxy's emailng-tablesync makes
them from the directory, each relay's pulls them from both proxies over
HTTPS with its client certificate. An address added on the directory host
(`emailng alias add` there) is accepted by both relays within 10 s; a
bundle that does not parse is never installed; with the directory down
the relays keep their last tables.

The additions are aliases: `emailng user add` on the directory host of a
deployed site is refused today before it writes anything, because it
looks for a mailbox left by an earlier user on the stores' disks, which
are not on that host (mailbox_lifecycle.c). What reaches the relays is the
same for both: a new address in the directory, in the same tables."""

import json
import os
import smtplib
import time
import uuid

from conftest import HOSTS, PREFIX, in_netns

DOMAIN = "example.test"
RELAYS = ("relay1", "relay2")
LOG = "/var/lib/emailng/log/%s/tablesync.log"


def _rcpt(relay, address):
    """The relay's answer to RCPT TO:<address> from the internet."""
    with in_netns(PREFIX + "-client"):
        with smtplib.SMTP(HOSTS[relay], 25, timeout=30) as s:
            s.ehlo("client.outside.test")
            code, _ = s.mail("sender@outside.test")
            assert code == 250
            code, text = s.rcpt(address)
            s.rset()
            return code, text.decode(errors="replace")


def _wait_accepted(address, started, limit=10.0):
    """Seconds after `started` at which each relay accepted address."""
    accepted = {}
    deadline = started + limit + 5
    while len(accepted) < len(RELAYS) and time.monotonic() < deadline:
        for relay in RELAYS:
            if relay not in accepted and _rcpt(relay, address)[0] == 250:
                accepted[relay] = time.monotonic() - started
        time.sleep(0.1)
    return accepted


def _alias_add(deployed, address):
    """As the administrator does it on the directory host."""
    deployed.emailng_on("dir1", "--site", "/etc/emailng/site.yaml", "alias", "add", address, "alice@" + DOMAIN)


def _read(deployed, host, path):
    with open(deployed.host_file(host, path), errors="replace") as f:
        return f.read()


def test_relays_hold_no_directory_credentials(deployed):
    for relay in RELAYS:
        files = set(deployed.on(relay, "ls", "/var/lib/emailng/tls/" + relay).stdout.split())
        assert files == {"server.crt", "server.key", "client-tables.crt", "client-tables.key"}, relay
        subject = deployed.on(relay, "openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in",
                              "/var/lib/emailng/tls/%s/client-tables.crt" % relay).stdout
        assert "CN=tables,OU=%s,O=EmailNG client" % relay in subject


def test_alias_add_reaches_both_relays_within_10_s(deployed):
    address = "tables-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    for relay in RELAYS:
        code, text = _rcpt(relay, address)
        assert code == 550 and "5.1.1" in text, (relay, code, text)
    started = time.monotonic()
    _alias_add(deployed, address)
    returned = time.monotonic() - started
    accepted = _wait_accepted(address, started)
    assert set(accepted) == set(RELAYS), accepted
    assert max(accepted.values()) <= 10.0, accepted
    print("\nalias add (%.2f s on dir1) -> accepted at relay1 after %.2f s, relay2 after %.2f s"
          % (returned, accepted["relay1"], accepted["relay2"]))
    for relay in RELAYS:
        table = _read(deployed, relay, "/var/lib/emailng/data/%s/postfix/relay-recipients" % relay)
        assert "%s OK\n" % address in table
        policy = _read(deployed, relay, "/var/lib/emailng/data/%s/policyd/table" % relay)
        assert "alias %s alice@%s\n" % (address, DOMAIN) in policy
        assert "installed the tables of directory CSN" in _read(deployed, relay, LOG % relay)


def test_a_bundle_that_does_not_parse_is_never_installed(deployed):
    """proxy1 serves, by hand, a well-framed bundle of a newer CSN whose
    recipient table would drop every user and whose policyd table lacks
    its header: both relays refuse it (one log line each) and keep theirs;
    proxy2 still confirms them."""
    bundle = "/var/lib/emailng/data/proxy1/tablesync/relay-tables"
    good = {r: _read(deployed, r, "/var/lib/emailng/data/%s/postfix/relay-recipients" % r) for r in RELAYS}
    policy = {r: _read(deployed, r, "/var/lib/emailng/data/%s/policyd/table" % r) for r in RELAYS}
    recipients = "nobody@example.test OK\n"
    senders = "nobody@example.test nobody@example.test\n"
    broken_policy = "mailbox nobody@example.test pair1\n"
    text = "emailng-relay-tables 1 29991231235959.999999Z#000000#000#000000\n"
    for name, part in (("relay-recipients", recipients), ("sender-logins", senders), ("policyd", broken_policy)):
        text += "table %s %d\n%s" % (name, len(part), part)
    text += "end\n"
    path = deployed.host_file("proxy1", bundle)
    st = os.stat(path)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chown(path + ".tmp", st.st_uid, st.st_gid)
    os.chmod(path + ".tmp", 0o640)
    os.rename(path + ".tmp", path)
    deadline = time.monotonic() + 15
    refused = set()
    while time.monotonic() < deadline and refused != set(RELAYS):
        time.sleep(0.5)
        refused = {r for r in RELAYS if "proxy1: refused what it serves" in _read(deployed, r, LOG % r)}
    assert refused == set(RELAYS)
    time.sleep(3)                       # a further round of both proxies
    for relay in RELAYS:
        log = _read(deployed, relay, LOG % relay)
        assert "emailng-policyd-table 1" in log.split("proxy1: refused what it serves")[1].splitlines()[0]
        assert _read(deployed, relay, "/var/lib/emailng/data/%s/postfix/relay-recipients" % relay) == good[relay]
        assert _read(deployed, relay, "/var/lib/emailng/data/%s/policyd/table" % relay) == policy[relay]
        assert "29991231235959" not in _read(deployed, relay, "/var/lib/emailng/data/%s/tablesync/csn" % relay)
        assert _rcpt(relay, "alice@" + DOMAIN)[0] == 250
    # A change in the directory makes proxy1 write its real tables again.
    address = "after-broken-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    started = time.monotonic()
    _alias_add(deployed, address)
    assert set(_wait_accepted(address, started)) == set(RELAYS)
    # (the relays may have taken it from proxy2 first: proxy1 writes its own
    # within its next poll of the directory)
    deadline = time.monotonic() + 15
    while "29991231235959" in _read(deployed, "proxy1", bundle) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "29991231235959" not in _read(deployed, "proxy1", bundle)


def _slapd_pid(deployed):
    out = deployed.emailng_on("dir1", "--host", "dir1", "status", "--json").stdout
    for h in json.loads(out)["hosts"]:
        for svc in h["services"]:
            if svc["name"] == "slapd":
                return svc["pid"]
    raise AssertionError("no slapd on dir1: " + out)


def test_directory_down_relays_keep_their_last_tables(deployed):
    known = "kept-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    started = time.monotonic()
    _alias_add(deployed, known)
    assert set(_wait_accepted(known, started)) == set(RELAYS)
    tables = {r: _read(deployed, r, "/var/lib/emailng/data/%s/postfix/relay-recipients" % r) for r in RELAYS}
    pid = _slapd_pid(deployed)
    deployed.on("dir1", "kill", str(pid))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if deployed.on("dir1", "kill", "-0", str(pid), check=False).returncode != 0:
                break
            time.sleep(0.2)
        # The proxies notice at their next round; the relays keep asking.
        deadline = time.monotonic() + 15
        noticed = False
        while time.monotonic() < deadline and not noticed:
            time.sleep(0.5)
            noticed = all("the relays keep the tables this proxy served last" in
                          _read(deployed, p, "/var/lib/emailng/log/%s/tablesync.log" % p) for p in ("proxy1", "proxy2"))
        assert noticed
        time.sleep(4)                   # two rounds of the relays
        for relay in RELAYS:
            assert _rcpt(relay, known)[0] == 250, relay
            assert _rcpt(relay, "alice@" + DOMAIN)[0] == 250, relay
            code, text = _rcpt(relay, "nobody-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN))
            assert code == 550 and "5.1.1" in text, (relay, code, text)
            assert _read(deployed, relay, "/var/lib/emailng/data/%s/postfix/relay-recipients" % relay) \
                == tables[relay]
            status = deployed.emailng_on(relay, "--site", "/etc/emailng/site.yaml", "--host", relay, "status").stdout
            assert "confirmed the relay's tables" not in status
    finally:
        deployed.emailng_on("dir1", "--site", "/etc/emailng/site.yaml", "--host", "dir1", "up")
    # Back: the next change reaches both relays again.
    again = "back-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    started = time.monotonic()
    _alias_add(deployed, again)
    accepted = _wait_accepted(again, started)
    assert set(accepted) == set(RELAYS), accepted
    print("\nafter the directory came back: accepted at relay1 after %.2f s, relay2 after %.2f s"
          % (accepted["relay1"], accepted["relay2"]))


def _get_tables(deployed, proxy, cert_host=None, cert_name=None):
    """GET /emailng/relay-tables at proxy (SNI PROXY.DOMAIN, the site CA
    checked) from the internet, with cert_host's client certificate
    cert_name (or none): (HTTP status, body)."""
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=deployed.ca)
    if cert_host:
        tls = "/var/lib/emailng/tls/%s/%s" % (cert_host, cert_name)
        ctx.load_cert_chain(deployed.host_file(cert_host, tls + ".crt"), deployed.host_file(cert_host, tls + ".key"))
    name = "%s.%s" % (proxy, DOMAIN)
    with in_netns(PREFIX + "-client"):
        with socket.create_connection((HOSTS[proxy], 443), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                s.sendall(("GET /emailng/relay-tables HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                           % name).encode())
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def test_the_tables_are_served_to_the_relays_certificate_only(deployed):
    for proxy in ("proxy1", "proxy2"):
        status, body = _get_tables(deployed, proxy, "relay2", "client-tables")
        assert status == 200 and body.startswith("emailng-relay-tables 1 "), (proxy, status)
        assert _get_tables(deployed, proxy)[0] == 400                                # no certificate
        assert _get_tables(deployed, proxy, "proxy2", "client-dovecot")[0] == 403     # another identity
        assert _get_tables(deployed, proxy, "store1", "client-postfix")[0] == 403
