"""End-to-end tests of the content filter (issue 3; F1-F4, S7, X4).

These run against their OWN instance of the small site (own network
namespace, own state directory), started once for this module with a site
file that points clamd at a signature database built here with sigtool
(EICAR and an EmailNG test pattern) and caps the quarantine at 1M. The
session instance of conftest.py is not touched. SpamAssassin runs inside
amavisd with network tests off (the default).
"""

import glob
import json
import os
import re
import socket
import signal
import smtplib
import subprocess
import time
import uuid

import pytest

from conftest import (own_site, SMTP, assert_not_delivered,
                      imap_connect, imap_find, log_tail, make_message, msgid, smtp_send,
                      tls_context, wait_for_message)

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
TEST_PATTERN = b"EMAILNG-E2E-SIGTOOL-PATTERN-31b7c0de"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
QUARANTINE_CAP = 1024 * 1024

SITE = """\
site: {name: filter-e2e}
domains: [example.test]
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
demo_users: true
filter:
  enabled: true
  before_queue: true
  virus_action: quarantine
  spam_junk_level: 5.0
  quarantine: {size: 1M}
  signatures: %s
"""


def build_signatures(folder):
    """A ClamAV database made with sigtool: body patterns (.ndb, any offset)."""
    lines = []
    for name, data in (("EmailNG.E2E.EICAR", EICAR), ("EmailNG.E2E.Pattern", TEST_PATTERN)):
        hexed = subprocess.run(["sigtool", "--hex-dump"], input=data, capture_output=True, check=True).stdout
        lines.append("%s:0:*:%s" % (name, hexed.decode().strip()))
    with open(os.path.join(folder, "emailng-e2e.ndb"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # sigtool checks the file the way clamd loads it
    subprocess.run(["sigtool", "--info", os.path.join(folder, "emailng-e2e.ndb")],
                   capture_output=True)
    os.chmod(folder, 0o755)


def _site_with_test_signatures(state):
    """The filter site's text, its ClamAV databases made in the state directory."""
    sigs = os.path.join(state, "signatures")
    os.mkdir(sigs)
    build_signatures(sigs)
    return SITE % sigs


@pytest.fixture(scope="module")
def fsite():
    with own_site("filter", _site_with_test_signatures, tail=filter_log_tail) as s:
        yield s


def filter_log_tail(site, n=30):
    out = [log_tail(site, n)]
    for name in ("amavisd.log", "clamd.log", "clamav-milter.log"):
        p = os.path.join(site.state, "log", "mail", name)
        try:
            with open(p, errors="replace") as f:
                out.append("== %s\n%s" % (p, "".join(f.readlines()[-n:])))
        except OSError:
            pass
    return "\n".join(out)


def mime_with_attachment(sender, to, mid, payload, filename="eicar.com"):
    import base64
    boundary = "b-" + uuid.uuid4().hex
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: attachment\r\nMessage-ID: %s\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
            "--%s\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
            "--%s\r\nContent-Type: application/octet-stream; name=\"%s\"\r\n"
            "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n"
            % (sender, to, mid, boundary, boundary, boundary, filename, filename)).encode() \
        + b64 + ("--%s--\r\n" % boundary).encode()


def refused_at_data(message, rcpt="alice@example.test"):
    with SMTP(25) as s:
        s.ehlo("client.e2e.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("outside@sender.test", [rcpt], message)
    return e.value.smtp_code, e.value.smtp_error.decode(errors="replace")


def header(raw, name):
    m = re.search(rb"^" + name.encode() + rb":[ \t]*(.*)$", raw, re.M | re.I)
    return m.group(1).decode().strip() if m else None


# --- F2: viruses refused before the queue ------------------------------------

def test_eicar_attachment_refused_at_data(fsite):
    mid = msgid()
    code, text = refused_at_data(mime_with_attachment("outside@sender.test", "alice@example.test", mid, EICAR))
    assert code == 550 and text.startswith("5.7."), (code, text)
    assert "EICAR" in text
    assert_not_delivered(fsite, "alice@example.test", mid, wait=2)
    assert_not_delivered(fsite, "alice@example.test", mid, mailbox="Junk", wait=0)


def test_eicar_plain_body_refused_at_data(fsite):
    mid = msgid()
    msg, _ = make_message("outside@sender.test", "alice@example.test", mid, body=EICAR + b"\r\n")
    code, text = refused_at_data(msg)
    assert code == 550 and text.startswith("5.7."), (code, text)
    assert_not_delivered(fsite, "alice@example.test", mid, wait=2)


def test_sigtool_pattern_refused(fsite):
    mid = msgid()
    msg, _ = make_message("outside@sender.test", "bob@example.test", mid,
                          body=b"some text\r\n" + TEST_PATTERN + b"\r\nmore text\r\n")
    code, text = refused_at_data(msg, "bob@example.test")
    assert code == 550 and "EmailNG.E2E.Pattern" in text, (code, text)


# --- spam tagging and Junk -------------------------------------------------

def test_gtube_to_junk_clean_to_inbox(fsite):
    spam_mid, clean_mid = msgid(), msgid()
    spam, _ = make_message("outside@sender.test", "alice@example.test", spam_mid, body=GTUBE + b"\r\n")
    clean, _ = make_message("outside@sender.test", "alice@example.test", clean_mid)
    smtp_send("outside@sender.test", ["alice@example.test"], spam)
    smtp_send("outside@sender.test", ["alice@example.test"], clean)
    raw = wait_for_message(fsite, "alice@example.test", spam_mid, mailbox="Junk")
    assert float(header(raw, "X-Spam-Score")) >= 100, raw[:600]
    assert header(raw, "X-Spam-Flag") == "YES"
    assert header(raw, "X-Spam-Status").startswith("Yes")
    raw = wait_for_message(fsite, "alice@example.test", clean_mid)
    assert float(header(raw, "X-Spam-Score")) < 5.0
    assert header(raw, "X-Spam-Status").startswith("No")
    assert header(raw, "X-Virus-Scanned") == "amavisd-new at example.test"


def test_headers_name_no_internal_hop(fsite):
    """S7: a message that went MX -> clamav-milter -> amavisd -> reinjection -> LMTP arrives
    with the client's Received: line only; no header names loopback, an internal
    port or daemon, or this machine's own host name (Received-SPF names the public host)."""
    mid = msgid()
    msg, _ = make_message("outside@sender.test", "alice@example.test", mid)
    smtp_send("outside@sender.test", ["alice@example.test"], msg)
    raw = wait_for_message(fsite, "alice@example.test", mid)
    head = raw.split(b"\r\n\r\n")[0].decode().replace("\r\n", "\n")
    received = re.findall(r"^Received:.*(?:\n[ \t].*)*", head, re.M)
    assert len(received) == 1, received
    assert "[127.0.0.2]" in received[0] and "by mail.example.test (Postfix)" in received[0], received
    scanned = [line for line in head.split("\n") if not line.startswith("X-Virus-Scanned:")]
    text = "\n".join(scanned)
    for leak in ("127.0.0.1", "localhost"):      # an internal hop's address
        assert leak not in received[0], (leak, head)
    for leak in ("127.0.0.1", "amavis", "LMTP", "10024", "10025"):
        assert leak not in text, (leak, head)
    assert not re.search(r"\b%s\b" % re.escape(socket.gethostname()), text), head
    assert re.search(r"^Received-SPF: \w+ \(mail\.example\.test:", head, re.M), head


def test_forged_spam_headers_removed(fsite):
    mid = msgid()
    msg, _ = make_message("outside@sender.test", "alice@example.test", mid,
                          extra_headers=("X-Spam-Score: -50.0", "X-Spam-Flag: NO"))
    smtp_send("outside@sender.test", ["alice@example.test"], msg)
    raw = wait_for_message(fsite, "alice@example.test", mid)
    assert raw.count(b"X-Spam-Score:") == 1 and b"-50.0" not in raw


BORDERLINE = (b"<html><body><p>Click here to claim your FREE prize. Act now, limited time offer! "
              b"100% guaranteed, no risk.</p></body></html>\r\n")


def borderline(sender, to, mid):
    return ("From: \"Deals\" <%s>\r\nTo: <%s>\r\nSubject: LIMITED TIME OFFER!!! ACT NOW\r\n"
            "Message-ID: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=us-ascii\r\n\r\n"
            % (sender, to, mid, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))
            ).encode() + BORDERLINE


def test_user_threshold(fsite):
    low, _ = fsite.new_user(prefix="low")
    normal, _ = fsite.new_user(prefix="normal")
    r = fsite.run("user", "spam", low, "--threshold", "1.0", check=True)
    assert "threshold: 1.0" in r.out
    r = fsite.run("user", "spam", low, "--threshold", "11", check=False)
    assert r.rc == 2 and "0.5 to 10.0" in r.err
    m1, m2 = msgid(), msgid()
    smtp_send("deals@sender.test", [low], borderline("deals@sender.test", low, m1))
    smtp_send("deals@sender.test", [normal], borderline("deals@sender.test", normal, m2))
    raw = wait_for_message(fsite, low, m1, mailbox="Junk")
    score = float(header(raw, "X-Spam-Score"))
    assert 1.0 <= score < 5.0, "the borderline message scored %s" % score
    wait_for_message(fsite, normal, m2, mailbox="INBOX")
    # back to the default: the same message now stays in INBOX
    fsite.run("user", "spam", low, "--threshold", "default", check=True)
    m3 = msgid()
    smtp_send("deals@sender.test", [low], borderline("deals@sender.test", low, m3))
    wait_for_message(fsite, low, m3, mailbox="INBOX")


def test_allow_and_deny_lists(fsite):
    user, _ = fsite.new_user(prefix="lists")
    r = fsite.run("user", "spam", user, "--deny", "Pest@Annoying.test", "--allow", "@friends.test", check=True)
    assert "deny: pest@annoying.test" in r.out and "allow: @friends.test" in r.out
    denied, allowed = msgid(), msgid()
    msg, _ = make_message("pest@annoying.test", user, denied)
    smtp_send("pest@annoying.test", [user], msg)
    msg, _ = make_message("anne@friends.test", user, allowed, body=GTUBE + b"\r\n")
    smtp_send("anne@friends.test", [user], msg)
    raw = wait_for_message(fsite, user, denied, mailbox="Junk")
    assert float(header(raw, "X-Spam-Score")) < 5.0
    wait_for_message(fsite, user, allowed, mailbox="INBOX")
    r = fsite.run("user", "spam", user, "--undeny", "pest@annoying.test", check=True)
    assert "deny: none" in r.out
    r = fsite.run("user", "spam", user, "--allow", "not an address", check=False)
    assert r.rc != 0


# --- faults: amavisd killed, mail waits in the queue --------------------------

def amavisd_pid(site):
    with open(os.path.join(site.state, "run", "mail", "amavis", "amavisd.pid")) as f:
        return int(f.read().strip())


def test_amavisd_killed_mail_waits_and_is_delivered_once(fsite):
    user, password = fsite.new_user(prefix="outage")
    pid = amavisd_pid(fsite)
    os.killpg(os.getpgid(pid), signal.SIGKILL)      # the master and its children, mid-stream
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.1)
    mids = [msgid() for _ in range(50)]
    with SMTP(25) as s:
        s.ehlo("client.e2e.test")
        for mid in mids:
            msg, _ = make_message("outside@sender.test", user, mid)
            assert not s.sendmail("outside@sender.test", [user], msg)
    time.sleep(2)
    r = fsite.run("status", "--json")
    assert r.rc == 1, repr(r)                      # something is down
    host = json.loads(r.out)["hosts"][0]
    st = {x["name"]: x for x in host["services"]}
    assert st["amavisd"]["state"] == "down"
    assert st["postfix"]["queue"] >= 1, st["postfix"]
    m = imap_connect(fsite, user, password)
    try:
        assert imap_find(m, mids[0]) == [], "delivered while amavisd was down (unscanned)"
    finally:
        m.logout()
    r = fsite.run("up", timeout=300)
    assert r.rc == 0, repr(r)
    deadline = time.monotonic() + 120
    m = imap_connect(fsite, user, password)
    try:
        while True:
            counts = {mid: len(imap_find(m, mid)) for mid in mids}
            if all(c >= 1 for c in counts.values()) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        m.logout()
    assert all(c == 1 for c in counts.values()), \
        "not exactly once: %r\n%s" % ({k: v for k, v in counts.items() if v != 1}, filter_log_tail(fsite))
    with open(os.path.join(fsite.state, "log", "mail", "postfix.log"), errors="replace") as f:
        assert "status=bounced" not in f.read()


