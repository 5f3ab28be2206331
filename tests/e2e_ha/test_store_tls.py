"""TLS between the proxies and the stores (issue 4; docs/architecture.md).

The proxies forward logins (IMAP, POP3, ManageSieve) and deliveries (LMTP)
to the user's store over STARTTLS with the passdb field starttls=yes: the
store's certificate must be signed by the site's CA and name the address
the proxy connects to (host=, 198.18.0.31 for alice and bob on pair1).
Positive: every protocol works through both proxies. Negative: store1 is
made to present a certificate of another CA, then one of the site's CA
for another host (store2's); the proxies refuse to hand it the users'
passwords or their mail (temporary errors, the reason in the proxy's
log), and the message deferred meanwhile is delivered exactly once when
store1's own certificate is back. The stores open no implicit-TLS ports.
"""

import base64
import contextlib
import hashlib
import imaplib
import os
import poplib
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import HOSTS, TLS_NAME

STORE = "store1"                # alice and bob live on pair1, whose active store is store1
USER = "alice@example.test"
RECIPIENT = "bob@example.test"
RELOAD_TIMEOUT = 20.0
DELIVERY_TIMEOUT = 60.0


def _ctx(site):
    return ssl.create_default_context(cafile=site.ca)


def _imap_login_select(site, proxy, user=USER):
    """Logs in through the proxy and selects INBOX; returns (login status, text)."""
    m = imaplib.IMAP4(HOSTS[proxy], 143, timeout=30)
    m.host = TLS_NAME
    try:
        m.starttls(ssl_context=_ctx(site))
        try:
            m.login(user, site.password(user))
        except imaplib.IMAP4.error as e:
            return "NO", str(e)
        typ, data = m.select("INBOX", readonly=True)
        return typ, data[0].decode()
    finally:
        try:
            m.logout()
        except Exception:
            pass


def _pop3_login_stat(site, proxy, user=USER):
    p = poplib.POP3(HOSTS[proxy], 110, timeout=30)
    try:
        p.stls(context=_ctx(site))
        p.user(user)
        try:
            p.pass_(site.password(user))
        except poplib.error_proto as e:
            return "-ERR", e.args[0].decode(errors="replace")
        count, _size = p.stat()
        return "+OK", str(count)
    finally:
        try:
            p.quit()
        except Exception:
            pass


def _sieve_line(f):
    line = f.readline()
    if not line:
        raise ConnectionError("ManageSieve connection closed")
    return line.decode(errors="replace").rstrip("\r\n")


def _sieve_until_status(f):
    """Reads ManageSieve response lines up to the status line (OK, NO, BYE)."""
    lines = []
    while True:
        line = _sieve_line(f)
        lines.append(line)
        if line.split(" ", 1)[0].upper() in ("OK", "NO", "BYE"):
            return lines


def _sieve_login_list(site, proxy, user=USER):
    """STARTTLS, AUTHENTICATE PLAIN, LISTSCRIPTS through the proxy: the status lines."""
    sock = socket.create_connection((HOSTS[proxy], 4190), timeout=30)
    try:
        f = sock.makefile("rb")
        _sieve_until_status(f)
        sock.sendall(b"STARTTLS\r\n")
        assert _sieve_until_status(f)[-1].startswith("OK"), "STARTTLS refused"
        f.close()
        sock = _ctx(site).wrap_socket(sock, server_hostname=TLS_NAME)
        f = sock.makefile("rb")
        _sieve_until_status(f)                  # capabilities again after TLS
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + site.password(user).encode()).decode()
        sock.sendall(b'AUTHENTICATE "PLAIN" "%s"\r\n' % token.encode())
        auth = _sieve_until_status(f)[-1]
        if not auth.startswith("OK"):
            return auth, None
        sock.sendall(b"LISTSCRIPTS\r\n")
        listed = _sieve_until_status(f)[-1]
        sock.sendall(b"LOGOUT\r\n")
        return auth, listed
    finally:
        sock.close()


def _netns(site, host, *cmd, input=None):
    return subprocess.run(["ip", "netns", "exec", "%s-%s" % (site.prefix, host), *cmd], input=input,
                          capture_output=True, text=True, timeout=60)


