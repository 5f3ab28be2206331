"""The first mail flow across the hosts of the full topology (issue 4).

client (198.18.0.100) -> relay1 (MX) -> store's internal Postfix -> LMTP
through a proxy -> the user's active store; the user reads it over IMAP
through either proxy. Requirements: A1, A2 (every role on its own hosts),
S2 (MX on the relays, mail for us to the stores' MTAs), S3 (unknown
recipients refused at the relay, which has no directory access).
"""

import imaplib
import smtplib
import socket
import ssl
import time
import uuid

from conftest import HOSTS, TLS_NAME, status

DELIVERY_TIMEOUT = 60.0


def _send(host, rcpts, msgid):
    with smtplib.SMTP(HOSTS[host], 25, local_hostname="client.outside.test", timeout=30) as s:
        s.ehlo()
        body = ("From: someone@outside.test\r\nTo: %s\r\nSubject: across hosts\r\nMessage-ID: %s\r\n\r\n"
                "hello from the internet\r\n" % (", ".join(rcpts), msgid))
        return s.sendmail("someone@outside.test", rcpts, body)


def _imap_find(site, proxy, user, msgid):
    m = imaplib.IMAP4(HOSTS[proxy], 143, timeout=30)
    try:
        m.starttls(ssl_context=_ctx_for(site))
        m.login(user, site.password(user))
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "HEADER", "Message-ID", msgid)
        return data[0].split() if typ == "OK" else []
    finally:
        try:
            m.logout()
        except Exception:
            pass


def _ctx_for(site):
    ctx = ssl.create_default_context(cafile=site.ca)
    # imaplib checks the certificate against the address it connected to;
    # the public name is checked in test_proxy_certificate_names_the_public_host.
    ctx.check_hostname = False
    return ctx


def test_every_host_and_service_up(ha):
    st = status(ha)
    names = [h["name"] for h in st["hosts"]]
    assert sorted(names) == sorted(HOSTS), names
    assert st["all_up"], st
    services = {h["name"]: sorted(s["name"] for s in h["services"]) for h in st["hosts"]}
    assert services["dir1"] == ["slapd"]
    assert services["store1"] == ["dovecot", "postfix"]
    assert services["proxy2"] == ["dovecot"]
    assert services["relay1"] == ["policyd", "postfix"]


def test_proxy_certificate_names_the_public_host(ha):
    ctx = ssl.create_default_context(cafile=ha.ca)
    with socket.create_connection((HOSTS["proxy1"], 993), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=TLS_NAME) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_unknown_recipient_refused_at_the_relay(ha):
    with smtplib.SMTP(HOSTS["relay1"], 25, local_hostname="client.outside.test", timeout=30) as s:
        s.ehlo()
        s.mail("someone@outside.test")
        code, msg = s.rcpt("nobody@example.test")
        assert code == 550, msg
        assert b"5.1.1" in msg


def test_mail_via_relay1_lands_on_store1_read_through_both_proxies(ha):
    msgid = "<%s@outside.test>" % uuid.uuid4()
    assert _send("relay1", ["alice@example.test"], msgid) == {}
    deadline = time.time() + DELIVERY_TIMEOUT
    found = []
    while time.time() < deadline and not found:
        found = _imap_find(ha, "proxy1", "alice@example.test", msgid)
        if not found:
            time.sleep(1)
    assert found, "not delivered within %d s; relay1 log:\n%s" % (DELIVERY_TIMEOUT,
                                                                  ha.log("relay1", "postfix.log")[-3000:])
    # The same mailbox through the other proxy.
    assert _imap_find(ha, "proxy2", "alice@example.test", msgid)
    # Routed through the store's Postfix and a proxy's LMTP to store1 (pair1's first store).
    assert msgid in ha.log("store1", "dovecot.log")
    assert "relay=198.18.0.2" in ha.log("store1", "postfix.log") or "relay=198.18.0.2" in ha.log("store2", "postfix.log")


def test_user_added_is_accepted_at_the_relays_within_10_s(ha):
    ha.emailng("user", "add", "carol", "--password-stdin", input="carol-pass-1234\ncarol-pass-1234\n")
    t0 = time.time()
    accepted = {}
    while time.time() - t0 < 10 and len(accepted) < 2:
        for relay in ("relay1", "relay2"):
            with smtplib.SMTP(HOSTS[relay], 25, local_hostname="client.outside.test", timeout=10) as s:
                s.ehlo()
                s.mail("someone@outside.test")
                code, _ = s.rcpt("carol@example.test")
                if code == 250:
                    accepted[relay] = time.time() - t0
        time.sleep(0.5)
    assert set(accepted) == {"relay1", "relay2"}, accepted
