"""The world of the internet tests and benchmarks (issue 11): EmailNG
running a domain that the rest of the world sees through DNS, and an
outside world it does not configure.

The fixture makes its own test fabric with scripts/fabric.sh (docs/fabric.md):

| namespace | address       | what runs there                                         |
|-----------|---------------|---------------------------------------------------------|
| mail      | 198.18.0.10   | EmailNG's small site, `emailng up --site F --host mail`, as a real host runs it |
| inet      | 198.18.0.54   | the internet's DNS (nsd): outside.test, the DMARC test domains, the reverse zone, and example.test as published from `emailng dns` |
| outside   | 198.18.0.200  | mx.outside.test: an independent Postfix + OpenDKIM (verify) + OpenDMARC + policyd-spf |
| client    | 198.18.0.100  | the pytest process: a mail client (and a sender) on the internet |

Every namespace's resolv.conf names 198.18.0.54. The site file is
tests/e2e_internet/site.yaml; the relay's ClamAV reads a signature database
built here with sigtool, as in the other suites.

start_world() makes all of it and yields a World; tests/e2e_internet/conftest.py
and bench/outbound/run.py use it. Environment: EMAILNG (binary),
EMAILNG_DATADIR (templates), EMAILNG_E2E_KEEP=1 (keep the state directory).
"""

import contextlib
import ctypes
import email
import email.policy
import imaplib
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import outside  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
DATADIR = os.environ.get("EMAILNG_DATADIR", REPO)
FABRIC = os.path.join(REPO, "scripts", "fabric.sh")

DOMAIN = "example.test"
PUBLIC_NAME = "mail.example.test"
ADDRESSES = {"mail": "198.18.0.10", "inet": "198.18.0.54", "outside": "198.18.0.200",
             "client": "198.18.0.100"}
MAIL = ADDRESSES["mail"]
CLONE_NEWNET = 0x40000000

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

# The outside domains and what they publish. client.test is a sender on the
# internet at the client's address; reject.test and quarantine.test are
# domains with strict DMARC policies whose mail only their own MX sends.
OUTSIDE_ZONES = {
    "outside.test": [
        "@ IN MX 10 mx.outside.test.",
        "ns IN A 198.18.0.54",
        "mx IN A 198.18.0.200",
        '@ IN TXT "v=spf1 ip4:198.18.0.200 -all"',
        '_dmarc IN TXT "v=DMARC1; p=reject"',
    ],
    "client.test": [
        '@ IN TXT "v=spf1 ip4:198.18.0.100 -all"',
        '_dmarc IN TXT "v=DMARC1; p=none"',
    ],
    "reject.test": [
        "@ IN MX 10 mx.outside.test.",
        '@ IN TXT "v=spf1 ip4:198.18.0.200 -all"',
        '_dmarc IN TXT "v=DMARC1; p=reject"',
    ],
    "quarantine.test": [
        "@ IN MX 10 mx.outside.test.",
        '@ IN TXT "v=spf1 ip4:198.18.0.200 -all"',
        '_dmarc IN TXT "v=DMARC1; p=quarantine"',
    ],
    # Reverse names of the public addresses, as their owners set them.
    "0.18.198.in-addr.arpa": [
        "10 IN PTR mail.example.test.",
        "200 IN PTR mx.outside.test.",
        "100 IN PTR client.client.test.",
    ],
}

SITE = """\
# The internet tests' site (tests/e2e_internet/conftest.py): the small
# site's profile on one host with a public address in the test fabric.
site:
  name: internet
domains: [example.test]
hosts:
  - name: mail
    address: 198.18.0.10
    roles: [relay, proxy, store, directory]
    store_pair: pair1
tls:
  names: [mail.example.test]
demo_users: true
filter:
  enabled: true
  signatures: {signatures}
"""

_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


def build_signatures(folder):
    """A ClamAV database made with sigtool (EICAR): there is no download here."""
    os.mkdir(folder)
    hexed = subprocess.run(["sigtool", "--hex-dump"], input=EICAR, capture_output=True, check=True).stdout
    with open(os.path.join(folder, "emailng-e2e-internet.ndb"), "w") as f:
        f.write("EmailNG.E2E.EICAR:0:*:%s\n" % hexed.decode().strip())
    os.chmod(folder, 0o755)