def _presented_fingerprint(site):
    """SHA-256 of the certificate store1 presents on 143, seen from proxy1 (as the proxies see it)."""
    cp = _netns(site, "proxy1", "openssl", "s_client", "-connect", "%s:143" % HOSTS[STORE],
                "-starttls", "imap", "-showcerts", input="")
    pem = cp.stdout[cp.stdout.find("-----BEGIN CERTIFICATE-----"):]
    pem = pem[:pem.find("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    if not pem.startswith("-----BEGIN"):
        return None
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem + "\n")).hexdigest()


def _pem_fingerprint(path):
    with open(path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def _reload_store(site, expect_cert):
    """SIGHUP to store1's Dovecot (it re-reads ssl_cert/ssl_key); waits until it presents expect_cert."""
    with open(os.path.join(site.state, "run", STORE, "dovecot", "master.pid")) as f:
        os.kill(int(f.read().strip()), signal.SIGHUP)
    want = _pem_fingerprint(expect_cert)
    deadline = time.time() + RELOAD_TIMEOUT
    while time.time() < deadline:
        if _presented_fingerprint(site) == want:
            return
        time.sleep(0.5)
    raise AssertionError("store1 does not present %s after SIGHUP" % expect_cert)


@contextlib.contextmanager
def _store_presents(site, crt, key):
    """store1's Dovecot presents crt/key; its own certificate and key are put back afterwards."""
    tls = os.path.join(site.state, "tls", STORE)
    saved = tempfile.mkdtemp(prefix="store-tls-")
    for name in ("server.crt", "server.key"):
        shutil.copy2(os.path.join(tls, name), saved)
    try:
        shutil.copyfile(crt, os.path.join(tls, "server.crt"))
        shutil.copyfile(key, os.path.join(tls, "server.key"))
        _reload_store(site, crt)
        yield
    finally:
        for name in ("server.crt", "server.key"):
            shutil.copy2(os.path.join(saved, name), os.path.join(tls, name))
        shutil.rmtree(saved, ignore_errors=True)
        _reload_store(site, os.path.join(tls, "server.crt"))


def _foreign_certificate(directory):
    """A self-signed certificate (another CA) with store1's own names and address."""
    crt, key = os.path.join(directory, "foreign.crt"), os.path.join(directory, "foreign.key")
    cp = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", key, "-out", crt, "-days", "1",
                         "-subj", "/CN=%s.example.test" % STORE,
                         "-addext", "subjectAltName=DNS:%s.example.test,IP:%s" % (STORE, HOSTS[STORE])],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return crt, key


def _log_grows(site, host, since, text, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in site.log(host, "dovecot.log")[since:]:
            return True
        time.sleep(0.3)
    return False


def _send_by_mx(msgid):
    with smtplib.SMTP(HOSTS["relay1"], 25, local_hostname="client.outside.test", timeout=30) as s:
        body = ("From: someone@outside.test\r\nTo: %s\r\nSubject: store tls\r\nMessage-ID: %s\r\n\r\n"
                "through a verified proxy -> store hop\r\n" % (RECIPIENT, msgid))
        return s.sendmail("someone@outside.test", [RECIPIENT], body)


def _count_msgid(site, user, msgid):
    m = imaplib.IMAP4(HOSTS["proxy2"], 143, timeout=30)
    m.host = TLS_NAME
    try:
        m.starttls(ssl_context=_ctx(site))
        m.login(user, site.password(user))
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "HEADER", "Message-ID", msgid)
        return len(data[0].split()) if typ == "OK" else 0
    finally:
        try:
            m.logout()
        except Exception:
            pass


def test_proxies_verify_store_certificates_in_their_configuration(ha):
    for proxy in ("proxy1", "proxy2"):
        passdb = open(os.path.join(ha.state, "etc", proxy, "dovecot", "dovecot-ldap-passdb.conf.ext")).read()
        assert "=starttls=yes" in passdb and "any-cert" not in passdb


