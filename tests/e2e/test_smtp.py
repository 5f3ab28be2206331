"""SMTP on port 25 (MX): local delivery read back over IMAP and POP3, relay
refusal and unknown-recipient refusal during the dialogue."""

import time

import pytest

from conftest import (IMAP4, IMAP4_SSL, POP3, POP3_SSL, SMTP, TLS_NAME, imap_find, imap_fetch, make_message, msgid,
                      smtp_send, split_message, tls_context, wait_for_message)


@pytest.fixture(scope="module")
def delivered(site):
    """One message sent over SMTP 25 (bob -> alice) and delivered to alice."""
    mid = msgid()
    message, body = make_message("bob@example.test", "alice@example.test", mid,
                                 subject="smtp read-back")
    smtp_send("bob@example.test", ["alice@example.test"], message)
    wait_for_message(site, "alice@example.test", mid)
    return mid, message, body


def _assert_same_message(sent, got):
    sent_hdrs, sent_body = split_message(sent)
    got_hdrs, got_body = split_message(got)
    assert got_body == sent_body, "body differs:\nsent %r\ngot  %r" % (sent_body[:300], got_body[:300])
    for line in sent_hdrs.split(b"\r\n"):
        if line:
            assert line in got_hdrs.split(b"\r\n"), "header %r missing in %r" % (line, got_hdrs)


def _pop3_find(p, mid):
    _, listing, _ = p.list()
    for entry in listing:
        num = int(entry.split()[0])
        _, lines, _ = p.top(num, 0)
        if ("Message-ID: %s" % mid).encode().lower() in (l.lower() for l in lines):
            return num
    raise AssertionError("message %s not found over POP3 (%d messages)" % (mid, len(listing)))


def _pop3_retr(p, mid):
    num = _pop3_find(p, mid)
    _, lines, _ = p.retr(num)
    return b"\r\n".join(lines) + b"\r\n"


def test_smtp25_delivery_read_over_imap143_starttls(site, delivered, alice):
    """C1, S2: mail sent to alice on port 25 reads back byte for byte over IMAP 143 after STARTTLS."""
    mid, message, _ = delivered
    m = IMAP4(143)
    m.starttls(ssl_context=tls_context(site))
    m.login(*alice)
    try:
        uids = imap_find(m, mid)
        assert len(uids) == 1, uids
        _assert_same_message(message, imap_fetch(m, uids[0]))
    finally:
        m.logout()


def test_smtp25_delivery_read_over_imaps993(site, delivered, alice):
    """C1, S2: the same message reads back byte for byte over IMAPS 993 (implicit TLS)."""
    mid, message, _ = delivered
    m = IMAP4_SSL(site, 993)
    m.login(*alice)
    try:
        uids = imap_find(m, mid)
        assert len(uids) == 1, uids
        _assert_same_message(message, imap_fetch(m, uids[0]))
    finally:
        m.logout()


def test_smtp25_delivery_read_over_pop3_110_stls(site, delivered, alice):
    """C1: the same message reads back byte for byte over POP3 110 after STLS."""
    mid, message, _ = delivered
    p = POP3(110)
    p.stls(context=tls_context(site))
    p.user(alice[0])
    p.pass_(alice[1])
    try:
        _assert_same_message(message, _pop3_retr(p, mid))
    finally:
        p.quit()


def test_smtp25_delivery_read_over_pop3s_995(site, delivered, alice):
    """C1: the same message reads back byte for byte over POP3S 995 (implicit TLS)."""
    mid, message, _ = delivered
    p = POP3_SSL(site, 995)
    p.user(alice[0])
    p.pass_(alice[1])
    try:
        _assert_same_message(message, _pop3_retr(p, mid))
    finally:
        p.quit()


def test_smtp25_starttls_certificate_verifies(site):
    """X3: STARTTLS on port 25 presents a certificate for mail.example.test signed by the site CA."""
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=tls_context(site))   # verifies chain and name
        assert code == 220
        cert = s.sock.getpeercert()
        names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
        assert TLS_NAME in names, cert


def test_smtp25_relay_to_outside_refused(site):
    """S2: unauthenticated client on port 25 cannot relay to an outside domain (454/554 Relay access denied)."""
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        code, _ = s.mail("bob@example.test")
        assert code == 250
        code, msg = s.rcpt("someone@outside.test")
        assert code in (454, 554), (code, msg)
        assert b"relay access denied" in msg.lower(), msg
        s.rset()


def _queue_count(site):
    return site.services()["postfix"]["queue"]


def _bounces(site, user):
    m = IMAP4_SSL(site, 993)
    m.login(user, site.passwords[user])
    try:
        m.select("INBOX")
        typ, data = m.uid("SEARCH", "FROM", '"MAILER-DAEMON"')
        assert typ == "OK"
        return set(data[0].split())
    finally:
        m.logout()


def test_smtp25_unknown_recipient_550_511_without_bounce(site, bob):
    """S3: unknown local recipient is refused at RCPT with 550 5.1.1, and no bounce is generated (no backscatter)."""
    before = _bounces(site, bob[0])
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        assert s.mail(bob[0])[0] == 250
        code, msg = s.rcpt("nobody@example.test")
        assert code == 550, (code, msg)
        assert msg.startswith(b"5.1.1"), msg
        code, msg = s.docmd("DATA")
        assert code in (503, 554), (code, msg)   # no valid recipients: no message to bounce
    time.sleep(3)
    deadline = time.monotonic() + 10
    while _queue_count(site) != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _queue_count(site) == 0, site.services()["postfix"]
    assert _bounces(site, bob[0]) == before, "a bounce reached the sender"
