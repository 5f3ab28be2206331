"""The public certificate on the full topology (tls.source files and acme;
admin manual "The public certificate on several hosts").

The session's fabric is switched to tls.source files (a PKI of the test's
own: root, intermediate, one leaf for mail.example.test and both relays'
names), then to acme against Debian's pebble, with `emailng up --site`,
and back to the session's site file at the end, so the other modules see
the site they expect. Pebble runs in the "client" namespace (198.18.0.100,
where this process is) and resolves the public names through the fabric's
nsd (198.18.0.53), which serves exactly `emailng dns`'s records: relayN.
example.test -> each relay, mail.example.test -> both proxies.

Every public port of both relays (25, 587, 465; server name relayN.
example.test) and both proxies (143, 993, 110, 995, 4190; mail.example.test)
is checked with `openssl s_client -showcerts -verify_hostname`: the chain
it presents, verified against the root the test trusts. The internal hops
keep the site CA: a login through a proxy reaches the store, and a
message submitted at a relay (its SASL login at the proxies over IMAPS,
which checks the site CA) is delivered."""
import imaplib
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import pytest

import cert_checks
from cert_checks import der_file, digest, served
from conftest import HOSTS, TLS_NAME

CLIENT = "198.18.0.100"
FABRIC_DNS = "198.18.0.53"
PEBBLE_DIR_URL = "https://%s:14000/dir" % CLIENT
RELAY_NAMES = {"relay1": "relay1.example.test", "relay2": "relay2.example.test"}

# port -> s_client arguments (STARTTLS protocol, or implicit TLS)
RELAY_PORTS = {25: ["-starttls", "smtp"], 587: ["-starttls", "smtp"], 465: []}
PROXY_PORTS = {143: ["-starttls", "imap"], 993: [], 110: ["-starttls", "pop3"], 995: [],
               4190: ["-starttls", "sieve"], 443: []}     # 443: nginx (tests/e2e/test_autoconfig.py)


class Pki(cert_checks.Pki):
    """Root, intermediate, and leaves the intermediate signs (openssl(1))."""

    def __init__(self, folder):
        super().__init__(folder, "HA")

    def leaf(self, name, dns_names):
        return self.server_leaf(name, dns_names[0], ["DNS:" + n for n in dns_names])


def public_endpoints():
    """(host, address, port, server name, starttls) of every public port."""
    out = []
    for relay, name in RELAY_NAMES.items():
        out += [(relay, HOSTS[relay], port, name, args) for port, args in RELAY_PORTS.items()]
    for proxy in ("proxy1", "proxy2"):
        out += [(proxy, HOSTS[proxy], port, TLS_NAME, args) for port, args in PROXY_PORTS.items()]
    return out


def presented(cafile):
    """{(host, port): (chain, verify code)} for every public port."""
    return {(h, port): served(a, port, name, args, cafile) for h, a, port, name, args in public_endpoints()}


def host_sections(output):
    """{host: its part} of a fabric command's output ("== HOST (ADDRESS)" heads)."""
    return dict(re.findall(r"^== (\S+) \([^)]*\)\n(.*?)(?=^== |\Z)", output, re.S | re.M))


def dovecot_master(ha, host):
    with open(os.path.join(ha.state, "run", host, "dovecot", "master.pid")) as f:
        return f.read().strip()


