"""End-to-end test fixtures for EmailNG.

The whole suite runs against ONE instance of the small site, started with
`emailng up --state DIR` inside a private network namespace, so that its
daemons (ports 25, 587, 465, 143, 993, 110, 995, 4190 on 127.0.0.1) never
collide with a demo running on the host's own loopback.

The pytest process itself enters the namespace (setns(2) on the main thread,
before any test socket is created): the `emailng` subprocesses, the daemons
they start and the test clients (smtplib, imaplib, poplib, raw sockets) all
live in it. At the end of the session `emailng down` runs, the process
returns to its original namespace and the namespace is deleted.

Environment:
  EMAILNG          the binary (default: <repo>/build/emailng)
  EMAILNG_DATADIR  templates/ and schema/ (default: <repo>)
  EMAILNG_E2E_KEEP=1  keep the state directory after the run (for debugging)
"""

import contextlib
import ctypes
import imaplib
import itertools
import json
import poplib
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

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
DATADIR = os.environ.get("EMAILNG_DATADIR", REPO)

HOST = "127.0.0.1"              # where the site's services listen (host_address)
TLS_NAME = "mail.example.test"  # the name clients use and certificates are verified for
# Test clients connect from another loopback address: Dovecot treats a client
# whose IP equals the server's as "secured" and would allow plaintext logins,
# which would hide the "no authentication before TLS" behaviour (C1, X3).
CLIENT_ADDR = "127.0.0.2"
DOMAIN = "example.test"
PORTS = dict(smtp=25, submission=587, submissions=465, imap=143, imaps=993,
             pop3=110, pop3s=995, managesieve=4190)

CLONE_NEWNET = 0x40000000
DELIVERY_TIMEOUT = 20.0

# The site file of the contract (only the keys the contract names).
GOOD_SITE = """\
site: {name: small-site}
domains: [example.test]
directory: {base: "dc=example,dc=test"}
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
tls: {names: [mail.example.test, localhost, 127.0.0.1]}
quota: {default: 1G, grace: 10%}
limits: {message_size: 25M}
demo_users: true
"""

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


def _ip(*args):
    cp = subprocess.run(["ip", *args], capture_output=True, text=True)
    if cp.returncode != 0:
        raise RuntimeError("ip %s failed (the e2e suite needs root for its network namespace): %s"
                           % (" ".join(args), cp.stderr.strip()))


