"""The content filter on the relays of the full topology, and S7 across the hosts.

Both relays run what the small site runs (docs/architecture-filtering.md):
clamav-milter refuses a virus at the end of DATA on port 25, amavisd (ClamAV
+ SpamAssassin) scans after the queue (Postfix hands it over LMTP on a unix
socket) and hands the message back on Postfix's unix socket
amavis-reinject, submission is scanned by the ORIGINATING policy bank (a
virus is quarantined and bounced to the authenticated sender), and the
stores' global Sieve script files spam into Junk. ClamAV uses the sigtool
database of conftest.py (EICAR and a test pattern).

S7: a message that went client -> relay -> store's Postfix -> LMTP through a
proxy -> store names no internal hop: its only Received: line is the
client's, "by relayN.example.test" (the MX's public name, in the fabric's
DNS). Internal means any other host of the site (stores, proxies, the
directory) by name or address, a relay's address, and loopback.
"""

import base64
import imaplib
import os
import re
import smtplib
import ssl
import subprocess
import time
import urllib.parse
import uuid

import pytest

from conftest import EICAR, GTUBE, HOSTS, TEST_PATTERN, TLS_NAME

DELIVERY_TIMEOUT = 60.0
INTERNAL_NAMES = ("store1", "store2", "proxy1", "proxy2", "dir1", "localhost")
INTERNAL_ADDRESSES = tuple(HOSTS.values()) + ("127.0.0.1",)


def _msgid():
    return "<%s@outside.test>" % uuid.uuid4().hex


def _message(sender, rcpt, msgid, body=b"hello\r\n", subject="filter test"):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\nDate: %s\r\n\r\n"
            % (sender, rcpt, subject, msgid, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))
            ).encode() + body


def _with_attachment(sender, rcpt, msgid, payload):
    boundary = "b-" + uuid.uuid4().hex
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: attachment\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain\r\n\r\n"
            "see attachment\r\n--%s\r\nContent-Type: application/octet-stream; name=\"eicar.com\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" % (sender, rcpt, msgid, boundary, boundary, boundary)
            ).encode() + base64.encodebytes(payload).replace(b"\n", b"\r\n") + ("--%s--\r\n" % boundary).encode()


def _imap(site, user, proxy="proxy1"):
    m = imaplib.IMAP4(HOSTS[proxy], 143, timeout=30)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
    m.login(user, site.password(user))
    return m


def _find(m, mailbox, msgid):
    typ, _ = m.select(mailbox, readonly=True)
    assert typ == "OK", mailbox
    typ, data = m.search(None, "HEADER", "Message-ID", msgid)
    assert typ == "OK", data
    return data[0].split()


def _wait_for(site, user, msgid, mailbox="INBOX"):
    """The delivered message (raw bytes); fails after DELIVERY_TIMEOUT."""
    m = _imap(site, user)
    try:
        deadline = time.time() + DELIVERY_TIMEOUT
        while True:
            found = _find(m, mailbox, msgid)
            if found:
                assert len(found) == 1, "delivered %d times" % len(found)
                typ, data = m.fetch(found[0], "(BODY.PEEK[])")
                return data[0][1]
            assert time.time() < deadline, "%s not in %s's %s" % (msgid, user, mailbox)
            time.sleep(0.5)
    finally:
        m.logout()


def _header(raw, name):
    m = re.search(rb"^" + name.encode() + rb":[ \t]*(.*)$", raw, re.M | re.I)
    return m.group(1).decode().strip() if m else None


def _assert_no_internal_hop(text, allowed_first_received=True):
    """S7 on a whole message (headers and body): no internal host name or
    address; the only Received: line is the first hop's, at a relay. A relay's
    own bounce (amavisd) says which MTA handed it the message: the relay's
    Postfix over its own loopback, "relayN.example.test ([127.0.0.1])";
    that names no other host and is the one loopback address allowed."""
    text = text.replace("\r\n", "\n")
    text = re.sub(r"^Received-From-MTA: dns; relay[12]\.example\.test \(\[127\.0\.0\.1\]\)$", "", text,
                  flags=re.M)
    head = text.split("\n\n")[0]
    received = re.findall(r"^Received:.*(?:\n[ \t].*)*", head, re.M)
    rest = text
    if allowed_first_received:
        assert len(received) == 1, received
        assert re.search(r"by relay[12]\.example\.test \(Postfix\)", received[0]), received
        rest = text.replace(received[0], "")
    for name in INTERNAL_NAMES:
        assert not re.search(r"\b%s\b" % name, rest), (name, text[:3000])
    for address in INTERNAL_ADDRESSES:
        assert address not in text, (address, text[:3000])