# --- quarantine: bounded under a flood ------------------------------------------

def quarantine_files(site):
    return glob.glob(os.path.join(site.state, "data", "mail", "amavis", "quarantine", "virus-*"))


def test_quarantine_cap_holds_under_flood(fsite):
    """Submitted mail is scanned after the queue: a virus is quarantined
    and the (authenticated) sender gets a bounce, nothing is dropped silently."""
    user, password = fsite.new_user(prefix="flood")
    filler = (b"x" * 76 + b"\r\n") * 1300          # about 100 KB per message
    mids = [msgid() for _ in range(25)]
    with SMTP(587) as s:
        s.ehlo("client.e2e.test")
        s.starttls(context=tls_context(fsite))
        s.ehlo("client.e2e.test")
        s.login(user, password)
        for mid in mids:
            msg, _ = make_message(user, "bob@example.test", mid, body=EICAR + b"\r\n" + filler)
            assert not s.sendmail(user, ["bob@example.test"], msg)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = fsite.run("quarantine", "list", check=True)
        if r.out.count(user) and not subprocess.run(
                ["postqueue", "-c", os.path.join(fsite.state, "etc", "mail", "postfix"), "-p"],
                capture_output=True, text=True).stdout.count(user):
            break
        time.sleep(1)
    files = quarantine_files(fsite)
    total = sum(os.path.getsize(p) for p in files)
    assert files, filter_log_tail(fsite)
    assert total <= QUARANTINE_CAP, "quarantine holds %d bytes, cap %d" % (total, QUARANTINE_CAP)
    assert len(files) < len(mids), "nothing was removed"
    # nothing infected reached bob
    m = imap_connect(fsite, "bob@example.test", fsite.passwords["bob@example.test"])
    try:
        assert all(imap_find(m, mid) == [] for mid in mids)
    finally:
        m.logout()
    # the authenticated sender was told: a delivery status notification in their INBOX
    m = imap_connect(fsite, user, password)
    try:
        deadline = time.monotonic() + 60
        while True:
            m.select("INBOX")
            typ, data = m.search(None, "HEADER", "Content-Type", "report-type=delivery-status")
            assert typ == "OK", data
            if data[0].split():
                break
            assert time.monotonic() < deadline, "no bounce reached the sender %s" % user
            time.sleep(1)
    finally:
        m.logout()
    # list, delete and release
    r = fsite.run("quarantine", "list", check=True)
    ids = re.findall(r"^(virus-\S+)", r.out, re.M)
    assert len(ids) == len(files)
    r = fsite.run("quarantine", "delete", ids[0], check=True)
    assert not os.path.exists(os.path.join(os.path.dirname(files[0]), ids[0]))
    r = fsite.run("quarantine", "delete", "../../etc/passwd")
    assert r.rc == 2
    r = fsite.run("quarantine", "release", ids[-1], check=True)
    assert "released" in r.out


