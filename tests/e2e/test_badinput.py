"""Bad input (X4): hostile user names, protocol abuse (endless lines, bare
LF). Each gets a clear error, loses nothing and leaves the daemons up."""


import pytest

from conftest import (connect, assert_not_delivered, imap_connect, make_message, msgid,
                      smtp_send, wait_for_message)

HOSTILE = {
    "ldap-filter": "*)(uid=*",
    "ldap-filter-addr": "*)(uid=*@example.test",
    "dn-comma": "a,dc=x",
    "dn-comma-addr": "a,dc=x@example.test",
    "newline": "bad\nname@example.test",
    "newline-ldif": "carol@example.test\nmail: alice@example.test",
    "300-chars": "a" * 300,
    "300-chars-addr": "a" * 287 + "@example.test",
    "path": "../../etc@example.test",
    "empty": "",
}


def _users(site):
    return site.run("user", "list", check=True).out


def _aliases(site):
    return site.run("alias", "list", check=True).out


def _refused(r):
    assert r.rc == 1, r
    msg = r.err.strip()
    assert msg.startswith("emailng: ") and len(msg) > len("emailng: ") + 5, r
    assert "Segmentation" not in r.err and "Assertion" not in r.err, r


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_user_name_refused(site, case):
    """X4, U6: a hostile name is refused by `user add`, `user show`, `user passwd`, `user del`,
    `user quota` and `alias add` with exit 1 and an `emailng:` message; the directory is unchanged."""
    name = HOSTILE[case]
    users, aliases = _users(site), _aliases(site)
    _refused(site.run("user", "add", name, "--password-stdin", stdin="Pw-hostile-1\n"))
    _refused(site.run("user", "show", name))
    _refused(site.run("user", "passwd", name, "--password-stdin", stdin="Pw-hostile-2\n"))
    _refused(site.run("user", "quota", name, "1M"))
    _refused(site.run("user", "del", name))
    _refused(site.run("alias", "add", name, "alice@example.test"))
    _refused(site.run("alias", "add", "ok-%s@example.test" % site.unique("al"), name))
    _refused(site.run("alias", "del", name))
    assert _users(site) == users
    assert _aliases(site) == aliases


def test_ldap_filter_injection_reaches_nobody(site, alice):
    """X4, U1: `user show/del` with a wildcard filter neither reveals nor deletes alice."""
    r = site.run("user", "show", "*")
    _refused(r)
    assert alice[0] not in r.out
    _refused(site.run("user", "del", "*@example.test"))
    assert alice[0] in _users(site).split()
    m = imap_connect(site, *alice)
    m.logout()