def _refused_at_data(relay, message, rcpt="alice@example.test"):
    with smtplib.SMTP(HOSTS[relay], 25, local_hostname="client.outside.test", timeout=60) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("someone@outside.test", [rcpt], message)
    return e.value.smtp_code, e.value.smtp_error.decode(errors="replace")


def _wait_accepted(relay, rcpt, timeout=10):
    """Until the relay's recipient table has rcpt (a new user or alias is
    accepted at the relays within 10 s, issue 4)."""
    deadline = time.time() + timeout
    while True:
        with smtplib.SMTP(HOSTS[relay], 25, local_hostname="client.outside.test", timeout=30) as s:
            s.ehlo()
            s.mail("someone@outside.test")
            if s.rcpt(rcpt)[0] == 250:
                return
        assert time.time() < deadline, "%s not accepted at %s within %d s" % (rcpt, relay, timeout)
        time.sleep(0.5)


def _send(relay, rcpt, message, sender="someone@outside.test"):
    with smtplib.SMTP(HOSTS[relay], 25, local_hostname="client.outside.test", timeout=60) as s:
        assert not s.sendmail(sender, [rcpt], message)


@pytest.mark.parametrize("relay", ["relay1", "relay2"])
def test_virus_refused_at_data_at_each_relay(ha, relay):
    attached, plain, pattern, clean = _msgid(), _msgid(), _msgid(), _msgid()
    code, text = _refused_at_data(relay, _with_attachment("someone@outside.test", "alice@example.test",
                                                          attached, EICAR))
    assert code == 550 and text.startswith("5.7.1") and "EICAR" in text, (code, text)
    code, text = _refused_at_data(relay, _message("someone@outside.test", "alice@example.test", plain,
                                                  EICAR + b"\r\n"))
    assert code == 550 and "EICAR" in text, (code, text)
    code, text = _refused_at_data(relay, _message("someone@outside.test", "bob@example.test", pattern,
                                                  b"text\r\n" + TEST_PATTERN + b"\r\n"), "bob@example.test")
    assert code == 550 and "EmailNG.E2E.Pattern" in text, (code, text)
    # a clean message sent after them arrives; by then none of them has
    _send(relay, "alice@example.test", _message("someone@outside.test", "alice@example.test", clean))
    _wait_for(ha, "alice@example.test", clean)
    m = _imap(ha, "alice@example.test")
    try:
        for mailbox in ("INBOX", "Junk"):
            assert _find(m, mailbox, attached) == [] and _find(m, mailbox, plain) == []
    finally:
        m.logout()
    assert "EICAR" in ha.log(relay, "clamav-milter.log")


def test_gtube_to_junk_clean_to_inbox(ha):
    spam, clean = _msgid(), _msgid()
    _send("relay1", "alice@example.test", _message("someone@outside.test", "alice@example.test", spam,
                                                   GTUBE + b"\r\n"))
    _send("relay2", "alice@example.test", _message("someone@outside.test", "alice@example.test", clean))
    raw = _wait_for(ha, "alice@example.test", spam, "Junk")
    assert float(_header(raw, "X-Spam-Score")) >= 100, raw[:800]
    assert _header(raw, "X-Spam-Flag") == "YES"
    raw = _wait_for(ha, "alice@example.test", clean, "INBOX")
    assert float(_header(raw, "X-Spam-Score")) < 5.0
    assert _header(raw, "X-Virus-Scanned") == "amavisd-new at example.test"


def test_forged_spam_score_removed_at_the_relay(ha):
    mid = _msgid()
    msg = _message("someone@outside.test", "alice@example.test", mid, GTUBE + b"\r\n")
    msg = msg.replace(b"Subject:", b"X-Spam-Score: -50.0\r\nX-Spam-Flag: NO\r\nSubject:", 1)
    _send("relay1", "alice@example.test", msg)
    raw = _wait_for(ha, "alice@example.test", mid, "Junk")
    assert raw.count(b"X-Spam-Score:") == 1 and b"-50.0" not in raw


