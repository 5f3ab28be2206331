"""The border policy server (emailng-policyd) through the real Postfix:
over-quota members of an alias (S4), send limits (S5), SPF (S6) and
greylisting.

These tests need policy settings the session site does not have (a
per-user send limit, greylisting for one domain, SPF against a test DNS
server, XCLIENT for the test client), so this module runs its own
small-site instance in its own network namespace (same standard ports, no
clash with the session instance) with its own state directory, and an
authoritative DNS server (Debian's nsd) on 127.0.0.153 serving the test
zone spf.test. The policy server's SPF helper reads a resolv.conf naming
that server (policy.spf.resolv_conf)."""

import base64
import os
import shutil
import tempfile
import time
import uuid

import pytest

from nsd import Nsd
from conftest import (DOMAIN, SMTP, NetNS, Site, imap_storage, log_tail, make_message, msgid,
                      tls_context, wait_for_message)

DNS_ADDR = "127.0.0.153"
GREY_DOMAIN = "grey.test"
GREY_DELAY = 3
LIMITED = "limited@example.test"

ZONE = """pass     IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail     IN TXT "v=spf1 -all"
"""

SITE = """\
site: {{name: policy-e2e}}
domains: [example.test, {grey}]
hosts:
  - {{name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}}
tls: {{names: [mail.example.test, localhost, 127.0.0.1]}}
demo_users: true
{filter}policy:
  limits:
    overrides:
      {limited}: {{msgs_per_hour: 10}}
  spf: {{enabled: true, reject_fail: true, resolv_conf: {resolv}}}
  greylist: {{enabled: false, domains: [{grey}], delay: {delay}}}
  xclient_hosts: [127.0.0.2]
"""


def _filter_off(site):
    """`filter: {enabled: false}` if this version has the content filter (it is
    not what these tests are about, and amavisd takes long to start)."""
    probe = os.path.join(site.state, "probe.yaml")
    with open(probe, "w") as f:
        f.write("domains: [example.test]\nfilter: {enabled: false}\n")
    ok = site.run("check", "--site", probe, state=False).rc == 0
    os.unlink(probe)
    return "filter: {enabled: false}\n" if ok else ""


@pytest.fixture(scope="module")
def psite():
    if not shutil.which("nsd"):
        pytest.fail("nsd is not installed: run scripts/install-deps.sh (the SPF tests need a real DNS server)")
    parent = os.environ.get("EMAILNG_E2E_TMP", tempfile.gettempdir())
    state = tempfile.mkdtemp(prefix="emailng-e2e-policy-", dir=parent)
    dnsroot = tempfile.mkdtemp(prefix="emailng-e2e-dns-", dir=parent)
    os.chmod(state, 0o755)
    os.chmod(dnsroot, 0o755)
    # Nested: returns to the session's namespace (if any) at the end.
    with NetNS("emailng-e2e-policy-%d" % os.getpid()):
        s = Site(state)
        nsd = Nsd(dnsroot, DNS_ADDR)
        nsd.serve({"spf.test": ZONE})
        try:
            site_file = os.path.join(state, "policy-site.yaml")
            with open(site_file, "w") as f:
                f.write(SITE.format(grey=GREY_DOMAIN, limited=LIMITED, resolv=nsd.resolv,
                                    delay=GREY_DELAY, filter=_filter_off(s)))
            r = s.run("up", "--site", site_file, timeout=180)
            assert r.rc == 0, "emailng up failed: %r\n%s" % (r, log_tail(s))
            s.load_passwords()
            yield s
        finally:
            r = s.run("down", timeout=120)
            if r.rc != 0:
                print("emailng down failed: %r" % r)
            nsd.stop()
    if os.environ.get("EMAILNG_E2E_KEEP"):
        print("policy test state kept in", state)
    else:
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(dnsroot, ignore_errors=True)


def _policyd_log(site):
    try:
        with open(os.path.join(site.state, "log", "mail", "policyd.log"), errors="replace") as f:
            return "".join(f.readlines()[-30:])
    except OSError:
        return ""


