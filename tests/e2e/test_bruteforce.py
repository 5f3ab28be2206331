"""Password guessing (X2, issue 10): fail2ban on the small site.

Its own instance (own network namespace and state directory), with short
ban times in its site file, so that its bans touch no other test:
maxretry 4 in 60 s, banned for 20 s. Each guesser uses its own loopback
address; a second address logs in at once while the first is banned.

- submission (587): every wrong password is answered 535, never "454
  Connection lost to authentication server"; then the address is refused;
- IMAP (143, 993) and ManageSieve (4190) likewise, each by its own jail;
- fail2ban's log says "Ban ADDR" and "Unban ADDR", `status` counts the
  bans, and after the ban time the address may log in again.
"""

import base64
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import DATADIR, EMAILNG, HOST, TLS_NAME, NetNS, Site, log_tail

MAXRETRY = 4
BANTIME = 20

SITE = """\
site: {name: bruteforce-site}
domains: [example.test]
directory: {base: "dc=example,dc=test"}
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
tls: {names: [mail.example.test, localhost, 127.0.0.1]}
demo_users: true
filter: {enabled: false}
bruteforce: {maxretry: %d, findtime: 60, bantime: %d}
""" % (MAXRETRY, BANTIME)


@pytest.fixture(scope="module")
def bf():
    assert os.access(EMAILNG, os.X_OK), "emailng binary not found: %s" % EMAILNG
    state = tempfile.mkdtemp(prefix="emailng-bf-", dir=os.environ.get("EMAILNG_E2E_TMP", tempfile.gettempdir()))
    os.chmod(state, 0o755)
    sitefile = os.path.join(state, "bruteforce-site.yaml")
    with open(sitefile, "w") as f:
        f.write(SITE)
    # Nested in the session's namespace when the whole suite runs: leaving
    # it returns there.
    with NetNS("emailng-bf-%d" % os.getpid()):
        s = Site(state)
        try:
            r = s.run("up", "--site", sitefile, timeout=180)
            assert r.rc == 0, "emailng up failed: %r\n%s" % (r, log_tail(s))
            s.load_passwords()
            yield s
        finally:
            r = s.run("down", timeout=120)
            assert r.rc == 0, "emailng down failed: %r" % r
            # down removes fail2ban's table with its bans.
            assert not nft_table_exists()
    if os.environ.get("EMAILNG_E2E_KEEP"):
        print("state kept in", state)
    else:
        shutil.rmtree(state, ignore_errors=True)


def nft_table_exists():
    return subprocess.run(["nft", "list", "table", "inet", "emailng-f2b"], capture_output=True).returncode == 0


def ctx(site):
    c = ssl.create_default_context(cafile=site.ca)
    c.check_hostname = True
    return c


def conn(port, source, timeout=15):
    return socket.create_connection((HOST, port), timeout, source_address=(source, 0))


class Lines:
    def __init__(self, sock):
        self.sock = sock
        self.f = sock.makefile("rb")

    def line(self):
        data = self.f.readline()
        if not data:
            raise ConnectionResetError("closed by the server")
        return data.decode(errors="replace").rstrip("\r\n")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def tls(self, site):
        self.f.close()
        self.sock = ctx(site).wrap_socket(self.sock, server_hostname=TLS_NAME)
        self.f = self.sock.makefile("rb")

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


def plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def smtp_reply(c):
    while True:
        line = c.line()
        if line[3:4] != "-":
            return line


def submission_auth(site, source, user, password):
    """One connection to 587 from source: STARTTLS, AUTH PLAIN. The AUTH
    reply line; raises OSError when the connection is refused or dropped."""
    c = Lines(conn(587, source))
    try:
        assert smtp_reply(c).startswith("220"), "no greeting"
        c.send("EHLO guesser.e2e.test")
        smtp_reply(c)
        c.send("STARTTLS")
        assert smtp_reply(c).startswith("220")
        c.tls(site)
        c.send("EHLO guesser.e2e.test")
        smtp_reply(c)
        c.send("AUTH PLAIN " + plain(user, password))
        reply = smtp_reply(c)
        c.send("QUIT")
        return reply
    finally:
        c.close()


def imap_login(site, source, user, password):
    c = Lines(conn(143, source))
    try:
        assert c.line().startswith("* OK")
        c.send("a STARTTLS")
        while not c.line().startswith("a "):
            pass
        c.tls(site)
        c.send('b LOGIN "%s" "%s"' % (user, password))
        while True:
            line = c.line()
            if line.startswith("b "):
                break
        c.send("c LOGOUT")
        return line
    finally:
        c.close()


