"""IMAP and POP3 access: capabilities, no authentication before TLS, IDLE push."""

import imaplib
import poplib
import re
import socket
import time

import pytest

from conftest import IMAP4, POP3, imap_connect, make_message, msgid, smtp_send

REQUIRED_CAPS = {"IDLE", "QUOTA", "NAMESPACE", "SPECIAL-USE", "CONDSTORE"}


def _caps(m):
    typ, data = m.capability()
    assert typ == "OK", data
    return set(data[0].decode().upper().split())


@pytest.mark.parametrize("port", [143, 993])
def test_imap_capabilities_after_login(site, alice, port):
    """C1, C4: after login (143 STARTTLS / 993) IMAP advertises IDLE, QUOTA, NAMESPACE, SPECIAL-USE, CONDSTORE."""
    m = imap_connect(site, *alice, port=port)
    try:
        caps = _caps(m)
        assert "IMAP4REV1" in caps, caps
        missing = REQUIRED_CAPS - caps
        assert not missing, "missing %s in %s" % (missing, caps)
    finally:
        m.logout()


def test_imap143_login_before_starttls_refused(site, alice):
    """C1, X3: on 143 before STARTTLS the server says LOGINDISABLED and refuses LOGIN."""
    m = IMAP4(143)
    try:
        assert "LOGINDISABLED" in m.capabilities, m.capabilities
        assert "STARTTLS" in m.capabilities, m.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            m.login(*alice)
        assert m.state == "NONAUTH"
    finally:
        m.shutdown()


def test_pop3_110_user_pass_before_stls_refused(site, alice):
    """C1, X3: on POP3 110 before STLS, USER/PASS is refused and CAPA offers STLS."""
    p = POP3(110)
    try:
        caps = p.capa()
        assert "STLS" in caps, caps
        with pytest.raises(poplib.error_proto):
            p.user(alice[0])
            p.pass_(alice[1])
    finally:
        p.close()


def test_imap_namespace_and_special_use_mailboxes(site, alice):
    """C1, C2: NAMESPACE answers a personal namespace; LIST shows \\Sent \\Drafts \\Trash \\Junk special-use mailboxes."""
    m = imap_connect(site, *alice)
    try:
        typ, data = m.namespace()
        assert typ == "OK" and data[0].startswith(b"(("), data
        typ, data = m.list()
        assert typ == "OK", data
        flags = b" ".join(d for d in data if d)
        for use in (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk"):
            assert use in flags, (use, data)
    finally:
        m.logout()


def test_imap_idle_push_on_delivery(site, alice):
    """C4: a client in IDLE is told about a newly delivered message (untagged EXISTS)."""
    m = imap_connect(site, *alice)
    try:
        typ, data = m.select("INBOX")
        assert typ == "OK"
        tag = m._new_tag()
        m.send(tag + b" IDLE\r\n")
        line = m.readline()
        assert line.startswith(b"+"), line
        mid = msgid()
        message, _ = make_message("bob@example.test", alice[0], mid, subject="idle push")
        smtp_send("bob@example.test", [alice[0]], message)
        m.sock.settimeout(25)
        deadline = time.monotonic() + 25
        seen = []
        while time.monotonic() < deadline:
            line = m.readline()
            seen.append(line)
            if re.match(rb"\* \d+ EXISTS", line):
                break
        else:
            pytest.fail("no EXISTS during IDLE: %r" % seen)
        assert re.match(rb"\* \d+ EXISTS", seen[-1]), seen
        m.send(b"DONE\r\n")
        while True:
            line = m.readline()
            if line.startswith(tag):
                assert b" OK" in line, line
                break
    finally:
        try:
            m.logout()
        except (imaplib.IMAP4.error, socket.error):
            pass