def forwarder_alive(ha, host):
    """The forwarder's pid file names a live process (a zombie waiting for
    init to reap it is not alive)."""
    try:
        with open(os.path.join(ha.state, "run", host, "acme-forward", "socat.pid")) as f:
            pid = int(f.read())
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def through_forwarder(ha, via, orderer):
    """What a client gets at via:80 while a stand-in for lego answers on
    the orderer's lego port (8402)."""
    stand_in = subprocess.Popen(["ip", "netns", "exec", "%s-%s" % (ha.prefix, orderer), "socat", "-u",
                                 "SYSTEM:echo lego-stand-in-on-%s" % orderer,
                                 "TCP-LISTEN:8402,bind=%s,reuseaddr" % HOSTS[orderer]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                with socket.create_connection((HOSTS[via], 80), timeout=5) as s:
                    s.sendall(b"GET /.well-known/acme-challenge/x HTTP/1.0\r\nHost: mail.example.test\r\n\r\n")
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                if data:
                    return data.decode(errors="replace")
            except OSError:
                pass
            time.sleep(0.1)
        return ""
    finally:
        stand_in.kill()
        stand_in.wait()


def with_tls(site_text, tls_lines):
    """The session's site file with tls.source lines added to its tls mapping."""
    assert "\ntls:\n  names:" in site_text, "ha-site.yaml: tls section changed"
    return site_text.replace("\ntls:\n  names:", "\ntls:\n%s\n  names:" % tls_lines, 1)


def up(ha, text, name):
    path = os.path.join(ha.state, name)
    with open(path, "w") as f:
        f.write(text)
    t0 = time.monotonic()
    cp = ha.emailng("up", "--site", path)
    return cp, time.monotonic() - t0


# ---- the internal hops ----------------------------------------------------------

def login_through_proxy(ha, proxy, cafile):
    """IMAPS at a proxy, its certificate checked against cafile; the proxy
    passes the session on to the store (over the site CA's TLS)."""
    ctx = ssl.create_default_context(cafile=cafile)

    class IMAPS(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            sock = socket.create_connection((HOSTS[proxy], 993), timeout)
            return ctx.wrap_socket(sock, server_hostname=TLS_NAME)
    m = IMAPS(HOSTS[proxy], 993, ssl_context=ctx, timeout=30)
    m.login("alice@example.test", ha.password("alice@example.test"))
    return m


def submit_and_find(ha, relay, cafile):
    """A message submitted at relay (587, STARTTLS checked against cafile
    for the relay's own name, AUTH checked by the relay at the proxies over
    IMAPS with the site CA), found in bob's INBOX through proxy2."""
    msgid = "<certs-ha.%s@example.test>" % uuid.uuid4()
    user = "alice@example.test"
    ctx = ssl.create_default_context(cafile=cafile)
    with smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=30) as s:
        s.ehlo()
        s._host = RELAY_NAMES[relay]
        s.starttls(context=ctx)
        s.ehlo()
        s.login(user, ha.password(user))
        s.sendmail(user, ["bob@example.test"], "From: %s\r\nTo: bob@example.test\r\nSubject: certs\r\n"
                   "Message-ID: %s\r\n\r\nthrough %s\r\n" % (user, msgid, relay))
    deadline = time.time() + 90
    while time.time() < deadline:
        ctx_imap = ssl.create_default_context(cafile=cafile)
        m = imaplib.IMAP4(HOSTS["proxy2"], 143, timeout=30)
        m.host = TLS_NAME
        try:
            m.starttls(ssl_context=ctx_imap)
            m.login("bob@example.test", ha.password("bob@example.test"))
            m.select("INBOX", readonly=True)
            typ, data = m.search(None, "HEADER", "Message-ID", msgid)
            if typ == "OK" and data[0].split():
                return
        finally:
            try:
                m.logout()
            except Exception:
                pass
        time.sleep(1)
    raise AssertionError("%s submitted at %s never reached bob's INBOX" % (msgid, relay))


# ---- pebble in the client namespace ---------------------------------------------

class Pebble(cert_checks.Pebble):
    """Debian's pebble on 198.18.0.100:14000 (ACME) and :15000 (management),
    HTTPS with a certificate of the test's root; challenges on port 80 of
    the address the fabric's nsd gives for each name. Started at once."""

    def __init__(self, folder, pki):
        # This process is in the client namespace: so is pebble.
        super().__init__(folder, pki, CLIENT, "/CN=%s" % CLIENT, ["IP:%s" % CLIENT], FABRIC_DNS)
        self.start()

    def root_pem(self):
        return self.pem("/roots/0")


# ---- the module's site ---------------------------------------------------------

@pytest.fixture(scope="module")
def certs(ha):
    """The session's fabric; its own site file put back at the end."""
    with open(os.path.join(ha.state, "site.yaml")) as f:
        original = f.read()
    folder = tempfile.mkdtemp(prefix="certs-ha-", dir=ha.state)
    os.chmod(folder, 0o755)
    ha.pki = Pki(folder)
    ha.original_site = original
    try:
        yield ha
    finally:
        restored, _ = up(ha, original, "site-restored.yaml")
        shutil.rmtree(folder, ignore_errors=True)
    # Back on site-ca: port 80 closed again, no forwarder left.
    rules = ha.netns("relay1", "nft", "list", "table", "inet", "emailng").stdout
    assert "tcp dport 80" not in rules, rules
    for host in ("relay1", "relay2", "proxy1", "proxy2"):
        assert not forwarder_alive(ha, host), "%s: forwarder left after\n%s" % (host, restored.stdout)


def test_files_on_every_public_port_and_internal_hops_keep_the_site_ca(certs):
    ha = certs
    crt, key = ha.pki.leaf("leaf", [TLS_NAME, RELAY_NAMES["relay1"], RELAY_NAMES["relay2"]])
    tls = ("  source: files\n  files:\n    certificate: %s\n    key: %s\n    chain: %s"
           % (crt, key, ha.pki.inter_crt))
    text = with_tls(ha.original_site, tls)
    # A certificate without the relays' names is refused before anything changes.
    narrow_crt, narrow_key = ha.pki.leaf("narrow", [TLS_NAME])
    narrow = with_tls(ha.original_site, "  source: files\n  files:\n    certificate: %s\n    key: %s\n"
                      "    chain: %s" % (narrow_crt, narrow_key, ha.pki.inter_crt))
    path = os.path.join(ha.state, "site-narrow.yaml")
    with open(path, "w") as f:
        f.write(narrow)
    cp = ha.emailng("check", "--site", path, check=False)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "%s: the certificate does not cover relay1.example.test" % narrow_crt in cp.stderr, cp.stderr

    cp, seconds = up(ha, text, "site-files.yaml")
    print("up with tls.source files: %.1f s" % seconds)
    installed = os.path.join(ha.state, "tls", "public", "fullchain.pem")
    chain = der_file(crt) + der_file(ha.pki.inter_crt)
    assert der_file(installed) == chain
    for (host, port), (got, verify) in presented(ha.pki.root_crt).items():
        assert got == chain, "%s:%d presents another chain (%d certificates)" % (host, port, len(got))
        assert verify == 0, "%s:%d: chain does not verify against the test root (code %d)" % (host, port, verify)

    # Internal hops: proxy -> store, relay SASL -> proxy (site CA), relay -> store.
    for proxy in ("proxy1", "proxy2"):
        m = login_through_proxy(ha, proxy, ha.pki.root_crt)
        typ, _ = m.select("INBOX")
        assert typ == "OK"
        m.logout()
    submit_and_find(ha, "relay1", ha.pki.root_crt)
    submit_and_find(ha, "relay2", ha.pki.root_crt)
    # The proxies still give the relays the site CA's certificate.
    relay_view = ha.netns("relay1", "openssl", "s_client", "-connect", "%s:993" % HOSTS["proxy1"],
                          "-servername", TLS_NAME, "-CAfile", ha.ca, "-verify_hostname", TLS_NAME, input="")
    assert "Verify return code: 0 (ok)" in relay_view.stdout, relay_view.stdout[-2000:]

    # New files at the same paths: `tls renew` installs them once (shared
    # state) and every relay and proxy reloads: all ports present the new
    # chain, the Dovecot masters are the same processes.
    pids = {h: dovecot_master(ha, h) for h in ("proxy1", "proxy2")}
    ha.pki.leaf("leaf", [TLS_NAME, RELAY_NAMES["relay1"], RELAY_NAMES["relay2"]])
    renew = ha.emailng("tls", "renew")
    sections = host_sections(renew.stdout)
    for host in ("relay1", "relay2", "proxy1", "proxy2"):
        assert "reloaded for the new public certificate" in sections[host], renew.stdout
    new_chain = der_file(crt) + der_file(ha.pki.inter_crt)
    assert new_chain != chain
    for (host, port), (got, verify) in presented(ha.pki.root_crt).items():
        assert got == new_chain and verify == 0, "%s:%d does not present the new chain" % (host, port)
    for h, pid in pids.items():
        assert dovecot_master(ha, h) == pid, h

    # `up` again: the admin's files are neither rewritten nor re-installed.
    before = digest(installed)
    cp, _ = up(ha, text, "site-files.yaml")
    assert digest(installed) == before
    assert "public certificate installed" not in cp.stdout


def test_acme_with_pebble_on_every_public_port(certs):
    ha = certs
    pebble = Pebble(tempfile.mkdtemp(prefix="pebble-", dir=ha.state), ha.pki)
    try:
        tls = ("  source: acme\n  acme:\n    directory: %s\n    email: hostmaster@example.test\n"
               "    ca_bundle: %s" % (PEBBLE_DIR_URL, pebble.ca_bundle))
        cp, seconds = up(ha, with_tls(ha.original_site, tls), "site-acme.yaml")
        obtained = re.findall(r"acme +certificate for (\S+) obtained .* in ([0-9.]+) s", cp.stdout)
        print("up with tls.source acme: %.1f s; orders: %s" % (seconds, obtained))
        assert sorted(n for n, _ in obtained) == sorted([TLS_NAME, *RELAY_NAMES.values()]), cp.stdout
        root = os.path.join(ha.state, "pebble-root.pem")
        with open(root, "w") as f:
            f.write(pebble.root_pem())
        got = presented(root)
        for (host, port), (chain, verify) in got.items():
            assert verify == 0, "%s:%d: chain does not verify against pebble's root (code %d)" % (host, port, verify)
            name = RELAY_NAMES.get(host, TLS_NAME)
            folder = os.path.join(ha.state, "tls", "public", name)
            assert chain == der_file(os.path.join(folder, "fullchain.pem")), "%s:%d" % (host, port)
        # One certificate per relay, one shared by the proxies.
        assert got[("relay1", 25)][0][0] != got[("relay2", 25)][0][0]
        assert got[("proxy1", 993)][0] == got[("proxy2", 993)][0]
        # Port 80 is open on the relays and proxies only while tls.source is
        # acme, and forwarded to lego's port on the host that orders: proxy2's
        # goes to proxy1 (the CA may ask either address of mail.example.test).
        for host in ("relay1", "relay2", "proxy1", "proxy2"):
            rules = ha.netns(host, "nft", "list", "table", "inet", "emailng").stdout
            assert re.search(r"tcp dport 80 accept", rules), rules
            assert forwarder_alive(ha, host), host
        assert "lego-stand-in-on-proxy1" in through_forwarder(ha, "proxy2", "proxy1")
        assert "lego-stand-in-on-relay2" in through_forwarder(ha, "relay2", "relay2")
        # A forced renewal of every certificate (forwarders up everywhere):
        # new certificates, daemons reloaded, not restarted.
        pids = {h: dovecot_master(ha, h) for h in ("proxy1", "proxy2")}
        t0 = time.monotonic()
        renew = ha.emailng("tls", "renew", "--force")
        print("tls renew --force (3 certificates): %.1f s" % (time.monotonic() - t0))
        assert len(re.findall(r"certificate for \S+ obtained", renew.stdout)) == 3, renew.stdout
        sections = host_sections(renew.stdout)
        for host in ("relay1", "relay2", "proxy1", "proxy2"):
            assert "reloaded for the new public certificate" in sections[host], renew.stdout
        assert "obtained" not in sections["proxy2"], renew.stdout     # it takes proxy1's
        for h, pid in pids.items():
            assert dovecot_master(ha, h) == pid, h
        renewed = presented(root)
        for key, (chain, verify) in renewed.items():
            assert verify == 0, key
            assert chain[0] != got[key][0][0], "%s:%d still presents the old certificate" % key
        # Internal hops still on the site CA.
        submit_and_find(ha, "relay2", root)
        # `up` again: nothing is due, no new order.
        cp, _ = up(ha, with_tls(ha.original_site, tls), "site-acme.yaml")
        assert "obtained" not in cp.stdout, cp.stdout
    finally:
        pebble.stop()