@pytest.mark.parametrize("relay", ["relay1", "relay2"])
def test_headers_name_no_internal_hop(ha, relay):
    """S7: client -> relay (milter, amavisd, reinjection) -> store1's Postfix ->
    LMTP via a proxy -> store: only the client's Received: line, at the MX."""
    mid = _msgid()
    _send(relay, "alice@example.test", _message("someone@outside.test", "alice@example.test", mid))
    raw = _wait_for(ha, "alice@example.test", mid)
    text = raw.decode(errors="replace")
    _assert_no_internal_hop(text)
    assert "by %s.example.test (Postfix)" % relay in text


def _submit(site, relay, user, rcpt, message):
    with smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=60) as s:
        s.ehlo()
        s._host = TLS_NAME
        s.starttls(context=ssl.create_default_context(cafile=site.ca))
        s.ehlo()
        s.login(user, site.password(user))
        assert not s.sendmail(user, [rcpt], message)


def _wait_for_bounce(site, user, about):
    """The delivery status notification in user's INBOX whose text names `about`."""
    m = _imap(site, user)
    try:
        deadline = time.time() + DELIVERY_TIMEOUT
        while True:
            m.select("INBOX", readonly=True)
            typ, data = m.search(None, "TEXT", about)
            assert typ == "OK", data
            for num in data[0].split():
                typ, msg = m.fetch(num, "(BODY.PEEK[])")
                raw = msg[0][1]
                if b"report-type=" in raw.split(b"\r\n\r\n")[0]:
                    return raw
            assert time.time() < deadline, "no bounce about %s reached %s" % (about, user)
            time.sleep(0.5)
    finally:
        m.logout()


def test_submitted_virus_quarantined_and_bounced_to_the_sender(ha):
    """Submission is scanned after the queue (ORIGINATING): the virus is
    quarantined on the relay, the authenticated sender gets the bounce, and
    the bounce names no internal host (S7). The quarantine commands work on
    a site of several relays: list every relay's or one (--host), release
    and delete on the relay holding the ID."""
    tag = uuid.uuid4().hex[:8]
    mids = {}
    for n in (1, 2):
        mids[n] = _msgid()
        _submit(ha, "relay2", "bob@example.test", "alice@example.test",
                _message("bob@example.test", "alice@example.test", mids[n], EICAR + b"\r\n",
                         subject="infected-%d-%s" % (n, tag)))
    for n in (1, 2):
        bounce = _wait_for_bounce(ha, "bob@example.test", mids[n].strip("<>"))
        assert b"virus" in bounce.lower(), bounce[:1500]
        _assert_no_internal_hop(bounce.decode(errors="replace"), allowed_first_received=False)
    m = _imap(ha, "alice@example.test")
    try:
        for mid in mids.values():
            assert _find(m, "INBOX", mid) == [] and _find(m, "Junk", mid) == []
    finally:
        m.logout()
    # the quarantine of relay2 holds them; relay1's does not
    out = ha.emailng("quarantine", "list", "--host", "relay2").stdout
    ids = {n: re.findall(r"^(virus-\S+).*infected-%d-%s" % (n, tag), out, re.M) for n in (1, 2)}
    assert len(ids[1]) == 1 and len(ids[2]) == 1, out
    ids = {n: v[0] for n, v in ids.items()}
    assert ids[1] not in ha.emailng("quarantine", "list", "--host", "relay1").stdout
    every = ha.emailng("quarantine", "list").stdout
    assert "== relay1" in every and "== relay2" in every and ids[1] in every, every
    r = ha.emailng("quarantine", "list", "--host", "proxy1", check=False)
    assert r.returncode == 1 and "not a relay" in r.stderr, r.stderr
    # release re-sends through relay2's Postfix, unfiltered: alice gets it once
    r = ha.emailng("quarantine", "release", ids[1])
    assert "released" in r.stdout, r.stdout
    _wait_for(ha, "alice@example.test", mids[1])
    r = ha.emailng("quarantine", "delete", ids[2])
    assert "deleted" in r.stdout
    out = ha.emailng("quarantine", "list", "--host", "relay2").stdout
    assert ids[1] not in out and ids[2] not in out, out
    r = ha.emailng("quarantine", "delete", ids[2], check=False)
    assert r.returncode == 1 and "any relay" in r.stderr, r.stderr