class World:
    """The running fabric: EmailNG's host, the DNS, the outside MTA."""

    def __init__(self, state, prefix):
        self.state = state
        self.prefix = prefix
        self.ca = os.path.join(state, "tls", "ca.crt")
        self.dns = outside.InternetDNS(os.path.join(state, "world", "dns"), self.ns("inet"), ADDRESSES["inet"])
        self.mta = outside.OutsideMTA(os.path.join(state, "world", "outside"), self.ns("outside"),
                                      ADDRESSES["outside"], ADDRESSES["inet"])
        self.passwords = {}

    def ns(self, host):
        return "%s-%s" % (self.prefix, host)

    def emailng(self, *args, input=None, check=True, timeout=300):
        """emailng on the mail host (inside its namespace), as its admin runs it."""
        cp = subprocess.run(["ip", "netns", "exec", self.ns("mail"), EMAILNG, "--state", self.state, *args],
                            input=input, capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        if check and cp.returncode != 0:
            raise AssertionError("emailng %s failed (%d):\n%s%s" % (" ".join(args), cp.returncode,
                                                                   cp.stdout, cp.stderr))
        return cp

    def load_passwords(self):
        with open(os.path.join(self.state, "secrets", "demo-passwords")) as f:
            for line in f:
                address, password = line.split()
                self.passwords[address] = password

    def publish_site_dns(self):
        """What an administrator does: publish `emailng dns` in the zone."""
        text = self.emailng("dns", "--domain", DOMAIN).stdout
        self.dns.set_zone(DOMAIN, outside.zone_lines_from_emailng_dns(text))
        self.dns.publish()
        return text

    def log(self, name):
        with open(os.path.join(self.state, "log", "mail", name), errors="replace") as f:
            return f.read()

    def maillog(self):
        for name in ("postfix.log", "mail.log", "maillog"):
            path = os.path.join(self.state, "log", "mail", name)
            if os.path.exists(path):
                return self.log(name)
        return ""

    # --- clients, from the client namespace -------------------------------

    def tls_context(self):
        return ssl.create_default_context(cafile=self.ca)

    def submit(self, user, rcpts, message, sender=None):
        """Submission on 587 (STARTTLS, AUTH) as USER@example.test."""
        address = "%s@%s" % (user, DOMAIN)
        with PublicNameSMTP(MAIL, 587, local_hostname="client.client.test", timeout=60) as s:
            s.starttls(context=self.tls_context())
            s.login(address, self.passwords[address])
            return s.sendmail(sender or address, rcpts, message)


    def imap(self, user):
        """IMAPS on 993 as USER@example.test, logged in."""
        m = PublicNameIMAP(MAIL, 993, ssl_context=self.tls_context(), timeout=60)
        address = "%s@%s" % (user, DOMAIN)
        m.login(address, self.passwords[address])
        return m

    def mailbox_messages(self, user, message_id, mailbox="INBOX"):
        """The messages with MESSAGE_ID in USER's MAILBOX, parsed."""
        m = self.imap(user)
        try:
            typ, _ = m.select('"%s"' % mailbox, readonly=True)
            if typ != "OK":
                return []
            typ, data = m.uid("SEARCH", "HEADER", "Message-ID", '"%s"' % message_id)
            assert typ == "OK", data
            out = []
            for uid in (data[0].split() if data and data[0] else []):
                typ, got = m.uid("FETCH", uid, "(BODY.PEEK[])")
                assert typ == "OK", got
                out.append(email.message_from_bytes(got[0][1], policy=email.policy.compat32))
            return out
        finally:
            m.logout()

    def wait_in_mailbox(self, user, message_id, mailbox="INBOX", timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            found = self.mailbox_messages(user, message_id, mailbox)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError("%s not in %s's %s after %d s; mail log tail:\n%s"
                                     % (message_id, user, mailbox, timeout, self.maillog()[-3000:]))
            time.sleep(0.5)

    def send_mx(self, sender, rcpts, message):
        """An internet client (198.18.0.100) hands MESSAGE to our MX (port 25)."""
        with smtplib.SMTP(MAIL, 25, local_hostname="client.client.test", timeout=60) as s:
            return s.sendmail(sender, rcpts, message)

    def outside_sends(self, sender, rcpts, message):
        """mx.outside.test sends MESSAGE (its own sendmail, its own queue)."""
        cp = subprocess.run(["ip", "netns", "exec", self.ns("outside"), "/usr/sbin/sendmail", "-f", sender, *rcpts],
                            input=message, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, MAIL_CONFIG=self.mta.etc))
        assert cp.returncode == 0, "outside sendmail: %s%s" % (cp.stdout, cp.stderr)


class PublicNameIMAP(imaplib.IMAP4_SSL):
    """IMAPS to an address whose certificate is checked for the public name."""

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=PUBLIC_NAME)


