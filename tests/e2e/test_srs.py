"""SRS for forwarded mail (issue 11) and outbound TLS (S2), on a small site
of its own that delivers to an outside domain for real.

The outside world: nsd on 127.0.0.153 serves outside.test (MX
mx.outside.test -> 127.0.0.5), and an independent Postfix configured here
in a few lines receives for outside.test on 127.0.0.5:25 (virtual(8) into
maildirs, a self-signed certificate for STARTTLS). The site's Postfix uses
the system resolver, so this module runs in a mount namespace of its own
in which /etc/resolv.conf names that nsd (undone at the end).

Outbound TLS: outside.test has neither DANE nor MTA-STS (opportunistic TLS),
sts.test an MTA-STS enforce policy only (a bad certificate keeps the mail
queued), dane.test a DNSSEC-signed TLSA record and an MTA-STS policy (DANE
takes precedence: emailng-tlspolicy answers dane)."""

import ctypes
import email
import glob
import hashlib
import os
import pwd
import grp
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time

import pytest

from conftest import (SMTP, SMTP_SSL, make_message, msgid, own_site, wait_for_message, log_tail)
from managesieve import ManageSieve
from test_sieve import _session

DNS_ADDR = "127.0.0.153"
RX_ADDR = "127.0.0.5"
TIMEOUT = 60
OUTSIDE_USERS = ("carol", "dave", "erin", "frank", "grace")
DANE_USERS = ("ivan",)

SITE = """\
site: {name: srs-e2e}
domains: [example.test]
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
tls: {names: [mail.example.test, localhost, 127.0.0.1]}
demo_users: true
filter: {enabled: false}
srs: {enabled: true}
outbound: {tls: dane}
"""

STS_ADDR = "127.0.0.6"
RESOLVER_ADDR = "127.0.0.154"   # a validating unbound of the test's own: the "internet's" resolver      # https://mta-sts.sts.test/ (the test's own HTTPS server)

# sts.test publishes an MTA-STS policy in enforce mode; its MX is the same
# outside receiver, whose certificate no public CA signed.
STS_ZONE = """$ORIGIN sts.test.
$TTL 60
@        IN SOA ns.outside.test. hostmaster.outside.test. 1 3600 600 86400 60
@        IN NS  ns.outside.test.
@        IN MX  10 mx.sts.test.
mx       IN A   {rx}
_mta-sts IN TXT "v=STSv1; id=20261207"
mta-sts  IN A   {sts}
"""

STS_POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n"
DANE_STS_POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx.dane.test\r\nmax_age: 86400\r\n"

# dane.test is DNSSEC-signed (ldns-signzone; the test's unbound has its key
# as trust anchor) and publishes a TLSA record for the receiver's key, and
# also an MTA-STS policy in enforce mode (which alone would defer its mail:
# the receiver's certificate is self-signed): DANE must take precedence.
DANE_ZONE = """$ORIGIN dane.test.
$TTL 60
@        IN SOA ns.outside.test. hostmaster.outside.test. 1 3600 600 86400 60
@        IN NS  ns.outside.test.
@        IN MX  10 mx.dane.test.
mx       IN A   {rx}
_25._tcp.mx IN TLSA 3 1 1 {spki}
_mta-sts IN TXT "v=STSv1; id=20261207"
mta-sts  IN A   {sts}
"""

ZONE = """$ORIGIN outside.test.
$TTL 60
@        IN SOA ns.outside.test. hostmaster.outside.test. 1 3600 600 86400 60
@        IN NS  ns.outside.test.
@        IN MX  10 mx.outside.test.
ns       IN A   {dns}
mx       IN A   {rx}
"""

RX_MASTER = """\
{rx}:25 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

RX_MAIN = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/lib
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
myhostname = mx.outside.test
inet_interfaces = {rx}
inet_protocols = ipv4
mynetworks =
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = outside.test, dane.test
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = regexp:{root}/mailboxes
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_relay_restrictions = reject_unauth_destination
smtpd_tls_cert_file = {root}/rx.crt
smtpd_tls_key_file = {root}/rx.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
"""

CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE, MS_BIND = 0x4000, 1 << 18, 0x1000
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


class OutsideWorld:
    """nsd for outside.test and the outside receiver (an independent Postfix)."""

    def __init__(self, root):
        self.root = root
        self.rx = os.path.join(root, "rx")
        os.makedirs(self.rx)
        os.chmod(root, 0o755)
        os.chmod(self.rx, 0o755)

    def make_receiver_cert(self):
        """The receiver's self-signed certificate; returns the SHA-256 of its
        public key (TLSA 3 1 1)."""
        key, crt = os.path.join(self.rx, "rx.key"), os.path.join(self.rx, "rx.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=mx.outside.test", "-keyout", key, "-out", crt], check=True, capture_output=True)
        spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"], check=True,
                              capture_output=True).stdout
        return hashlib.sha256(spki).hexdigest()

    def sign_dane_zone(self, spki):
        """dane.test, signed with a fresh key; returns the trust anchor file (its DNSKEY)."""
        zone = os.path.join(self.root, "dane.test.zone")
        with open(zone, "w") as f:
            f.write(DANE_ZONE.format(rx=RX_ADDR, spki=spki, sts=STS_ADDR))
        name = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test"], cwd=self.root,
                              check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run(["ldns-signzone", "-n", zone, os.path.join(self.root, name)], cwd=self.root, check=True,
                       capture_output=True)
        return os.path.join(self.root, name + ".key")

    def start_resolver(self, anchor):
        """unbound on RESOLVER_ADDR: validates with dane.test's key, asks our nsd for the test zones."""
        conf = os.path.join(self.root, "unbound.conf")
        stubs = "".join('stub-zone:\n  name: "%s"\n  stub-addr: %s\n' % (z, DNS_ADDR)
                        for z in ("outside.test", "sts.test", "dane.test"))
        with open(conf, "w") as f:
            f.write("""server:
  interface: {addr}
  port: 53
  username: ""
  chroot: ""
  directory: "{root}"
  pidfile: "{root}/unbound.pid"
  use-syslog: no
  logfile: "{root}/unbound.log"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  local-zone: "test." nodefault
  trust-anchor-file: "{anchor}"
  val-log-level: 2
{stubs}""".format(addr=RESOLVER_ADDR, root=self.root, anchor=anchor, stubs=stubs))
        r = subprocess.run(["unbound", "-c", conf], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        for _ in range(50):
            if os.path.exists(os.path.join(self.root, "unbound.pid")):
                break
            time.sleep(0.1)

    def start_dns(self):
        self.start_nsd()
        self.start_resolver(self.anchor)

    def start_nsd(self):
        with open(os.path.join(self.root, "outside.test.zone"), "w") as f:
            f.write(ZONE.format(dns=DNS_ADDR, rx=RX_ADDR))
        with open(os.path.join(self.root, "sts.test.zone"), "w") as f:
            f.write(STS_ZONE.format(rx=RX_ADDR, sts=STS_ADDR))
        conf = os.path.join(self.root, "nsd.conf")
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
  name: outside.test
  zonefile: outside.test.zone
zone:
  name: sts.test
  zonefile: sts.test.zone
zone:
  name: dane.test
  zonefile: dane.test.zone.signed
""".format(dns=DNS_ADDR, root=self.root))
        r = subprocess.run(["nsd", "-c", conf], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        for _ in range(50):
            if os.path.exists(os.path.join(self.root, "nsd.pid")):
                break
            time.sleep(0.1)

    def make_sts_ca(self):
        """A CA of the test's own and a certificate for mta-sts.sts.test; the
        site's mta-sts-daemon trusts the CA through SSL_CERT_FILE (set
        before `up`), Postfix does not (smtp_tls_CAfile is the system's)."""
        d = os.path.join(self.root, "sts")
        os.makedirs(d)
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sts test CA",
            "-keyout", d + "/ca.key", "-out", d + "/ca.crt")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mta-sts.sts.test",
            "-keyout", d + "/web.key", "-out", d + "/web.csr")
        with open(d + "/ext", "w") as f:
            f.write("subjectAltName=DNS:mta-sts.sts.test,DNS:mta-sts.dane.test\n")
        run("openssl", "x509", "-req", "-in", d + "/web.csr", "-CA", d + "/ca.crt", "-CAkey", d + "/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", d + "/ext", "-out", d + "/web.crt")
        self.sts_dir = d
        return d + "/ca.crt"

    def start_sts_web(self):
        """https://mta-sts.sts.test/ and https://mta-sts.dane.test/.well-known/mta-sts.txt on STS_ADDR:443."""
        import http.server
        import ssl
        import threading

        class Policy(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                policy = DANE_STS_POLICY if self.headers.get("Host", "").startswith("mta-sts.dane.test") \
                    else STS_POLICY
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(policy)))
                self.end_headers()
                self.wfile.write(policy)

            def log_message(self, *args):
                pass

        self.web = http.server.HTTPServer((STS_ADDR, 443), Policy)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.sts_dir + "/web.crt", self.sts_dir + "/web.key")
        self.web.socket = ctx.wrap_socket(self.web.socket, server_side=True)
        threading.Thread(target=self.web.serve_forever, daemon=True).start()

    def start_receiver(self):
        nobody = pwd.getpwnam("nobody")
        mail = os.path.join(self.rx, "mail")
        os.makedirs(mail)
        os.makedirs(os.path.join(self.rx, "queue"))
        os.chown(mail, nobody.pw_uid, nobody.pw_gid)
        with open(os.path.join(self.rx, "mailboxes"), "w") as f:
            # virtual(8) allows no $1 substitution: one line per mailbox.
            for user in OUTSIDE_USERS:
                f.write("/^%s@outside\\.test$/ outside.test/%s/\n" % (user, user))
            for user in DANE_USERS:
                f.write("/^%s@dane\\.test$/ outside.test/%s/\n" % (user, user))
        with open(os.path.join(self.rx, "main.cf"), "w") as f:
            f.write(RX_MAIN.format(root=self.rx, rx=RX_ADDR, uid=nobody.pw_uid, gid=nobody.pw_gid))
        with open(os.path.join(self.rx, "master.cf"), "w") as f:
            f.write(RX_MASTER.format(rx=RX_ADDR))
        # Postfix listens only on an address of an interface (this netns's lo).
        subprocess.run(["ip", "addr", "add", RX_ADDR + "/32", "dev", "lo"], check=True, capture_output=True)
        r = subprocess.run(["postfix", "-c", self.rx, "start"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr

    def stop(self):
        if getattr(self, "web", None):
            self.web.shutdown()
            self.web.server_close()
        subprocess.run(["postfix", "-c", self.rx, "stop"], capture_output=True)
        for pidfile in ("nsd.pid", "unbound.pid"):
            try:
                with open(os.path.join(self.root, pidfile)) as f:
                    os.kill(int(f.read()), signal.SIGTERM)
            except (OSError, ValueError):
                pass

    def log(self):
        try:
            with open(os.path.join(self.rx, "postfix.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def messages(self, user):
        """The messages in user@outside.test's maildir, as email.message objects."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.rx, "mail", "outside.test", user, "new", "*"))):
            with open(path, "rb") as f:
                out.append(email.message_from_bytes(f.read()))
        return out

    def wait(self, user, mid, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [m for m in self.messages(user) if m["Message-ID"] == mid]
            if found:
                return found
            time.sleep(0.5)
        return []


@pytest.fixture(scope="module")
def world():
    for prog in ("nsd", "postfix", "openssl"):
        assert shutil.which(prog), "%s is not installed: run scripts/install-deps.sh" % prog
    parent = os.environ.get("EMAILNG_E2E_TMP", tempfile.gettempdir())
    root = tempfile.mkdtemp(prefix="emailng-e2e-outside-", dir=parent)
    resolv = os.path.join(root, "resolv.conf")
    with open(resolv, "w") as f:
        # A validating resolver on this host: its AD bit is trusted (DANE).
        f.write("nameserver %s\noptions timeout:1 attempts:2 trust-ad\n" % RESOLVER_ADDR)
    # Our own mount namespace: the site's daemons (children of `up`) see
    # this resolv.conf; the machine's is untouched.
    orig_mnt = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    _check(_libc.mount(resolv.encode(), b"/etc/resolv.conf", None, MS_BIND, None), "bind resolv.conf")
    w = OutsideWorld(root)
    w.anchor = w.sign_dane_zone(w.make_receiver_cert())
    saved_cert_file = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = w.make_sts_ca()
    try:
        with own_site("srs", SITE) as s:
            if saved_cert_file is None:
                del os.environ["SSL_CERT_FILE"]
            else:
                os.environ["SSL_CERT_FILE"] = saved_cert_file
            try:       # stop() also after a failed start: no daemon left behind
                w.start_dns()
                w.start_sts_web()
                w.start_receiver()
                yield s, w
            finally:
                w.stop()
    finally:
        if saved_cert_file is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved_cert_file
        _check(_libc.setns(orig_mnt, CLONE_NEWNS), "setns back to the original mount namespace")
        os.close(orig_mnt)
        if not os.environ.get("EMAILNG_E2E_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


SRS_RE = re.compile(r"^SRS0=[^=]+=[^=]+=outside\.test=carol@example\.test$", re.I)


def _return_path(m):
    return (m["Return-Path"] or "").strip().strip("<>")


def _tlspolicy_line(site, domain, timeout=10):
    """emailng-tlspolicy's log line for its answer about domain (the first
    one, not from its cache), or None."""
    path = os.path.join(site.state, "log", "mail", "tlspolicy.log")
    deadline = time.time() + timeout
    while True:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if ' domain="%s" ' % domain in line and ' cached="no"' in line:
                        return line
        except OSError:
            pass
        if time.time() > deadline:
            return None
        time.sleep(0.3)


def _tlspolicy_log(site):
    try:
        with open(os.path.join(site.state, "log", "mail", "tlspolicy.log"), errors="replace") as f:
            return f.read()[-3000:]
    except OSError as e:
        return str(e)


def _socketmap(path, key):
    """One socketmap question (netstring "postfix KEY"), its answer."""
    import socket
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(20)
        c.connect(path)
        q = ("postfix " + key).encode()
        c.sendall(b"%d:%s," % (len(q), q))
        data = b""
        while not data.endswith(b",") or len(data) < 2:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    length, _, rest = data.partition(b":")
    return rest[:int(length)].decode()


def _send(sender, rcpts, message, port=25):
    with SMTP(port) as c:
        c.ehlo("client.e2e.test")
        refused = c.sendmail(sender, rcpts, message)
        assert not refused, refused


def _alias_to_outside(site):
    alias = "%s@example.test" % site.unique("fwd")
    site.run("alias", "add", alias, "dave@outside.test", check=True)
    return alias


def test_alias_to_outside_member_gets_srs_sender(world):
    """An alias with an outside member: the outside MTA sees the envelope sender SRS0=...@example.test."""
    site, w = world
    alias = _alias_to_outside(site)
    mid = msgid()
    message, _ = make_message("carol@outside.test", alias, mid)
    _send("carol@outside.test", [alias], message)
    got = w.wait("dave", mid)
    assert got, "not delivered to dave@outside.test\n%s\n%s" % (w.log()[-3000:], log_tail(site))
    assert SRS_RE.match(_return_path(got[0])), _return_path(got[0])
    assert got[0]["From"] == "<carol@outside.test>", got[0]["From"]   # the header is not rewritten


def test_sieve_redirect_to_outside_gets_srs_sender(world):
    """A Sieve redirect to an outside address: the outside MTA sees an SRS0=...@example.test sender."""
    site, w = world
    user, pw = site.new_user(prefix="redir")
    ms = _session(site, user, pw)
    try:
        assert ms.putscript("fwd", 'redirect "erin@outside.test";\n').status == "OK"
        assert ms.setactive("fwd").status == "OK"
    finally:
        ms.logout()
    mid = msgid()
    message, _ = make_message("carol@outside.test", user, mid)
    _send("carol@outside.test", [user], message)
    got = w.wait("erin", mid)
    assert got, "not redirected to erin@outside.test\n%s\n%s" % (w.log()[-3000:], log_tail(site))
    assert SRS_RE.match(_return_path(got[0])), _return_path(got[0])


def test_bounce_to_srs_address_reaches_original_sender(world):
    """A bounce (null sender) from outside to the SRS address is reversed and reaches carol@outside.test once."""
    site, w = world
    alias = _alias_to_outside(site)
    mid = msgid()
    message, _ = make_message("carol@outside.test", alias, mid)
    _send("carol@outside.test", [alias], message)
    got = w.wait("dave", mid)
    assert got, w.log()[-3000:]
    srs = _return_path(got[0])
    bounce_id = msgid()
    bounce, _ = make_message("MAILER-DAEMON@mx.outside.test", srs, bounce_id, subject="Undelivered Mail Returned to Sender")
    _send("", [srs], bounce)
    back = w.wait("carol", bounce_id)
    assert len(back) == 1, "bounce to %s did not reach carol@outside.test\n%s\n%s" % (
        srs, w.log()[-3000:], log_tail(site))
    assert _return_path(back[0]) == "", _return_path(back[0])


def test_forged_srs_address_refused_at_rcpt(world):
    """A forged SRS0 address of ours (wrong hash) is refused at RCPT TO with 550 5.1.1, not bounced later."""
    with SMTP(25) as c:
        c.ehlo("client.e2e.test")
        assert c.mail("")[0] == 250
        code, text = c.rcpt("SRS0=AAAA=ZZ=outside.test=carol@example.test")
        assert code == 550 and b"5.1.1" in text, (code, text)


def test_inbound_mail_keeps_its_return_path(world):
    """Inbound mail from outside to bob keeps its original envelope sender (Return-Path), no SRS."""
    site, _ = world
    mid = msgid()
    message, _ = make_message("carol@outside.test", "bob@example.test", mid)
    _send("carol@outside.test", ["bob@example.test"], message)
    raw = wait_for_message(site, "bob@example.test", mid)
    headers = email.message_from_bytes(raw)
    assert _return_path(headers) == "carol@outside.test", headers["Return-Path"]


def test_mail_alice_sends_is_not_rewritten(world):
    """alice@example.test sends to an outside address through submission: the envelope sender stays hers."""
    site, w = world
    mid = msgid()
    message, _ = make_message("alice@example.test", "frank@outside.test", mid)
    with SMTP_SSL(site) as c:
        c.login("alice@example.test", site.passwords["alice@example.test"])
        c.sendmail("alice@example.test", ["frank@outside.test"], message)
    got = w.wait("frank", mid)
    assert got, w.log()[-3000:]
    assert _return_path(got[0]) == "alice@example.test", _return_path(got[0])


def test_outbound_delivery_uses_tls(world):
    """S2: the site's Postfix delivered to the outside MX over STARTTLS (its log says a TLS connection was established to it)."""
    site, w = world
    mid = msgid()
    message, _ = make_message("alice@example.test", "grace@outside.test", mid)
    with SMTP_SSL(site) as c:
        c.login("alice@example.test", site.passwords["alice@example.test"])
        c.sendmail("alice@example.test", ["grace@outside.test"], message)
    assert w.wait("grace", mid), w.log()[-3000:]
    with open(os.path.join(site.state, "log", "mail", "postfix.log"), errors="replace") as f:
        log = f.read()
    assert re.search(r"postfix/smtp\[\d+\]: (Untrusted|Trusted|Verified|Anonymous) TLS connection established "
                     r"to mx\.outside\.test\[127\.0\.0\.5\]:25", log), log[-3000:]
    # neither DANE (unsigned) nor MTA-STS: emailng-tlspolicy passed on NOTFOUND (opportunistic TLS)
    line = _tlspolicy_line(site, "outside.test")
    assert line and ' policy="none" ' in line and ' answer="NOTFOUND' in line, _tlspolicy_log(site)


def test_mta_sts_enforce_policy_is_honoured(world):
    """S2: sts.test publishes an MTA-STS policy in enforce mode; its MX's certificate is not publicly
    trusted, so the site's Postfix (asking mta-sts-daemon) defers the message instead of delivering it."""
    site, w = world
    mid = msgid()
    message, _ = make_message("alice@example.test", "henry@sts.test", mid)
    with SMTP_SSL(site) as c:
        c.login("alice@example.test", site.passwords["alice@example.test"])
        c.sendmail("alice@example.test", ["henry@sts.test"], message)
    path = os.path.join(site.state, "log", "mail", "postfix.log")
    deadline = time.time() + TIMEOUT
    found = None
    while time.time() < deadline and not found:
        with open(path, errors="replace") as f:
            found = re.search(r"to=<henry@sts\.test>, relay=mx\.sts\.test\[127\.0\.0\.5\]:25, .*status=deferred "
                              r"\(Server certificate not verified\)", f.read())
        time.sleep(0.5)
    with open(path, errors="replace") as f:
        log = f.read()
    assert found, log[-4000:]
    assert "henry" not in w.log(), w.log()[-3000:]
    # not DANE (sts.test is unsigned): emailng-tlspolicy passed on mta-sts-daemon's policy
    line = _tlspolicy_line(site, "sts.test")
    assert line and ' policy="mta-sts" ' in line and ' answer="OK secure match=mx.sts.test' in line, \
        _tlspolicy_log(site)


def test_dane_takes_precedence_over_mta_sts(world):
    """S2: dane.test publishes a DNSSEC-signed TLSA record for its MX's key AND an MTA-STS enforce policy
    (which the self-signed certificate would fail); DANE takes precedence: emailng-tlspolicy answers dane,
    and the site's Postfix verifies the key ("Verified TLS connection established") and delivers."""
    site, w = world
    # the MTA-STS policy is really there: mta-sts-daemon itself would demand WebPKI names
    answer = _socketmap(os.path.join(site.state, "run", "mail", "mta-sts", "socket"), "dane.test")
    assert answer.startswith("OK secure match=mx.dane.test"), answer
    mid = msgid()
    message, _ = make_message("alice@example.test", "ivan@dane.test", mid)
    with SMTP_SSL(site) as c:
        c.login("alice@example.test", site.passwords["alice@example.test"])
        c.sendmail("alice@example.test", ["ivan@dane.test"], message)
    assert w.wait("ivan", mid), w.log()[-3000:]
    with open(os.path.join(site.state, "log", "mail", "postfix.log"), errors="replace") as f:
        log = f.read()
    assert re.search(r"postfix/smtp\[\d+\]: Verified TLS connection established to mx\.dane\.test\[127\.0\.0\.5\]:25",
                     log), log[-3000:]
    line = _tlspolicy_line(site, "dane.test")
    assert line and ' policy="dane" ' in line and ' answer="OK dane" ' in line, _tlspolicy_log(site)