# --- SMTP protocol abuse ---------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def _read_reply(f):
    """One (possibly multi-line) SMTP reply from a socket file; (code, text) or (None, b'') on close."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return None, b"".join(lines)
        lines.append(line)
        if len(line) >= 4 and line[3:4] == b" ":
            return int(line[:3]), b"".join(lines)


def _raw_smtp():
    s = connect(25, timeout=60)
    f = s.makefile("rb")
    code, text = _read_reply(f)
    assert code == 220, text
    s.sendall(b"EHLO client.e2e.test\r\n")
    code, text = _read_reply(f)
    assert code == 250, text
    return s, f


def _daemons_alive(site, before):
    after = site.services()
    for name in ("slapd", "dovecot", "postfix"):
        assert after[name]["state"] == "up", after[name]
        assert after[name]["pid"] == before[name]["pid"], (name, before[name], after[name])
    mid = msgid()
    message, _ = make_message("bob@example.test", "alice@example.test", mid, subject="after abuse")
    smtp_send("bob@example.test", ["alice@example.test"], message)
    wait_for_message(site, "alice@example.test", mid)


def test_10mb_command_line_without_newline(site):
    """X4: a 10 MB SMTP command line gets a clear refusal (Postfix reads at most
    line_length_limit, discards the rest and answers 501 5.1.7 to the truncated MAIL FROM);
    the daemons stay up and a new SMTP session delivers mail."""
    before = site.services()
    s, f = _raw_smtp()
    code, text = None, b""
    try:
        s.sendall(b"MAIL FROM:<" + b"a" * TEN_MB)
        s.sendall(b">\r\n")
        code, text = _read_reply(f)
    finally:
        s.close()
    assert code is not None and 500 <= code < 600, (code, text[:300])
    _daemons_alive(site, before)


def test_10mb_data_line_without_newline(site):
    """X4: a 10 MB line without newline in DATA is within the 25 MB message size, so Postfix
    accepts it (breaking the line into line_length_limit pieces, as RFC 5321 receivers must
    cope) and the whole message is delivered: nothing is lost; the daemons stay up."""
    user, pw = site.new_user(prefix="longline")
    before = site.services()
    mid = msgid()
    s, f = _raw_smtp()
    code = None
    try:
        s.sendall(b"MAIL FROM:<bob@example.test>\r\n")
        assert _read_reply(f)[0] == 250
        s.sendall(b"RCPT TO:<%s>\r\n" % user.encode())
        assert _read_reply(f)[0] == 250
        s.sendall(b"DATA\r\n")
        assert _read_reply(f)[0] == 354
        s.sendall(b"From: <bob@example.test>\r\nTo: <%s>\r\nSubject: long line\r\nMessage-ID: %s\r\n\r\n"
                  % (user.encode(), mid.encode()))
        s.sendall(b"b" * TEN_MB)
        s.sendall(b"\r\n.\r\n")
        code, text = _read_reply(f)
    finally:
        s.close()
    assert code == 250, (code, text[:300])
    wait_for_message(site, user, mid, password=pw, timeout=60)
    m = imap_connect(site, user, pw)
    try:
        m.select("INBOX")
        typ, data = m.fetch("1", "(RFC822.SIZE)")
        assert typ == "OK"
        size = int(data[0].split(b"RFC822.SIZE ")[1].rstrip(b")"))
        assert size >= TEN_MB, size
    finally:
        m.logout()
    _daemons_alive(site, before)


def _send_bare_lf(mid, smuggled):
    """DATA whose body uses bare LF and contains a bare "\\n.\\n" followed by a smuggled
    transaction; terminated properly with CRLF.CRLF. Returns the final reply."""
    s, f = _raw_smtp()
    try:
        s.sendall(b"MAIL FROM:<bob@example.test>\r\n")
        assert _read_reply(f)[0] == 250
        s.sendall(b"RCPT TO:<alice@example.test>\r\n")
        assert _read_reply(f)[0] == 250
        s.sendall(b"DATA\r\n")
        assert _read_reply(f)[0] == 354
        s.sendall(b"From: <bob@example.test>\r\nTo: <alice@example.test>\r\nSubject: bare lf\r\n"
                  b"Message-ID: " + mid.encode() + b"\r\n\r\n"
                  b"first line\n.\n"
                  b"MAIL FROM:<bob@example.test>\nRCPT TO:<alice@example.test>\nDATA\n"
                  b"Subject: smuggled\nMessage-ID: " + smuggled.encode() + b"\n\nsmuggled\n.\n")
        s.sendall(b"\r\n.\r\n")
        return _read_reply(f)
    finally:
        s.close()


def test_bare_lf_no_smuggled_message(site, alice):
    """X4, S2: a bare "\\n.\\n" inside DATA does not end the message: the SMTP command
    smuggled behind it never becomes a message of its own."""
    mid, smuggled = msgid(), msgid()
    code, text = _send_bare_lf(mid, smuggled)
    assert code is not None, text
    assert_not_delivered(site, alice[0], smuggled, wait=4)


def test_bare_lf_in_data_refused(site, alice):
    """X4, S2: DATA with bare LF line endings is refused with a 5xx
    (smtpd_forbid_bare_newline = reject: "550 5.5.2 Error: bare <LF> received"), and not delivered."""
    mid, smuggled = msgid(), msgid()
    code, text = _send_bare_lf(mid, smuggled)
    assert code is not None and 500 <= code < 600, (code, text)
    assert b"bare <lf>" in text.lower(), text
    assert_not_delivered(site, alice[0], mid, wait=4)
    assert_not_delivered(site, alice[0], smuggled, wait=0)