@pytest.mark.parametrize("proxy", ["proxy1", "proxy2"])
def test_imap_pop3_managesieve_through_proxy_with_verified_store(ha, proxy):
    since = len(ha.log(proxy, "dovecot.log"))
    typ, exists = _imap_login_select(ha, proxy)
    assert typ == "OK", exists
    typ, count = _pop3_login_stat(ha, proxy)
    assert typ == "+OK", count
    auth, listed = _sieve_login_list(ha, proxy)
    assert auth.startswith("OK") and listed.startswith("OK"), (auth, listed)
    # Dovecot's log process writes the proxy lines a moment later.
    for service in ("imap-login", "pop3-login", "managesieve-login"):
        assert _log_grows(ha, proxy, since, "%s: Info: proxy(%s,%s:" % (service, USER, HOSTS[STORE])), service
    assert "Received invalid SSL certificate" not in ha.log(proxy, "dovecot.log")[since:]


def test_stores_open_no_implicit_tls_ports(ha):
    # Asked inside each store (its firewall drops 993/995 from outside
    # anyway, so a connect would only time out).
    for store in ("store1", "store2"):
        cp = subprocess.run(["ip", "netns", "exec", "%s-%s" % (ha.prefix, store), "ss", "-Hltn"],
                            capture_output=True, text=True, check=True)
        ports = {line.split()[3].rsplit(":", 1)[1] for line in cp.stdout.splitlines() if line.strip()}
        assert "143" in ports, ports
        assert not ports & {"993", "995"}, ports


def test_proxy_refuses_a_store_certificate_of_another_ca(ha):
    msgid = "<%s@outside.test>" % uuid.uuid4()
    with tempfile.TemporaryDirectory() as d:
        crt, key = _foreign_certificate(d)
        since = len(ha.log("proxy1", "dovecot.log"))
        with _store_presents(ha, crt, key):
            typ, text = _imap_login_select(ha, "proxy1")
            assert typ == "NO" and "UNAVAILABLE" in text, text        # temporary: try again later
            typ, text = _pop3_login_stat(ha, "proxy1")
            assert typ == "-ERR" and "TEMP" in text, text
            assert _log_grows(ha, "proxy1", since, "Received invalid SSL certificate: self-signed certificate")
            # Delivery: the store's Postfix hands the message to a proxy's LMTP,
            # which will not pass it on; the message waits in store1's queue.
            lmtp_since = {p: len(ha.log(p, "dovecot.log")) for p in ("proxy1", "proxy2")}
            assert _send_by_mx(msgid) == {}
            refused = "SSL handshaking with %s:24 failed" % HOSTS[STORE]
            # MX, amavisd's scan and the store's Postfix come first: under a
            # loaded CI machine that alone took more than 30 s.
            deadline = time.time() + 2 * DELIVERY_TIMEOUT
            while time.time() < deadline and not any(
                    refused in ha.log(p, "dovecot.log")[n:] for p, n in lmtp_since.items()):
                time.sleep(0.5)
            assert any(refused in ha.log(p, "dovecot.log")[n:] for p, n in lmtp_since.items())
    # store1's own certificate is back: logins work, the deferred message
    # arrives (queue flushed), exactly once.
    typ, _ = _imap_login_select(ha, "proxy1")
    assert typ == "OK"
    flush = _netns(ha, STORE, "postqueue", "-c", os.path.join(ha.state, "etc", STORE, "postfix"), "-f")
    assert flush.returncode == 0, flush.stderr
    deadline = time.time() + DELIVERY_TIMEOUT
    while time.time() < deadline and _count_msgid(ha, RECIPIENT, msgid) == 0:
        time.sleep(1)
    assert _count_msgid(ha, RECIPIENT, msgid) == 1


def test_proxy_refuses_a_site_certificate_for_another_address(ha):
    tls = os.path.join(ha.state, "tls")
    since = len(ha.log("proxy2", "dovecot.log"))
    # store2's certificate: signed by the site's CA, but for 198.18.0.32.
    with _store_presents(ha, os.path.join(tls, "store2", "server.crt"), os.path.join(tls, "store2", "server.key")):
        typ, text = _imap_login_select(ha, "proxy2")
        assert typ == "NO" and "UNAVAILABLE" in text, text
        auth, _ = _sieve_login_list(ha, "proxy2")
        assert auth.startswith("NO"), auth
        assert _log_grows(ha, "proxy2", since,
                          "SSL certificate doesn't match expected host name %s" % HOSTS[STORE])
    typ, _ = _imap_login_select(ha, "proxy2")
    assert typ == "OK"
