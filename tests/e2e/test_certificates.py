"""The public certificate's three sources (tls.source; admin manual
"Certificates"): the admin's files and ACME against Debian's pebble, on a
small site of its own. The site starts with the site CA; each test then
switches tls.source with `up --site` or uses `emailng tls renew`.

Pebble (Let's Encrypt's test CA) and an nsd that tells it where
mail.example.test is run in the site's network namespace: pebble's
validation authority fetches http://mail.example.test/.well-known/... on
port 80 of 127.0.0.1, where lego (started by emailng) answers.

Every public TLS port is checked with `openssl s_client -showcerts`: the
chain it presents, verified against the issuing root the test trusts
(its own for files, pebble's from its management API for ACME)."""
import imaplib
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import tempfile
import time

import pytest

import cert_checks
from cert_checks import der_file, digest, sh
from conftest import log_tail, own_site
from hibernation import wait_hibernated

NAME = "mail.example.test"
DNS_ADDR = "127.0.0.153"
PEBBLE_DIR_URL = "https://127.0.0.1:14000/dir"

# port -> s_client arguments (STARTTLS protocol or implicit TLS)
PUBLIC_PORTS = {
    25: ["-starttls", "smtp"], 587: ["-starttls", "smtp"], 465: [],
    143: ["-starttls", "imap"], 993: [],
    110: ["-starttls", "pop3"], 995: [],
    4190: ["-starttls", "sieve"],
    443: [],        # nginx: the clients' auto-configuration (test_autoconfig.py)
}

BASE = """site: {{name: certs}}
domains: [example.test]
directory: {{base: "dc=example,dc=test"}}
hosts:
  - {{name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}}
tls:
  names: [{names}]
{tls}
demo_users: true
filter: {{enabled: false}}
"""
NAMES = "mail.example.test, localhost, 127.0.0.1"


def site_text(tls="", names=NAMES):
    return BASE.format(tls=tls, names=names)


def files_tls(cert, key, chain=None):
    lines = ["  source: files", "  files:", "    certificate: %s" % cert, "    key: %s" % key]
    if chain:
        lines.append("    chain: %s" % chain)
    return "\n".join(lines)


def acme_tls(ca_bundle):
    return ("  source: acme\n  acme:\n    directory: %s\n    email: hostmaster@example.test\n"
            "    ca_bundle: %s" % (PEBBLE_DIR_URL, ca_bundle))


# --- a PKI of the test's own ---------------------------------------------------

class Pki(cert_checks.Pki):
    """An own root, an intermediate, and leaves it signs (openssl(1))."""

    def __init__(self, root):
        super().__init__(root, "Admin")
        # `openssl ca` for a certificate valid in the past only (expired).
        with open(self.p("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = {d}/index.txt\nnew_certs_dir = {d}\n"
                    "serial = {d}/serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n"
                    "[p]\ncommonName = supplied\n".format(d=root))
        open(self.p("index.txt"), "w").close()
        with open(self.p("serial"), "w") as f:
            f.write("1000\n")

    def leaf(self, name, dns=NAME):
        return self.server_leaf(name, dns, ["DNS:" + dns, "DNS:localhost", "IP:127.0.0.1"])

    def expired_leaf(self, name):
        key, csr = self.p(name + ".key"), self.p(name + ".csr")
        sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", key, "-out", csr, "-subj", "/CN=%s" % NAME,
           "-addext", "subjectAltName=DNS:%s" % NAME)
        crt = self.p(name + ".crt")
        sh("openssl", "ca", "-batch", "-config", self.p("ca.cnf"), "-cert", self.inter_crt,
           "-keyfile", self.inter_key, "-in", csr, "-out", crt, "-notext",
           "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")
        return crt, key


# --- what the ports present ----------------------------------------------------

def served(port, cafile):
    """(chain as DER list, verify return code) that port presents for NAME."""
    return cert_checks.served("127.0.0.1", port, NAME, PUBLIC_PORTS[port], cafile)


def assert_every_port_serves(chain, cafile):
    for port in PUBLIC_PORTS:
        got, verify = served(port, cafile)
        assert got == chain, "port %d presents another chain (%d certificates, expected %d)" % (
            port, len(got), len(chain))
        assert verify == 0, "port %d: the chain does not verify against %s (code %d)" % (port, cafile, verify)


# --- sessions opened before a reload -------------------------------------------