class PublicNameSMTP(smtplib.SMTP):
    """SMTP to an address whose certificate is checked for the public name,
    as a client configured with mail.example.test does."""

    def connect(self, host="localhost", port=0, source_address=None):
        reply = super().connect(host, port, source_address)
        self._host = PUBLIC_NAME
        return reply


def make_message(sender, to, subject="internet test", body="Hello from the internet tests.\n",
                 extra_headers=(), message_id=None):
    mid = message_id or "<%s@e2e.internet.test>" % uuid.uuid4().hex
    lines = ["From: %s" % sender, "To: %s" % to, "Subject: %s" % subject, "Message-ID: %s" % mid,
             "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())]
    lines += list(extra_headers)
    return mid, "\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")


@contextlib.contextmanager
def start_world(site_extra="", enter_client=True):
    """The fabric, the outside world and EmailNG's host; site_extra is
    appended to the site file. With enter_client, the calling thread's
    network namespace is the client's until the end."""
    assert os.geteuid() == 0, "the internet world needs root (it creates network namespaces)"
    assert os.access(EMAILNG, os.X_OK), "emailng binary not found: %s (set EMAILNG)" % EMAILNG
    state = tempfile.mkdtemp(prefix="emailng-internet-")
    os.chmod(state, 0o755)
    prefix = "ei%d" % (os.getpid() % 100000)
    hosts = ["%s=%s" % kv for kv in ADDRESSES.items()]
    cp = subprocess.run(["sh", FABRIC, "up", prefix, "--dns", ADDRESSES["inet"], *hosts],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, "fabric.sh up: %s%s" % (cp.stdout, cp.stderr)
    w = World(state, prefix)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    up = False
    try:
        build_signatures(os.path.join(state, "signatures"))
        w.site_file = os.path.join(state, "internet-site.yaml")
        with open(w.site_file, "w") as f:
            f.write(SITE.format(signatures=os.path.join(state, "signatures")) + site_extra)
        # The outside world first: the DNS (outside zones; the site's own
        # records once `up` has made its keys), then the outside MTA.
        for zone, records in OUTSIDE_ZONES.items():
            w.dns.set_zone(zone, records)
        w.dns.publish()
        w.mta.start()
        up = True
        w.emailng("up", "--site", w.site_file, timeout=600)
        w.load_passwords()
        w.publish_site_dns()
        if enter_client:
            client = os.open("/run/netns/%s" % w.ns("client"), os.O_RDONLY)
            setns(client)
            os.close(client)
        yield w
    finally:
        setns(own)
        os.close(own)
        if up:
            cp = w.emailng("down", check=False, timeout=180)
            if cp.returncode != 0:
                print("emailng down failed: %s%s" % (cp.stdout, cp.stderr))
        w.mta.stop()
        w.dns.stop()
        subprocess.run(["sh", FABRIC, "down", prefix], capture_output=True, text=True, timeout=120)
        if os.environ.get("EMAILNG_E2E_KEEP"):
            print("internet state kept in %s" % state)
        else:
            shutil.rmtree(state, ignore_errors=True)