def sieve_reply(c):
    while True:
        line = c.line()
        if line.split(" ", 1)[0].upper() in ("OK", "NO", "BYE"):
            return line


def sieve_login(site, source, user, password):
    c = Lines(conn(4190, source))
    try:
        sieve_reply(c)
        c.send("STARTTLS")
        assert sieve_reply(c).startswith("OK")
        c.tls(site)
        sieve_reply(c)
        c.send('AUTHENTICATE "PLAIN" "%s"' % plain(user, password))
        reply = sieve_reply(c)
        c.send("LOGOUT")
        return reply
    finally:
        c.close()


def refused(port, source):
    """True if a connection from source to port is refused (the ban)."""
    try:
        with conn(port, source, timeout=5) as s:
            s.settimeout(5)
            return s.recv(1) == b""
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    except socket.timeout:
        return False


def fail2ban_log(site):
    with open(os.path.join(site.state, "log", "mail", "fail2ban.log"), errors="replace") as f:
        return f.read()


def guess(site, login, ok_reply, bad_reply, port, guesser, other, alice):
    """20 wrong passwords from guesser; returns the attempt that was refused first."""
    user, password = alice
    banned_at = None
    replies = []
    for i in range(20):
        try:
            reply = login(site, guesser, user, password + "-wrong%d" % i)
        except (ConnectionRefusedError, ConnectionResetError, ssl.SSLError, BrokenPipeError) as e:
            replies.append(repr(e))
            banned_at = i
            break
        replies.append(reply)
        assert bad_reply.match(reply), "attempt %d: %r\n%s" % (i + 1, replies, log_tail(site))
    assert banned_at is not None, "20 wrong passwords from %s, never refused: %r\n%s" % (
        guesser, replies, fail2ban_log(site))
    # fail2ban sees the failures about a second after they are logged.
    assert MAXRETRY <= banned_at <= MAXRETRY + 3, replies
    assert refused(port, guesser)
    # Another address logs in at once.
    t0 = time.monotonic()
    reply = login(site, other, user, password)
    assert ok_reply.match(reply), reply
    assert time.monotonic() - t0 < 5
    assert re.search(r"\] Ban %s$" % re.escape(guesser), fail2ban_log(site), re.M), fail2ban_log(site)


def wait_unban(site, port, guesser):
    deadline = time.monotonic() + BANTIME + 15
    while refused(port, guesser):
        assert time.monotonic() < deadline, "still banned after %d s:\n%s" % (BANTIME + 15, fail2ban_log(site))
        time.sleep(1)
    assert re.search(r"\] Unban %s$" % re.escape(guesser), fail2ban_log(site), re.M), fail2ban_log(site)


def test_submission_guesser_banned_then_unbanned(bf):
    alice = ("alice@example.test", bf.passwords["alice@example.test"])
    guesser, other = "127.0.0.11", "127.0.0.12"
    # Every failure is 535: Dovecot answers within Postfix's 10 s, never 454.
    guess(bf, submission_auth, re.compile(r"^235 "), re.compile(r"^535 5\.7\.8 "), 587, guesser, other, alice)
    assert refused(465, guesser)
    with open(os.path.join(bf.state, "log", "mail", "postfix.log"), errors="replace") as f:
        log = f.read()
    assert "[%s]: SASL PLAIN authentication failed" % guesser in log
    assert "Connection lost to authentication server" not in log
    # Only the submission ports: the address still reaches IMAP.
    assert not refused(143, guesser)
    st = bf.run("status", check=True).out
    assert re.search(r"fail2ban .* [1-9]\d* banned", st), st
    wait_unban(bf, 587, guesser)
    assert submission_auth(bf, guesser, *alice).startswith("235 ")


def test_imap_guesser_banned(bf):
    alice = ("alice@example.test", bf.passwords["alice@example.test"])
    guesser, other = "127.0.0.21", "127.0.0.22"
    guess(bf, imap_login, re.compile(r"^b OK "), re.compile(r"^b NO "), 143, guesser, other, alice)
    assert refused(993, guesser) and refused(110, guesser)
    assert not refused(587, guesser)
    wait_unban(bf, 143, guesser)
    assert imap_login(bf, guesser, *alice).startswith("b OK ")


def test_managesieve_guesser_banned(bf):
    alice = ("alice@example.test", bf.passwords["alice@example.test"])
    guesser, other = "127.0.0.31", "127.0.0.32"
    guess(bf, sieve_login, re.compile(r"^OK"), re.compile(r"^NO"), 4190, guesser, other, alice)
    assert not refused(143, guesser)
    wait_unban(bf, 4190, guesser)
    assert sieve_login(bf, guesser, *alice).startswith("OK")
