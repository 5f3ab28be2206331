"""Submission on the relays, authenticated through the proxies (S1, issue 4).

The relays hold no directory credentials: their Dovecot runs only the auth
service, whose imap passdb logs in at mail.example.test (both proxies,
certificate checked against the site's CA); the proxies check the
password against the directory. It keeps working when a proxy is down
(Dovecot tries the name's next address).
"""

import imaplib
import smtplib
import ssl
import time
import uuid

from conftest import HOSTS, TLS_NAME

DELIVERY_TIMEOUT = 60.0


def _submit(site, relay, user, password, rcpt, msgid):
    ctx = ssl.create_default_context(cafile=site.ca)
    with smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=30) as s:
        s.ehlo()
        s._host = TLS_NAME          # the relays' certificates carry the public name too
        s.starttls(context=ctx)
        s.ehlo()
        s.login(user, password)
        body = ("From: %s\r\nTo: %s\r\nSubject: submitted\r\nMessage-ID: %s\r\n\r\nvia the relay\r\n"
                % (user, rcpt, msgid))
        return s.sendmail(user, [rcpt], body)


def _delivered(site, user, msgid):
    deadline = time.time() + DELIVERY_TIMEOUT
    while time.time() < deadline:
        m = imaplib.IMAP4(HOSTS["proxy2"], 143, timeout=30)
        m.host = TLS_NAME
        try:
            m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
            m.login(user, site.password(user))
            m.select("INBOX", readonly=True)
            typ, data = m.search(None, "HEADER", "Message-ID", msgid)
            if typ == "OK" and data[0].split():
                return True
        finally:
            try:
                m.logout()
            except Exception:
                pass
        time.sleep(1)
    return False


def test_wrong_password_refused_at_the_relay(ha):
    ctx = ssl.create_default_context(cafile=ha.ca)
    with smtplib.SMTP(HOSTS["relay2"], 587, local_hostname="laptop.outside.test", timeout=30) as s:
        s.ehlo()
        s._host = TLS_NAME
        s.starttls(context=ctx)
        s.ehlo()
        try:
            s.login("alice@example.test", "not-her-password")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535
        else:
            raise AssertionError("a wrong password was accepted")


def test_submission_through_each_relay_is_delivered(ha):
    for relay in ("relay1", "relay2"):
        msgid = "<%s@example.test>" % uuid.uuid4()
        assert _submit(ha, relay, "alice@example.test", ha.password("alice@example.test"),
                       "bob@example.test", msgid) == {}
        assert _delivered(ha, "bob@example.test", msgid), relay


def test_submission_keeps_working_with_proxy1_down(ha):
    ha.emailng("down", "--host", "proxy1")
    try:
        msgid = "<%s@example.test>" % uuid.uuid4()
        assert _submit(ha, "relay1", "alice@example.test", ha.password("alice@example.test"),
                       "bob@example.test", msgid) == {}
        assert _delivered(ha, "bob@example.test", msgid)
        assert "trying the next IP" in ha.log("relay1", "dovecot.log")
    finally:
        ha.emailng("up")            # brings proxy1 back; the others are already up
    st = ha.emailng("status", "--host", "proxy1", check=False)
    assert st.returncode == 0, st.stdout


def _submit_headers(site, relay, user, password, envelope, headers, rcpt, msgid):
    ctx = ssl.create_default_context(cafile=site.ca)
    with smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=30) as s:
        s.ehlo()
        s._host = TLS_NAME
        s.starttls(context=ctx)
        s.ehlo()
        s.login(user, password)
        body = "\r\n".join(headers + ["To: %s" % rcpt, "Subject: hygiene", "Message-ID: %s" % msgid, "",
                                      "from the relay", ""])
        return s.sendmail(envelope, [rcpt], body)


def test_header_from_held_to_the_login_at_each_relay(ha):
    """S1, issue 11: at each relay (its exported sender table, no directory), a From: that is
    not the login's is refused 550 5.7.1; the login's own is delivered; the null sender is refused."""
    alice, bob = "alice@example.test", "bob@example.test"
    for relay in ("relay1", "relay2"):
        try:
            _submit_headers(ha, relay, alice, ha.password(alice), alice, ["From: Bob <%s>" % bob], bob,
                            "<%s@e2e.test>" % uuid.uuid4().hex)
            raise AssertionError("%s accepted From: %s from %s" % (relay, bob, alice))
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550 and e.smtp_error.startswith(b"5.7.1"), e
        msgid = "<%s@e2e.test>" % uuid.uuid4().hex
        assert _submit_headers(ha, relay, alice, ha.password(alice), alice, ["From: Alice <%s>" % alice.upper()],
                               bob, msgid) == {}
        assert _delivered(ha, bob, msgid), "%s: not delivered" % relay
        try:
            _submit_headers(ha, relay, alice, ha.password(alice), "<>", ["From: %s" % alice], bob,
                            "<%s@e2e.test>" % uuid.uuid4().hex)
            raise AssertionError("%s accepted the null sender" % relay)
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients[bob]
            assert code == 550 and text.startswith(b"5.7.1"), e
