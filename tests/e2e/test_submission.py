"""Submission: 587 (STARTTLS) and 465 (implicit TLS), SASL only after TLS,
senders limited to their own addresses."""

import os
import re
import smtplib
import subprocess

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


# --- submission hygiene (issue 11) ---------------------------------------------------

def _logged_in(site, port, user):
    """A submission session on 587 (after STARTTLS) or 465, logged in as user."""
    if port == 465:
        s = SMTP_SSL(site, 465)
        s.ehlo("client.e2e.test")
    else:
        s = _submission(site)
    code, msg = _auth(s, "PLAIN", *user)
    assert code == 235, (code, msg)
    return s


def _data_refused(site, port, user, envelope, headers, rcpt):
    """Sends a message with the given header lines; returns (code, text) of the refusal."""
    mid = msgid()
    body = "\r\n".join(headers + ["To: <%s>" % rcpt, "Subject: hygiene", "Message-ID: %s" % mid,
                                  "", "spoof attempt", ""])
    with _logged_in(site, port, user) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(envelope, [rcpt], body.encode())
        return e.value.smtp_code, e.value.smtp_error


def _add_alternate(site, user, alternate):
    """Gives user another address (emailngAlternateAddress) straight in the directory."""
    ldif = "dn: mail=%s,ou=users,dc=example,dc=test\nchangetype: modify\nadd: emailngAlternateAddress\n" \
           "emailngAlternateAddress: %s\n" % (user, alternate)
    uri = "ldapi://" + os.path.join(site.state, "run", "mail", "ldapi").replace("/", "%2F")
    r = subprocess.run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", uri], input=ldif, text=True,
                       capture_output=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("port", [587, 465])
def test_header_from_not_owned_refused(site, port, alice, bob):
    """S1, issue 11: alice (her own envelope sender) with `From: bob@...` is refused 550 5.7.1 at DATA."""
    code, text = _data_refused(site, port, alice, alice[0], ["From: Bob <%s>" % bob[0]], bob[0])
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    assert b"From" in text and bob[0].encode() in text, text


@pytest.mark.parametrize("headers", [
    ["From: <{alice}>", "Sender: <{bob}>"],                       # Sender: not hers
    ["From: <{alice}>, <{bob}>"],                                  # one of two authors not hers
    ["From: <{alice}>", "From: <{bob}>"],                          # a second From: header
    ["From: {alice} <{bob}>"],                                     # the address is in the brackets
    ['From: "{alice}" <{bob}>'],
    ["From: (<{alice}>) {bob}"],                                   # a comment is no address
    ["From: undisclosed:;"],                                       # no address at all
    ["From: <{bob_upper}>"],                                       # case does not hide bob
], ids=["sender", "two-authors", "two-from", "phrase", "quoted-phrase", "comment", "group", "case"])
def test_header_from_evasions_refused(site, alice, bob, headers):
    """S1, issue 11: every author and Sender: address must be the login's, however it is written."""
    lines = [h.format(alice=alice[0], bob=bob[0], bob_upper=bob[0].upper()) for h in headers]
    code, text = _data_refused(site, 587, alice, alice[0], lines, bob[0])
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)


def test_header_from_own_addresses_accepted(site, alice, bob):
    """S1, issue 11: From: in another case with a display name, and the user's other address
    (emailngAlternateAddress, as smtpd_sender_login_maps says), as From:, Sender: and envelope."""
    alternate = "%s@example.test" % site.unique("alice-alt")
    _add_alternate(site, alice[0], alternate)
    cases = [
        (alice[0], ['From: "Alice, Example (work)" <%s>' % alice[0].upper()]),
        (alice[0], ["From: %s" % alternate]),
        (alternate, ["From: <%s>" % alternate, "Sender: %s" % alice[0]]),
    ]
    for envelope, headers in cases:
        mid = msgid()
        body = "\r\n".join(headers + ["To: <%s>" % bob[0], "Subject: own address", "Message-ID: %s" % mid,
                                      "", "mine", ""])
        with _logged_in(site, 587, alice) as s:
            assert s.sendmail(envelope, [bob[0]], body.encode()) == {}
        wait_for_message(site, bob[0], mid)


@pytest.mark.parametrize("port", [587, 465])
def test_null_sender_refused(site, port, alice):
    """S1, issue 11: MAIL FROM:<> on submission is refused with 5.7.1 and says why."""
    with _logged_in(site, port, alice) as s:
        code, msg = s.mail("<>")
        if code == 250:       # smtpd_delay_reject: sender restrictions answer at RCPT
            code, msg = s.rcpt(alice[0])
        assert code == 550 and msg.startswith(b"5.7.1"), (code, msg)
        assert b"null sender" in msg, msg
        s.rset()


def _openssl(site, port, cipher):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-CAfile", site.ca,
            "-servername", "mail.example.test"]
    if port == 587:
        argv += ["-starttls", "smtp"]
    if cipher:
        argv += ["-cipher", cipher]
    return subprocess.run(argv, input="QUIT\n", capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("port", [587, 465])
def test_submission_refuses_anonymous_ciphers(site, port):
    """X3, issue 11: a TLS 1.2 client offering only aNULL suites gets no handshake on 587/465;
    the same client with its default suites does (so the refusal is the cipher's)."""
    good = _openssl(site, port, None)
    assert good.returncode == 0 and "Cipher is " in good.stdout, good.stdout + good.stderr
    anon = _openssl(site, port, "aNULL:@SECLEVEL=0")
    assert anon.returncode != 0, anon.stdout
    assert not re.search(r"Cipher is (ADH|AECDH)", anon.stdout), anon.stdout