def test_status_lists_filter_daemons(fsite):
    st = fsite.services()
    for name in ("clamd", "amavisd", "clamav-milter"):
        assert st[name]["state"] == "up", st


def test_quarantine_size_in_metrics(fsite):
    """emailng-metricsd counts amavisd's quarantine as `emailng quarantine
    list --json` lists it (messages and bytes, by type), a virus more after
    one more is quarantined; it may list the folder, not read the messages."""
    import grp
    import urllib.request
    from prometheus_client.parser import text_string_to_metric_families

    def metrics():
        with urllib.request.urlopen("http://127.0.0.1:9901/metrics", timeout=10) as r:
            text = r.read().decode()
        return {(s.name, frozenset(s.labels.items())): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    def listed():
        relays = json.loads(fsite.run("quarantine", "list", "--json", check=True).out)["relays"]
        return [m for relay in relays for m in relay["messages"]]

    def by_type(messages, kind):
        chosen = [m for m in messages if m["id"].startswith(kind + "-")]
        return len(chosen), sum(m["bytes"] for m in chosen)

    def figures(m, kind):
        return (m[("emailng_quarantine_messages", frozenset({("type", kind)}))],
                m[("emailng_quarantine_size_bytes", frozenset({("type", kind)}))])

    before = listed()
    m = metrics()
    assert m[("emailng_quarantine_up", frozenset())] == 1.0
    for kind in ("virus", "spam", "banned", "badh", "clean"):
        assert figures(m, kind) == by_type(before, kind), kind

    user, password = fsite.new_user(prefix="qm")
    mid = msgid()
    with SMTP(587) as s:
        s.ehlo("client.e2e.test")
        s.starttls(context=tls_context(fsite))
        s.ehlo("client.e2e.test")
        s.login(user, password)
        msg, _ = make_message(user, "bob@example.test", mid, body=EICAR + b"\r\n")
        assert not s.sendmail(user, ["bob@example.test"], msg)
    deadline = time.monotonic() + 120
    while len(listed()) == len(before):
        assert time.monotonic() < deadline, filter_log_tail(fsite)
        time.sleep(1)
    after = listed()
    assert by_type(after, "virus")[0] == by_type(before, "virus")[0] + 1
    assert figures(metrics(), "virus") == by_type(after, "virus")

    folder = os.path.join(fsite.state, "data", "mail", "amavis", "quarantine")
    st = os.stat(folder)
    assert st.st_gid == grp.getgrnam("emailng-metrics").gr_gid and st.st_mode & 0o777 == 0o750
    assert os.stat(os.path.dirname(folder)).st_mode & 0o777 == 0o751
    metrics_gid = grp.getgrnam("emailng-metrics").gr_gid
    assert grp.getgrnam("amavis").gr_gid not in os.getgrouplist("emailng-metrics", metrics_gid)
    for name in os.listdir(folder):
        f = os.stat(os.path.join(folder, name))
        assert f.st_gid != metrics_gid and f.st_mode & 0o004 == 0, (name, oct(f.st_mode))   # not readable by it