def _body(size):
    raw = base64.b64encode(os.urandom(size * 3 // 4))
    return b"\r\n".join(raw[i:i + 76] for i in range(0, len(raw), 76)) + b"\r\n"


def _send(site, sender, rcpt, body=None, subject="policy e2e"):
    """One message on port 25 (announcing SIZE); returns its Message-ID."""
    mid = msgid()
    message, _ = make_message(sender, rcpt, mid, subject=subject, body=body)
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        assert s.mail(sender, ["SIZE=%d" % len(message)])[0] == 250
        code, msg = s.rcpt(rcpt)
        assert code == 250, (code, msg, _policyd_log(site))
        code, msg = s.data(message)
        assert code == 250, (code, msg)
    return mid


def _xclient(s, addr):
    """XCLIENT ADDR=addr (allowed for 127.0.0.2 by policy.xclient_hosts), then EHLO again."""
    code, msg = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE]" % addr)
    assert code == 220, (code, msg)
    s.ehlo_resp = None
    s.esmtp_features = {}
    s.ehlo("mx.sender.example")


def test_policyd_runs_as_a_service(psite):
    """`emailng status` lists policyd (its unix socket, no port) next to the other
    daemons; its table holds the demo users."""
    services = psite.services()
    assert services["policyd"]["state"] == "up" and services["policyd"]["ports"] == [], services
    assert services["policyd"]["local"] == "policy socket", services
    with open(os.path.join(psite.state, "data", "mail", "policyd", "table")) as f:
        table = f.read()
    assert table.splitlines()[1] == "emailng-policyd-table 1", table
    assert "mailbox alice@example.test pair1" in table and "limit %s msgs_per_hour=10" % LIMITED in table


def _policy_as(user, groups, path=None, port=None):
    """A policy request from a child process running as user (with these
    supplementary groups) to the unix socket path or TCP 127.0.0.1:port:
    the answer, or "refused: ERROR"."""
    import pwd
    import socket
    pw = pwd.getpwnam(user)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups(groups)
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            try:
                if path:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(10)
                    s.connect(path)
                else:
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\nprotocol_name=ESMTP\n"
                          b"sasl_username=bob@example.test\nclient_address=127.0.0.1\nsender=bob@example.test\n"
                          b"recipient_count=1\ninstance=evil.1\n\n")
                data = b""
                while not data.endswith(b"\n\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                out = data.decode() if data else "refused: closed"
            except OSError as e:
                out = "refused: %s" % type(e).__name__
            os.write(w, out.encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return out.decode()


def test_policyd_answers_only_postfix(psite):
    """Local trust: the rendered site's policyd is a unix socket in a directory only
    root and group postfix may enter (0750), the socket 0660 group postfix, and no
    TCP port. Another local user (nobody) gets no answer; one that could open the
    socket (nobody in group postfix) is refused by the daemon (SO_PEERCRED) with one
    log line; postfix itself is answered (and Postfix uses it: the other tests)."""
    import grp
    import stat
    postfix = grp.getgrnam("postfix").gr_gid
    sockdir = os.path.join(psite.state, "run", "mail", "policyd")
    path = os.path.join(sockdir, "policy")
    st = os.stat(sockdir)
    assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_uid == 0 and st.st_gid == postfix, oct(st.st_mode)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == postfix
    with open(os.path.join(psite.state, "etc", "mail", "postfix", "main.cf")) as f:
        main_cf = f.read()
    assert main_cf.count("check_policy_service { unix:%s," % path) == 2, main_cf
    assert "inet:127.0.0.1:10040" not in main_cf
    assert _policy_as("nobody", [], path=path) == "refused: PermissionError"
    assert _policy_as("nobody", [], port=10040) == "refused: ConnectionRefusedError"
    before = _policyd_log(psite).count("refusing a connection from uid")
    assert _policy_as("nobody", [postfix], path=path).startswith("refused: ")
    deadline = time.time() + 10
    while time.time() < deadline:
        log = _policyd_log(psite)
        if log.count("refusing a connection from uid") > before:
            break
        time.sleep(0.2)
    assert log.count("refusing a connection from uid") == before + 1, log
    assert _policy_as("postfix", [], path=path).startswith("action=DUNNO"), _policyd_log(psite)


def test_alias_with_over_quota_member_refused_at_rcpt(psite):
    """S4: an alias with one member over quota (beyond its grace) is refused at RCPT with
    552 5.2.2; the same message to a member with room is accepted and delivered.
    The users and the alias are created after the daemon started (table re-export)."""
    full, full_pw = psite.new_user(quota="1M", prefix="full")
    room, room_pw = psite.new_user(prefix="room")
    alias = "%s@%s" % (psite.unique("list"), DOMAIN)
    psite.run("alias", "add", alias, full, room, check=True)

    # 800 KB, then 250 KB: within the grace (1M + 10%), so both are delivered
    # and the mailbox is then over its quota.
    for size in (800 * 1024, 250 * 1024):
        mid = _send(psite, "bob@example.test", full, body=_body(size))
        wait_for_message(psite, full, mid, password=full_pw)
    used, limit = imap_storage(psite, full, full_pw)
    assert used > limit == 1024, (used, limit)

    mid = msgid()
    message, _ = make_message("bob@example.test", alias, mid, subject="to the list")
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        assert s.mail("bob@example.test", ["SIZE=%d" % len(message)])[0] == 250
        code, msg = s.rcpt(alias)
        assert code == 552 and msg.startswith(b"5.2.2"), (code, msg, _policyd_log(psite))
        assert b"member of this list is full" in msg, msg
        # The member with room, in the same transaction, is accepted.
        code, msg = s.rcpt(room)
        assert code == 250, (code, msg)
        code, msg = s.data(message)
        assert code == 250, (code, msg)
    got = wait_for_message(psite, room, mid, password=room_pw)
    assert b"to the list" in got


def _submit(site, user, password, rcpt, n):
    """n messages over submission (587, STARTTLS, AUTH) in one session;
    returns the (code, msg) of the first refused RCPT, or None."""
    with SMTP(587, timeout=60) as s:
        s.ehlo("client.e2e.test")
        s.starttls(context=tls_context(site))
        s.ehlo("client.e2e.test")
        s.login(user, password)
        for i in range(n):
            message, _ = make_message(user, rcpt, msgid(), subject="limit %d" % i)
            assert s.mail(user)[0] == 250
            code, msg = s.rcpt(rcpt)
            if code != 250:
                s.rset()
                return i, (code, msg)
            code, msg = s.data(message)
            assert code == 250, (i, code, msg)
    return n, None


def test_eleventh_message_in_an_hour_deferred(psite):
    """S5: a user limited to 10 messages an hour (policy.limits.overrides) gets 450 4.7.1
    for the 11th; a user with the site default (100) sends 11 without trouble."""
    password = "Pw-" + uuid.uuid4().hex
    psite.run("user", "add", LIMITED, "--password-stdin", stdin=password + "\n", check=True)
    sent, refused = _submit(psite, LIMITED, password, "bob@example.test", 11)
    assert sent == 10 and refused is not None, (sent, refused, _policyd_log(psite))
    code, msg = refused
    assert code == 450 and msg.startswith(b"4.7.1"), refused
    assert b"10 messages in the last hour" in msg, msg
    # Still deferred in a new session.
    sent, refused = _submit(psite, LIMITED, password, "bob@example.test", 1)
    assert sent == 0 and refused[0] == 450, refused

    other, other_pw = psite.new_user(prefix="unlimited")
    sent, refused = _submit(psite, other, other_pw, "bob@example.test", 11)
    assert sent == 11 and refused is None, (sent, refused)


def test_spf_fail_refused_550_5_7_23(psite):
    """S6: mail from a domain whose SPF record (served by the test DNS) says -all, from a
    client it does not allow, is refused with 550 5.7.23; mail from an allowed client of
    another domain is accepted with a Received-SPF: pass header."""
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        assert s.has_extn("xclient"), "XCLIENT not offered to the test client"
        _xclient(s, "198.51.100.7")
        assert s.mail("someone@fail.spf.test")[0] == 250
        code, msg = s.rcpt("bob@example.test")
        assert code == 550 and msg.startswith(b"5.7.23"), (code, msg, _policyd_log(psite))

    mid = msgid()
    message, _ = make_message("someone@pass.spf.test", "bob@example.test", mid, subject="spf pass")
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        _xclient(s, "192.0.2.10")
        assert s.mail("someone@pass.spf.test")[0] == 250
        code, msg = s.rcpt("bob@example.test")
        assert code == 250, (code, msg, _policyd_log(psite))
        assert s.data(message)[0] == 250
    got = wait_for_message(psite, "bob@example.test", mid)
    assert b"Received-SPF: pass" in got, got[:1500]


def _received_spf_fields(value):
    """Reads a Received-SPF value after RFC 7208 9.1 (RFC 5322 CFWS, dot-atom,
    quoted-string): (result, [(key, decoded value), ...]); AssertionError when
    it does not follow the grammar."""
    atext = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")
    assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in value), value
    i, n = 0, len(value)

    def cfws(i):
        while i < n and (value[i] in " \t" or value[i] == "("):
            if value[i] == "(":
                depth = 0
                while True:
                    assert i < n, "comment not closed: %r" % value
                    c = value[i]
                    if c == "\\":
                        i += 2
                        continue
                    depth += (c == "(") - (c == ")")
                    i += 1
                    if depth == 0:
                        break
            else:
                i += 1
        return i

    j = i
    while j < n and value[j].isalpha():
        j += 1
    result = value[i:j]
    assert result in ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"), value
    i = cfws(j)
    fields = []
    while i < n:
        j = i
        while j < n and (value[j].isalnum() or value[j] in "-_."):
            j += 1
        assert j > i, "no key at %d: %r" % (i, value)
        key = value[i:j]
        i = cfws(j)
        assert value[i:i + 1] == "=", "no '=' after %s: %r" % (key, value)
        i = cfws(i + 1)
        if value[i:i + 1] == '"':
            i += 1
            out = []
            while True:
                assert i < n, "quoted string not closed: %r" % value
                c = value[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    i += 1
                    c = value[i]
                out.append(c)
                i += 1
            val = "".join(out)
        else:
            j = i
            while j < n and (value[j] in atext or (value[j] == "." and j > i and j + 1 < n
                                                    and value[j + 1] in atext)):
                j += 1
            assert j > i, "no value for %s: %r" % (key, value)
            val = value[i:j]
            i = j
        fields.append((key, val))
        i = cfws(i)
        if i < n:
            assert value[i] == ";", "no ';' after %s: %r" % (key, value)
            i = cfws(i + 1)
    return result, fields


def test_received_spf_hostile_sender_quoted(psite):
    """S6, RFC 7208 9.1: an envelope sender made to look like more fields
    (a quoted local part with '"', ';', '=', '(' and '\\') gets a Received-SPF
    header whose fields are exactly the real ones, with the sender intact in
    envelope-from; nothing it holds becomes a field of its own."""
    local = 'x\\"; identity=helo; receiver=evil (y\\\\'
    envelope = '"%s"@pass.spf.test' % local         # as written in MAIL FROM
    sender = 'x"; identity=helo; receiver=evil (y\\@pass.spf.test'   # as Postfix hands it on
    mid = msgid()
    message, _ = make_message("someone@pass.spf.test", "bob@example.test", mid, subject="spf hostile")
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        _xclient(s, "192.0.2.10")
        code, msg = s.docmd("MAIL FROM:<%s>" % envelope)
        assert code == 250, (code, msg)
        code, msg = s.rcpt("bob@example.test")
        assert code == 250, (code, msg, _policyd_log(psite))
        assert s.data(message)[0] == 250
    got = wait_for_message(psite, "bob@example.test", mid)
    head = got.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    values = [h.split(b":", 1)[1].replace(b"\n", b"").strip().decode()
              for h in head.replace(b"\n\t", b"\t").replace(b"\n ", b" ").split(b"\n")
              if h.lower().startswith(b"received-spf:")]
    assert len(values) == 1, head.decode(errors="replace")
    result, fields = _received_spf_fields(values[0])
    assert result == "pass", values[0]
    assert [k for k, _ in fields] == ["receiver", "client-ip", "envelope-from", "helo", "identity"], values[0]
    got_fields = dict(fields)
    assert got_fields["envelope-from"] == sender, values[0]
    assert got_fields["identity"] == "mailfrom" and got_fields["client-ip"] == "192.0.2.10", values[0]
    assert got_fields["receiver"] == "mail.example.test" and got_fields["helo"] == "mx.sender.example", values[0]


def test_greylisting_first_attempt_450_retry_accepted(psite):
    """Greylisting (on for grey.test only): the first attempt gets 450 4.7.1, a retry after
    the delay is accepted and delivered."""
    user = "%s@%s" % (psite.unique("grey"), GREY_DOMAIN)
    password = "Pw-" + uuid.uuid4().hex
    psite.run("user", "add", user, "--password-stdin", stdin=password + "\n", check=True)
    sender = "%s@sender.example" % psite.unique("s")
    mid = msgid()
    message, _ = make_message(sender, user, mid, subject="greylisted")

    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        assert s.mail(sender)[0] == 250
        code, msg = s.rcpt(user)
        assert code == 450 and msg.startswith(b"4.7.1") and b"Greylisted" in msg, (code, msg)
        # Mail to a domain without greylisting is not delayed.
        s.rset()
        assert s.mail(sender)[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250

    time.sleep(GREY_DELAY + 1)
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        assert s.mail(sender)[0] == 250
        code, msg = s.rcpt(user)
        assert code == 250, (code, msg, _policyd_log(psite))
        assert s.data(message)[0] == 250
    wait_for_message(psite, user, mid, password=password)