class NetNS:
    """A private network namespace with lo up, entered by this process."""

    def __init__(self, name):
        self.name = name
        self.orig_fd = None

    def __enter__(self):
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            self.orig_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
            fd = os.open("/var/run/netns/" + self.name, os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
        except BaseException:
            self._cleanup()
            raise
        return self

    def _cleanup(self):
        if self.orig_fd is not None:
            _setns(self.orig_fd)
            os.close(self.orig_fd)
            self.orig_fd = None
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def __exit__(self, *exc):
        self._cleanup()
        return False


class Result:
    def __init__(self, argv, cp):
        self.argv = argv
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr

    def __repr__(self):
        return "emailng %s -> rc=%s\n--stdout--\n%s--stderr--\n%s" % (
            " ".join(self.argv), self.rc, self.out, self.err)


class Site:
    """The running instance: state dir, CA, demo passwords, helpers."""

    def __init__(self, state):
        self.state = state
        self.ca = os.path.join(state, "tls", "ca.crt")
        self.passwords = {}
        self._n = itertools.count(1)

    # --- the CLI ---------------------------------------------------------
    def run(self, *args, stdin=None, state=True, timeout=120, check=False):
        """Run `emailng ARGS [--state DIR]`; stdin (str) feeds --password-stdin.

        Output goes through temporary files, not pipes, so that a daemon which
        inherits the tool's stdout cannot keep the harness waiting for EOF
        (test_zz_persistence checks the pipe case on its own)."""
        argv = list(args)
        if state:
            argv += ["--state", self.state]
        env = dict(os.environ, EMAILNG_DATADIR=DATADIR)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen([EMAILNG, *argv], stdin=subprocess.PIPE, stdout=out, stderr=err,
                                 env=env)
            try:
                p.communicate((stdin or "").encode(), timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                out.seek(0)
                err.seek(0)
                raise AssertionError("emailng %s timed out after %ss\n--stdout--\n%s--stderr--\n%s" % (
                    " ".join(argv), timeout, out.read().decode(errors="replace"),
                    err.read().decode(errors="replace")))
            out.seek(0)
            err.seek(0)
            cp = subprocess.CompletedProcess(argv, p.returncode, out.read().decode(errors="replace"),
                                             err.read().decode(errors="replace"))
        r = Result(argv, cp)
        if check:
            assert r.rc == 0, repr(r)
        return r

    def load_passwords(self):
        path = os.path.join(self.state, "secrets", "demo-passwords")
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    self.passwords[parts[0]] = parts[1]

    def status(self):
        r = self.run("status", "--json", check=True)
        return json.loads(r.out)

    def services(self):
        """{name: service dict} for host `mail`."""
        st = self.status()
        host = [h for h in st["hosts"] if h["name"] == "mail"][0]
        return {s["name"]: s for s in host["services"]}

    # --- users -------------------------------------------------------------
    def unique(self, prefix="t"):
        return "%s%d-%s" % (prefix, next(self._n), uuid.uuid4().hex[:8])

    def new_user(self, quota=None, prefix="u"):
        """Create a fresh user with `user add --password-stdin`; returns (address, password)."""
        addr = "%s@%s" % (self.unique(prefix), DOMAIN)
        password = "Pw-" + uuid.uuid4().hex
        args = ["user", "add", addr, "--password-stdin"]
        if quota:
            args += ["--quota", quota]
        self.run(*args, stdin=password + "\n", check=True)
        self.passwords[addr] = password
        return addr, password


# --- clients: connect to HOST from CLIENT_ADDR, verify TLS for TLS_NAME ------------
# Each client is given the host name TLS_NAME (so STARTTLS / implicit TLS check the
# certificate for mail.example.test) but its socket goes to HOST, from CLIENT_ADDR.

def connect(port, timeout=30):
    return socket.create_connection((HOST, port), timeout, source_address=(CLIENT_ADDR, 0))


class SMTP(smtplib.SMTP):
    def __init__(self, port=25, timeout=30, **kw):
        super().__init__(TLS_NAME, port, timeout=timeout, **kw)

    def _get_socket(self, host, port, timeout):
        return connect(port, timeout)


class SMTP_SSL(smtplib.SMTP_SSL):
    def __init__(self, site, port=465, timeout=30):
        super().__init__(TLS_NAME, port, timeout=timeout, context=tls_context(site))

    def _get_socket(self, host, port, timeout):
        return self.context.wrap_socket(connect(port, timeout), server_hostname=self._host)


class IMAP4(imaplib.IMAP4):
    def __init__(self, port=143, timeout=30):
        super().__init__(TLS_NAME, port, timeout=timeout)

    def _create_socket(self, timeout):
        return connect(self.port, timeout)


class IMAP4_SSL(imaplib.IMAP4_SSL):
    def __init__(self, site, port=993, timeout=30):
        super().__init__(TLS_NAME, port, ssl_context=tls_context(site), timeout=timeout)

    def _create_socket(self, timeout):
        return self.ssl_context.wrap_socket(connect(self.port, timeout), server_hostname=self.host)


class POP3(poplib.POP3):
    def __init__(self, port=110, timeout=30):
        super().__init__(TLS_NAME, port, timeout=timeout)

    def _create_socket(self, timeout):
        return connect(self.port, timeout)


class POP3_SSL(poplib.POP3_SSL):
    def __init__(self, site, port=995, timeout=30):
        super().__init__(TLS_NAME, port, context=tls_context(site), timeout=timeout)

    def _create_socket(self, timeout):
        return self.context.wrap_socket(connect(self.port, timeout), server_hostname=self.host)


# --- TLS and message helpers ---------------------------------------------------

def tls_context(site):
    """Trusts only the site's CA and verifies the name mail.example.test."""
    ctx = ssl.create_default_context(cafile=site.ca)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def msgid():
    return "<%s@e2e.example.test>" % uuid.uuid4().hex


def make_message(sender, to, mid, subject="e2e test", body=None, extra_headers=()):
    """A CRLF message as bytes; returns (message, body)."""
    if body is None:
        body = (b"Hello from the EmailNG end-to-end suite.\r\n"
                b".a line that starts with a dot (dot-stuffing)\r\n"
                b"trailing spaces   \r\n"
                b"\r\n"
                b"tabs\tand = signs; 8bit-free text " + mid.encode() + b"\r\n"
                + b"x" * 900 + b"\r\n")
    hdrs = [
        "From: <%s>" % sender,
        "To: <%s>" % to,
        "Subject: %s" % subject,
        "Message-ID: %s" % mid,
        "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        *extra_headers,
    ]
    return ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body, body


def split_message(raw):
    """(headers, body) of a CRLF message."""
    i = raw.find(b"\r\n\r\n")
    assert i >= 0, "no header/body separator in %r" % raw[:200]
    return raw[:i + 2], raw[i + 4:]


def smtp_send(sender, rcpts, message, port=25):
    """Unauthenticated SMTP on port 25 (no TLS needed for local delivery)."""
    with SMTP(port) as s:
        s.ehlo("client.e2e.test")
        refused = s.sendmail(sender, rcpts, message)
        assert not refused, refused


def imap_connect(site, user, password, port=993):
    if port == 993:
        m = IMAP4_SSL(site, port)
    else:
        m = IMAP4(port)
        m.starttls(ssl_context=tls_context(site))
    m.login(user, password)
    return m


def imap_find(m, mid, mailbox="INBOX"):
    """UIDs of messages whose Message-ID is mid in mailbox."""
    typ, _ = m.select('"%s"' % mailbox)
    if typ != "OK":
        return []
    typ, data = m.uid("SEARCH", "HEADER", "Message-ID", '"%s"' % mid)
    assert typ == "OK", data
    return data[0].split() if data and data[0] else []


def imap_fetch(m, uid):
    typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
    assert typ == "OK", data
    for part in data:
        if isinstance(part, tuple):
            return part[1]
    raise AssertionError("no body in FETCH response %r" % data)


def wait_for_message(site, user, mid, mailbox="INBOX", timeout=DELIVERY_TIMEOUT, password=None):
    """Poll over IMAPS until a message with Message-ID mid is in mailbox; returns its bytes."""
    password = password or site.passwords[user]
    deadline = time.monotonic() + timeout
    m = imap_connect(site, user, password)
    try:
        while True:
            uids = imap_find(m, mid, mailbox)
            if uids:
                return imap_fetch(m, uids[-1])
            if time.monotonic() > deadline:
                raise AssertionError("message %s not in %s/%s after %.0fs; log tail:\n%s" % (
                    mid, user, mailbox, timeout, log_tail(site)))
            time.sleep(0.3)
    finally:
        try:
            m.logout()
        except Exception:
            pass


def assert_not_delivered(site, user, mid, mailbox="INBOX", wait=5.0, password=None):
    """Wait `wait` seconds, then assert no message with mid is in mailbox."""
    time.sleep(wait)
    m = imap_connect(site, user, password or site.passwords[user])
    try:
        assert imap_find(m, mid, mailbox) == [], "%s unexpectedly delivered to %s" % (mid, user)
    finally:
        m.logout()


def imap_storage(site, user, password):
    """(used KiB, limit KiB) from GETQUOTAROOT INBOX."""
    m = imap_connect(site, user, password)
    try:
        typ, data = m.getquotaroot("INBOX")
        assert typ == "OK", data
        text = b" ".join(x for part in data for x in (part if isinstance(part, list) else [part])
                         if isinstance(x, bytes)).decode()
        found = re.search(r"STORAGE (\d+) (\d+)", text)
        assert found, "no STORAGE in GETQUOTAROOT answer %r" % data
        return int(found.group(1)), int(found.group(2))
    finally:
        m.logout()


def log_tail(site, n=40):
    out = []
    logdir = os.path.join(site.state, "log", "mail")
    for name in ("postfix.log", "dovecot.log", "slapd.log"):
        p = os.path.join(logdir, name)
        try:
            with open(p, errors="replace") as f:
                lines = f.readlines()[-n:]
            out.append("== %s\n%s" % (p, "".join(lines)))
        except OSError:
            pass
    return "\n".join(out)


# --- a site of a module's own --------------------------------------------------

@contextlib.contextmanager
def own_site(name, site_text, timeout=400, tail=None):
    """A small site of its own for a module's fixture, beside the session's:
    its own network namespace and state directory, started with
    `up --site FILE` from site_text (a string, or a function of the state
    directory that returns one, e.g. to make a signature folder there).
    Yields the Site (site_file is the file); `down` and cleanup after."""
    parent = os.environ.get("EMAILNG_E2E_TMP", tempfile.gettempdir())
    state = tempfile.mkdtemp(prefix="emailng-e2e-%s-" % name, dir=parent)
    os.chmod(state, 0o755)       # the daemons' users must reach their subdirectories
    text = site_text(state) if callable(site_text) else site_text
    with NetNS("emailng-%s-%d" % (name, os.getpid())):
        s = Site(state)
        s.site_file = os.path.join(state, "%s-site.yaml" % name)
        with open(s.site_file, "w") as f:
            f.write(text)
        try:
            r = s.run("up", "--site", s.site_file, timeout=timeout)
            assert r.rc == 0, "emailng up failed: %r\n%s" % (r, (tail or log_tail)(s))
            s.load_passwords()
            yield s
        finally:
            r = s.run("down", timeout=120)
            if r.rc != 0:
                print("emailng down failed: %r" % r)
    if os.environ.get("EMAILNG_E2E_KEEP"):
        print("%s test state kept in %s" % (name, state))
    else:
        shutil.rmtree(state, ignore_errors=True)


# --- the session instance ----------------------------------------------------

@pytest.fixture(scope="session")
def site():
    assert os.access(EMAILNG, os.X_OK), "emailng binary not found: %s (set EMAILNG)" % EMAILNG
    ns = NetNS("emailng-e2e-%d" % os.getpid())
    parent = os.environ.get("EMAILNG_E2E_TMP", tempfile.gettempdir())
    state = tempfile.mkdtemp(prefix="emailng-e2e-", dir=parent)
    os.chmod(state, 0o755)   # the daemons' users must reach their subdirectories
    with ns:
        s = Site(state)
        try:
            r = s.run("up", timeout=180)
            assert r.rc == 0, "emailng up failed: %r\n%s" % (r, log_tail(s))
            s.load_passwords()
            assert "alice@example.test" in s.passwords and "bob@example.test" in s.passwords, \
                "demo-passwords lacks alice/bob: %r" % s.passwords
            yield s
        finally:
            r = s.run("down", timeout=120)
            if r.rc != 0:
                print("emailng down failed: %r" % r)
    if os.environ.get("EMAILNG_E2E_KEEP"):
        print("state kept in", state)
    else:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def alice(site):
    return "alice@example.test", site.passwords["alice@example.test"]


@pytest.fixture
def bob(site):
    return "bob@example.test", site.passwords["bob@example.test"]
