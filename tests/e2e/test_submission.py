"""Submission: 587 (STARTTLS) and 465 (implicit TLS), SASL only after TLS,
senders limited to their own addresses."""

import smtplib

import pytest

from conftest import SMTP, SMTP_SSL, make_message, msgid, tls_context, wait_for_message


def _submission(site):
    s = SMTP(587, timeout=30)
    s.ehlo("client.e2e.test")
    s.starttls(context=tls_context(site))
    s.ehlo("client.e2e.test")
    return s


def _auth(s, mech, user, password):
    s.user, s.password = user, password
    if mech == "PLAIN":
        return s.auth("PLAIN", s.auth_plain)
    return s.auth("LOGIN", s.auth_login, initial_response_ok=False)


def test_587_no_auth_before_starttls(site):
    """S1, X3: EHLO on 587 before STARTTLS advertises STARTTLS but no AUTH."""
    with SMTP(587, timeout=30) as s:
        code, _ = s.ehlo("client.e2e.test")
        assert code == 250
        assert s.has_extn("starttls"), s.esmtp_features
        assert not s.has_extn("auth"), s.esmtp_features
        code, msg = s.docmd("AUTH", "PLAIN")
        assert code >= 500, (code, msg)


def test_587_auth_advertised_after_starttls(site):
    """S1: after STARTTLS on 587, EHLO advertises AUTH with PLAIN and LOGIN."""
    with _submission(site) as s:
        assert s.has_extn("auth"), s.esmtp_features
        mechs = s.esmtp_features["auth"].upper().split()
        assert "PLAIN" in mechs and "LOGIN" in mechs, mechs


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_587_auth_and_send(site, mech, alice, bob):
    """S1: AUTH PLAIN / LOGIN with the demo password after STARTTLS; the message reaches bob."""
    mid = msgid()
    message, _ = make_message(alice[0], bob[0], mid, subject="submission " + mech)
    with _submission(site) as s:
        code, msg = _auth(s, mech, *alice)
        assert code == 235, (code, msg)
        assert s.sendmail(alice[0], [bob[0]], message) == {}
    wait_for_message(site, bob[0], mid)


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_587_wrong_password_535(site, mech, alice):
    """S1, X2: a wrong password is refused with 535."""
    with _submission(site) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            _auth(s, mech, alice[0], alice[1] + "-wrong")
        assert e.value.smtp_code == 535, e.value


def test_587_unauthenticated_cannot_send(site, alice):
    """S1: without AUTH, submission refuses the transaction (even to a local recipient)."""
    with _submission(site) as s:
        code, msg = s.mail(alice[0])
        if code == 250:
            code, msg = s.rcpt(alice[0])
        assert code >= 500, (code, msg)


def test_587_sender_not_owned_rejected_553(site, alice):
    """S1: authenticated alice cannot use MAIL FROM bob@example.test (553 5.7.1)."""
    with _submission(site) as s:
        assert _auth(s, "PLAIN", *alice)[0] == 235
        code, msg = s.mail("bob@example.test")
        if code == 250:       # smtpd_delay_reject: sender restrictions answer at RCPT
            code, msg = s.rcpt(alice[0])
        assert code == 553, (code, msg)
        assert msg.startswith(b"5.7.1"), msg
        s.rset()


def test_587_own_sender_may_relay_outside(site, alice):
    """S1, S2: authenticated alice may send to an outside address (250 at RCPT)."""
    with _submission(site) as s:
        assert _auth(s, "PLAIN", *alice)[0] == 235
        assert s.mail(alice[0])[0] == 250
        code, msg = s.rcpt("someone@outside.test")
        assert code == 250, (code, msg)
        s.rset()          # nothing is queued: there is no outside network here


def test_465_implicit_tls_auth_and_send(site, alice, bob):
    """S1: port 465 speaks TLS from the first byte; AUTH works there and the message is delivered."""
    mid = msgid()
    message, _ = make_message(alice[0], bob[0], mid, subject="submissions 465")
    with SMTP_SSL(site, 465) as s:
        s.ehlo("client.e2e.test")
        assert s.has_extn("auth"), s.esmtp_features
        code, msg = _auth(s, "PLAIN", *alice)
        assert code == 235, (code, msg)
        assert s.sendmail(alice[0], [bob[0]], message) == {}
    wait_for_message(site, bob[0], mid)


def test_465_wrong_password_535(site, alice):
    """S1: a wrong password on 465 is refused with 535."""
    with SMTP_SSL(site, 465) as s:
        s.ehlo("client.e2e.test")
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            _auth(s, "PLAIN", alice[0], "not-" + alice[1])
        assert e.value.smtp_code == 535, e.value