class IMAPS(imaplib.IMAP4_SSL):
    """IMAP over TLS to 127.0.0.1, the certificate checked for NAME."""

    def _create_socket(self, timeout):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=NAME)


class OpenSessions:
    """An IMAP IDLE session (993) and an SMTP session (25, after EHLO)."""

    def __init__(self, site, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        user, password = "alice@example.test", site.passwords["alice@example.test"]
        self.imap = IMAPS("127.0.0.1", 993, ssl_context=ctx, timeout=30)
        self.imap.login(user, password)
        self.imap.select("INBOX")
        tag = self.imap._new_tag().decode()
        self.idle_tag = tag
        self.imap.send(("%s IDLE\r\n" % tag).encode())
        line = self.imap.readline()
        assert line.startswith(b"+"), line
        self.smtp = smtplib.SMTP("127.0.0.1", 25, timeout=30)
        self.smtp.ehlo("client.example.test")

    def assert_alive(self):
        self.imap.send(b"DONE\r\n")
        line = self.imap.readline()
        while line.startswith(b"*"):
            line = self.imap.readline()
        assert line.startswith(("%s OK" % self.idle_tag).encode()), line
        typ, _ = self.imap.noop()
        assert typ == "OK"
        assert self.smtp.noop()[0] == 250
        code, _ = self.smtp.mail("someone@example.org")
        assert code == 250
        self.smtp.rset()

    def close(self):
        for f in (self.imap.logout, self.smtp.quit):
            try:
                f()
            except Exception:
                pass


def master_pids(site):
    svc = site.services()
    return {n: svc[n]["pid"] for n in ("postfix", "dovecot", "nginx")}


# --- pebble and its DNS ----------------------------------------------------------

class Pebble(cert_checks.Pebble):
    """Debian's pebble on 127.0.0.1:14000 (ACME) and :15000 (management),
    HTTPS with a certificate of the test's CA; challenges on port 80; names
    resolved by nsd on DNS_ADDR."""

    def __init__(self, root, pki):
        super().__init__(root, pki, "127.0.0.1", "/CN=localhost", ["DNS:localhost", "IP:127.0.0.1"], DNS_ADDR)

    def roots_pem(self):
        """Pebble's root and intermediate (they change at every start)."""
        return self.pem("/roots/0", "/intermediates/0")


def start_nsd(root):
    with open(os.path.join(root, "example.test.zone"), "w") as f:
        f.write("$TTL 60\n@ IN SOA ns.example.test. hostmaster.example.test. 1 60 60 60 60\n"
                "@ IN NS ns.example.test.\nns IN A %s\nmail IN A 127.0.0.1\nimap IN A 127.0.0.1\n" % DNS_ADDR)
    conf = os.path.join(root, "nsd.conf")
    with open(conf, "w") as f:
        f.write("""server:
  ip-address: {dns}
  port: 53
  username: ""
  zonesdir: "{root}"
  database: ""
  pidfile: "{root}/nsd.pid"
  xfrdfile: "{root}/xfrd.state"
  zonelistfile: "{root}/zone.list"
  logfile: "{root}/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
""".format(dns=DNS_ADDR, root=root))
    sh("nsd", "-c", conf)
    pidfile = os.path.join(root, "nsd.pid")
    for _ in range(50):
        if os.path.exists(pidfile) and open(pidfile).read().strip():
            return pidfile
        time.sleep(0.1)
    raise AssertionError("nsd did not start")


def stop_pidfile(pidfile):
    try:
        with open(pidfile) as f:
            os.kill(int(f.read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


# --- the site ------------------------------------------------------------------

@pytest.fixture(scope="module")
def cs():
    with own_site("certs", site_text()) as s:
        s.pki_dir = tempfile.mkdtemp(prefix="pki-", dir=s.state)
        s.pki = Pki(s.pki_dir)
        s.nsd_pid = start_nsd(s.pki_dir)
        s.pebble = Pebble(s.pki_dir, s.pki)
        s.pebble.start()
        try:
            yield s
        finally:
            s.pebble.stop()
            stop_pidfile(s.nsd_pid)


def write_site(s, text, name="site.yaml"):
    path = os.path.join(s.state, "certs-" + name)
    with open(path, "w") as f:
        f.write(text)
    return path


# --- files: refused -------------------------------------------------------------

def refuse(s, text, path, reason):
    """`check` and `up` refuse the site, naming path and reason; the running
    site is untouched."""
    before = master_pids(s)
    f = write_site(s, text, "bad.yaml")
    r = s.run("check", "--site", f, state=False)
    assert r.rc == 1, repr(r)
    assert path in r.err and reason in r.err, repr(r)
    r = s.run("up", "--site", f)
    assert r.rc == 1, repr(r)
    assert path in r.err and reason in r.err, repr(r)
    assert master_pids(s) == before


def test_files_with_a_key_of_another_certificate_are_refused(cs):
    crt, _ = cs.pki.leaf("mismatch-a")
    _, other_key = cs.pki.leaf("mismatch-b")
    refuse(cs, site_text(files_tls(crt, other_key, cs.pki.inter_crt)), other_key,
           "the key does not match the certificate")


def test_files_with_an_expired_certificate_are_refused(cs):
    crt, key = cs.pki.expired_leaf("expired")
    refuse(cs, site_text(files_tls(crt, key, cs.pki.inter_crt)), crt, "the certificate has expired")


def test_files_missing_are_refused(cs):
    crt, key = cs.pki.leaf("present")
    missing = os.path.join(cs.pki_dir, "no-such-chain.pem")
    refuse(cs, site_text(files_tls(crt, key, missing)), missing, "cannot read the file")


def test_files_for_another_name_are_refused(cs):
    crt, key = cs.pki.leaf("other-name", dns="other.example.org")
    refuse(cs, site_text(files_tls(crt, key, cs.pki.inter_crt)), crt,
           "does not cover mail.example.test")


# --- files: served as they are, reloaded -----------------------------------------

def test_files_chain_is_served_as_is_and_never_overwritten(cs):
    crt, key = cs.pki.leaf("admin1")
    files = (crt, key, cs.pki.inter_crt)
    seen = [digest(p) for p in files]
    r = cs.run("up", "--site", write_site(cs, site_text(files_tls(*files))), timeout=300)
    assert r.rc == 0, "%r\n%s" % (r, log_tail(cs))
    assert_every_port_serves(der_file(crt) + der_file(cs.pki.inter_crt), cs.pki.root_crt)
    # A second `up` with the same files: nothing reloaded or restarted,
    # the admin's files untouched.
    pids = master_pids(cs)
    r = cs.run("up", timeout=300)
    assert r.rc == 0, repr(r)
    assert "reloaded" not in r.out and "restarting" not in r.out, r.out
    assert master_pids(cs) == pids
    assert [digest(p) for p in files] == seen


def test_files_replaced_take_effect_on_reload_without_restart(cs):
    crt, key = cs.pki.leaf("admin2")
    sessions = OpenSessions(cs, cs.pki.root_crt)
    try:
        pids = master_pids(cs)
        # The admin renews: new certificate and key at the same paths.
        site_file = os.path.join(cs.state, "site.yaml")
        with open(site_file) as f:
            text = f.read()
        m = re.search(r"certificate: (\S+)\n\s+key: (\S+)", text)
        old_crt, old_key = m.group(1), m.group(2)
        for src, dst in ((crt, old_crt), (key, old_key)):
            with open(src, "rb") as a, open(dst, "wb") as b:
                b.write(a.read())
        r = cs.run("tls", "renew")
        assert r.rc == 0, repr(r)
        assert "postfix  reloaded" in r.out and "dovecot  reloaded" in r.out, r.out
        assert master_pids(cs) == pids, "a daemon restarted instead of reloading"
        time.sleep(1)
        assert_every_port_serves(der_file(crt) + der_file(cs.pki.inter_crt), cs.pki.root_crt)
        sessions.assert_alive()
    finally:
        sessions.close()


# --- ACME ----------------------------------------------------------------------

def pebble_ca(cs):
    path = os.path.join(cs.pki_dir, "pebble-roots.pem")
    with open(path, "w") as f:
        f.write(cs.pebble.roots_pem())
    return path


def installed_chain(cs):
    return der_file(os.path.join(cs.state, "tls", "public", "fullchain.pem"))


def test_acme_up_obtains_a_certificate_every_port_presents(cs):
    t0 = time.monotonic()
    r = cs.run("up", "--site", write_site(cs, site_text(acme_tls(cs.pebble.ca_bundle))), timeout=300)
    took = time.monotonic() - t0
    assert r.rc == 0, "%r\n%s" % (r, log_tail(cs))
    m = re.search(r"acme\s+certificate for mail.example.test obtained from \S+ \(no certificate from ACME yet\) in ([\d.]+) s",
                  r.out)
    assert m, r.out
    print("\nMEASURE: `up` switching to tls.source acme took %.1f s, of which lego obtaining the certificate "
          "from pebble %s s" % (took, m.group(1)))
    chain = installed_chain(cs)
    assert len(chain) == 2, "lego's bundle: the certificate and pebble's intermediate"
    assert_every_port_serves(chain, pebble_ca(cs))
    # The ACME account and lego's state are secrets of the state dir.
    acme = os.path.join(cs.state, "secrets", "acme")
    assert os.stat(acme).st_mode & 0o777 == 0o700
    assert os.path.isdir(os.path.join(acme, "accounts"))


def test_acme_forced_renewal_keeps_sessions_and_daemons(cs):
    cafile = pebble_ca(cs)
    old = installed_chain(cs)
    sessions = OpenSessions(cs, cafile)
    try:
        # The IDLE session has left its imap process for imap-hibernate
        # (after imap_hibernate_timeout), as most sessions of a real site
        # have when a renewal comes: the reload must keep those too.
        assert wait_hibernated("alice@example.test"), "alice's IDLE session did not hibernate"
        pids = master_pids(cs)
        r = cs.run("tls", "renew", "--force", timeout=300)
        assert r.rc == 0, repr(r)
        assert "(forced)" in r.out and "postfix  reloaded" in r.out and "dovecot  reloaded" in r.out, r.out
        assert "nginx    reloaded" in r.out, r.out
        # nginx holds port 80 now: lego wrote its token where nginx serves it
        # (--http.webroot), and the CA fetched it from nginx.
        with open(os.path.join(cs.state, "log", "mail", "nginx-access.log")) as f:
            assert re.search(r'"GET /\.well-known/acme-challenge/\S+ HTTP/1\.1" 200 ', f.read())
        m = re.search(r"\(forced\) in ([\d.]+) s", r.out)
        print("\nMEASURE: a forced renewal from pebble took %s s (lego)" % m.group(1))
        new = installed_chain(cs)
        assert new[0] != old[0], "the forced renewal installed the same certificate"
        assert master_pids(cs) == pids, "a daemon restarted instead of reloading"
        # Past the 6 s after which Dovecot's master, with its default
        # shutdown_clients = yes, kills every process of the old
        # configuration (the sessions' TLS ends among them).
        time.sleep(8)
        assert_every_port_serves(new, cafile)
        sessions.assert_alive()
    finally:
        sessions.close()


def test_acme_unreachable_keeps_the_old_certificate_and_warns(cs):
    cafile = pebble_ca(cs)
    current = installed_chain(cs)
    cs.pebble.stop()
    try:
        r = cs.run("tls", "renew", "--force", timeout=300)
        assert r.rc == 1, repr(r)
        assert "ACME renewal failed" in r.err and "lego could not obtain a certificate" in r.err, repr(r)
        st = cs.run("status", "--json")
        assert st.rc == 0, repr(st)
        warnings = json.loads(st.out)["warnings"]
        assert any("ACME renewal failed" in w for w in warnings), warnings
        print("\nstatus warns: %s" % [w for w in warnings if "ACME" in w][0])
        assert_every_port_serves(current, cafile)
        # `up` must renew (a name was added) but cannot: it still comes up,
        # with a warning, the old certificate serving.
        r = cs.run("up", "--site", write_site(cs, site_text(acme_tls(cs.pebble.ca_bundle),
                                                            NAMES + ", imap.example.test")), timeout=300)
        assert r.rc == 0, "%r\n%s" % (r, log_tail(cs))
        assert "warning: ACME renewal failed" in r.err and "tls.names changed" in r.err, repr(r)
        assert installed_chain(cs) == current
        assert_every_port_serves(current, cafile)
    finally:
        cs.pebble.start()
    # Pebble keeps its accounts in memory only (Let's Encrypt does not
    # forget them): the account lego registered is gone with it.
    shutil.rmtree(os.path.join(cs.state, "secrets", "acme", "accounts"))
    # Back: the next renewal works and the warning goes.
    r = cs.run("tls", "renew", timeout=300)
    assert r.rc == 0, repr(r)
    assert "tls.names changed" in r.out, r.out
    warnings = json.loads(cs.run("status", "--json", check=True).out)["warnings"]
    assert not any("ACME" in w for w in warnings), warnings
    assert_every_port_serves(installed_chain(cs), pebble_ca(cs))