def test_deny_list_files_into_junk_on_the_store(ha):
    """The per-user spam settings reach the store's global Sieve script
    through the store's LDAP userdb: a deny-listed sender goes to Junk with
    a low score."""
    user = "lists%s@example.test" % uuid.uuid4().hex[:6]
    ha.emailng("user", "add", user, "--password-stdin", input="lists-pass-12345\n" * 2)
    r = ha.emailng("user", "spam", user, "--deny", "pest@annoying.test")
    assert "deny: pest@annoying.test" in r.stdout, r.stdout
    denied, other = _msgid(), _msgid()
    _wait_accepted("relay1", user)
    _send("relay1", user, _message("pest@annoying.test", user, denied), sender="pest@annoying.test")
    _send("relay1", user, _message("someone@outside.test", user, other))
    deadline = time.time() + DELIVERY_TIMEOUT
    m = imaplib.IMAP4(HOSTS["proxy1"], 143, timeout=30)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=ha.ca))
    m.login(user, "lists-pass-12345")
    try:
        while not (_find(m, "Junk", denied) and _find(m, "INBOX", other)):
            assert time.time() < deadline, "deny-listed message not in Junk, or the other not in INBOX"
            time.sleep(0.5)
        assert _find(m, "INBOX", denied) == []
        typ, data = m.fetch(_find(m, "Junk", denied)[0], "(BODY.PEEK[HEADER])")
        assert float(_header(data[0][1], "X-Spam-Score")) < 5.0
    finally:
        m.logout()


def test_sieve_reject_bounce_names_no_internal_host(ha):
    """A bounce made on a store (Sieve reject: Dovecot -> the store's Postfix
    -> LMTP via a proxy -> the sender's store) names no internal host (S7)."""
    user = "rejecter%s@example.test" % uuid.uuid4().hex[:6]
    ha.emailng("user", "add", user.split("@")[0], "--password-stdin", input="rejecter-pass-1234\n" * 2)
    script = 'require ["reject"];\nreject "not accepting mail";\n'
    for store in ("store1", "store2"):
        cp = ha.netns(store, "doveadm", "-c", "%s/etc/%s/dovecot/dovecot.conf" % (ha.state, store),
                      "sieve", "put", "-u", user, "-a", "rejecting", input=script)
        if cp.returncode == 0:
            break
    assert cp.returncode == 0, cp.stderr
    mid = _msgid()
    _submit(ha, "relay1", "bob@example.test", user, _message("bob@example.test", user, mid, subject="please"))
    bounce = _wait_for_bounce(ha, "bob@example.test", mid.strip("<>"))
    assert b"not accepting mail" in bounce, bounce[:1500]
    _assert_no_internal_hop(bounce.decode(errors="replace"), allowed_first_received=False)


def _disable_account(site, address):
    """emailngAccountStatus: disabled, by hand over the directory's ldapi (root: SASL EXTERNAL)."""
    socket = os.path.join(site.state, "run", "dir1", "ldapi")
    ldif = ("dn: mail=%s,ou=users,dc=example,dc=test\nchangetype: modify\n"
            "replace: emailngAccountStatus\nemailngAccountStatus: disabled\n" % address)
    cp = subprocess.run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", "ldapi://" + urllib.parse.quote(socket, safe="")],
                        input=ldif, capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr


def test_store_bounce_of_alias_member_names_no_internal_host(ha):
    """A bounce the store's Postfix writes (an alias member whose account was
    disabled in the directory: 550 5.1.1) names neither the store nor the
    proxy (S7): the store's Postfix says mail.example.test (myhostname), its
    body checks replace the proxy's address, its nested header checks drop
    its own Received: line from the returned message. (`user del` takes a
    user out of its aliases; an administrator who disables an account in
    the directory by hand does not.)"""
    gone = "gone%s@example.test" % uuid.uuid4().hex[:6]
    alias = "team%s@example.test" % uuid.uuid4().hex[:6]
    ha.emailng("user", "add", gone, "--password-stdin", input="gone-pass-12345\n" * 2)
    ha.emailng("alias", "add", alias, gone, "bob@example.test")
    _disable_account(ha, gone)
    _wait_accepted("relay1", alias)
    mid = _msgid()
    _submit(ha, "relay1", "alice@example.test", alias, _message("alice@example.test", alias, mid,
                                                                subject="to the team"))
    _wait_for(ha, "bob@example.test", mid)                  # the member that exists got it
    bounce = _wait_for_bounce(ha, "alice@example.test", mid.strip("<>"))
    text = bounce.decode(errors="replace")
    assert "5.1.1" in text and gone in text, text[:2000]
    assert "Reporting-MTA: dns; mail.example.test" in text, text[:2000]
    _assert_no_internal_hop(text, allowed_first_received=False)
