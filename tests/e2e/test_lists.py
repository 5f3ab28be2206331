"""Mailing lists (U4): `emailng list`, delivery through emailng-list-deliver
(List-Id, List-Unsubscribe, envelope sender LIST+owner), who may post
(emailng-policyd at RCPT), bounces to the owners and no loops. Small site,
real daemons; docs/admin-manual.md "Mailing lists"."""

import errno
import json
import os
import re
import subprocess
import smtplib
import time

import pytest

from nsd import Nsd

from conftest import (DOMAIN, SMTP, imap_connect, imap_fetch, imap_find, make_message, msgid, split_message,
                      tls_context, wait_for_message)


def _list(site, prefix="list"):
    return "%s@%s" % (site.unique(prefix), DOMAIN)


def _submit(site, user, rcpts, message, envelope=None):
    """Authenticated submission on 587; returns sendmail's refused dict."""
    with SMTP(587, timeout=60) as s:
        s.ehlo("client.e2e.test")
        s.starttls(context=tls_context(site))
        s.ehlo("client.e2e.test")
        s.login(*user)
        return s.sendmail(envelope or user[0], rcpts, message)


def _rcpt(port_sender, rcpt, site=None, login=None):
    """(code, text) of RCPT TO rcpt: port 25 unauthenticated, or 587 logged in."""
    if login is None:
        with SMTP(25, timeout=30) as s:
            s.ehlo("client.e2e.test")
            s.mail(port_sender)
            return s.rcpt(rcpt)
    with SMTP(587, timeout=30) as s:
        s.ehlo("client.e2e.test")
        s.starttls(context=tls_context(site))
        s.ehlo("client.e2e.test")
        s.login(*login)
        s.mail(port_sender)
        return s.rcpt(rcpt)


def _copies(site, user, mid):
    m = imap_connect(site, user, site.passwords[user])
    try:
        return len(imap_find(m, mid))
    finally:
        m.logout()


def _search(site, user, *criteria):
    """UIDs in user's INBOX matching an IMAP SEARCH."""
    m = imap_connect(site, user, site.passwords[user])
    try:
        m.select("INBOX")
        typ, data = m.uid("SEARCH", *criteria)
        assert typ == "OK", data
        return data[0].split() if data and data[0] else []
    finally:
        m.logout()


def _wait_search(site, user, *criteria, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _search(site, user, *criteria)
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("nothing matching %r in %s after %ss" % (criteria, user, timeout))


def _header(raw, name):
    headers, _ = split_message(raw)
    values = []
    for line in headers.decode(errors="replace").replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            values.append(line.split(":", 1)[1].strip())
    return values


@pytest.fixture
def members(site):
    return [site.new_user(prefix="m")[0] for _ in range(3)]


def test_post_reaches_every_member_once_with_list_headers(site, alice, members):
    """U4: an internal list with 3 members + the owner; alice posts by submission -> each member has
    exactly one copy (counted by Message-ID over IMAP), with List-Id, List-Unsubscribe and the list's
    bounce address LIST+owner as Return-Path; `list show --json` shows policy, owner and members."""
    lst = _list(site)
    site.run("list", "create", lst, "--owner", alice[0], check=True)
    site.run("list", "add", lst, *members, alice[0], check=True)
    shown = json.loads(site.run("list", "show", lst, "--json", check=True).out)["lists"]
    assert len(shown) == 1 and shown[0]["policy"] == "internal", shown
    assert shown[0]["owners"] == [alice[0]] and sorted(shown[0]["members"]) == sorted(members + [alice[0]]), shown

    mid = msgid()
    message, body = make_message(alice[0], lst, mid, subject="to the list")
    assert _submit(site, alice, [lst], message) == {}
    local, domain = lst.split("@")
    for user in members + [alice[0]]:
        raw = wait_for_message(site, user, mid)
        assert raw.endswith(body)
        assert _header(raw, "List-Id") == ["<%s.%s>" % (local, domain)], raw[:800]
        assert _header(raw, "List-Unsubscribe") == [
            "<mailto:%s+owner@%s?subject=unsubscribe%%20%s>" % (local, domain, lst)], raw[:800]
        assert _header(raw, "Return-Path") == ["<%s+owner@%s>" % (local, domain)], raw[:800]
    time.sleep(3)       # a second copy would have arrived by now
    for user in members + [alice[0]]:
        assert _copies(site, user, mid) == 1, user


def test_internal_list_refuses_outside_sender_at_rcpt(site, alice, members):
    """U4, S3: mail from outside to an internal list is refused at RCPT (550 5.7.1, saying why)."""
    lst = _list(site)
    site.run("list", "create", lst, "--owner", alice[0], check=True)
    site.run("list", "add", lst, members[0], check=True)
    code, text = _rcpt("stranger@example.org", lst)
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    assert b"only from the organisation's own users" in text, text


def test_internal_list_refuses_spoofed_internal_sender(site, alice, members):
    """U4: an unauthenticated client on port 25 claiming alice's address is refused at RCPT for an
    internal list; the same sender logged in (submission) is accepted."""
    lst = _list(site)
    site.run("list", "create", lst, "--owner", alice[0], check=True)
    site.run("list", "add", lst, members[0], check=True)
    code, text = _rcpt(alice[0], lst)
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    code, text = _rcpt(alice[0], lst, site=site, login=alice)
    assert code == 250, (code, text)


def test_announce_list_only_owner_may_post(site, alice, bob, members):
    """U4: an announce list refuses a member who is no owner (550 5.7.1 'only the owners'), and
    outside senders, and accepts the owner's post, which reaches the members."""
    lst = _list(site, "news")
    site.run("list", "create", lst, "--policy", "announce", "--owner", alice[0], check=True)
    site.run("list", "add", lst, bob[0], *members, check=True)
    code, text = _rcpt(bob[0], lst, site=site, login=bob)
    assert code == 550 and text.startswith(b"5.7.1") and b"only the owners" in text, (code, text)
    code, text = _rcpt("stranger@example.org", lst)
    assert code == 550 and b"only the owners" in text, (code, text)
    mid = msgid()
    message, _ = make_message(alice[0], lst, mid, subject="announcement")
    assert _submit(site, alice, [lst], message) == {}
    for user in [bob[0]] + members:
        wait_for_message(site, user, mid)


def test_open_list_takes_outside_mail(site, alice, members):
    """U4: an open list (e.g. a project with outside partners) accepts mail from outside."""
    lst = _list(site, "proj")
    site.run("list", "create", lst, "--policy", "open", "--owner", alice[0], check=True)
    site.run("list", "add", lst, *members, check=True)
    mid = msgid()
    message, _ = make_message("partner@example.org", lst, mid, subject="from a partner")
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        assert s.sendmail("partner@example.org", [lst], message) == {}
    for user in members:
        wait_for_message(site, user, mid)


def test_member_bounce_reaches_owner_not_poster(site, bob):
    """U4: a member whose mailbox refuses the message (over quota) bounces to LIST+owner, i.e. the
    owner, and not to the poster; the other member gets the message."""
    owner = site.new_user(prefix="owner")[0]
    full = site.new_user(quota="1M", prefix="full")[0]
    other = site.new_user(prefix="m")[0]
    lst = _list(site)
    site.run("list", "create", lst, "--owner", owner, check=True)
    site.run("list", "add", lst, full, other, check=True)
    mid = msgid()
    big = (b"y" * 76 + b"\r\n") * 20000         # 1.5 MB: over the 1M quota and its grace
    message, _ = make_message(bob[0], lst, mid, subject="too big for one", body=big)
    # Without SIZE=: the border's quota check asks with size 0, so the list is accepted and the
    # member's mailbox refuses the copy at delivery.
    with SMTP(587, timeout=60) as s:
        s.ehlo("client.e2e.test")
        s.starttls(context=tls_context(site))
        s.ehlo("client.e2e.test")
        s.login(*bob)
        assert s.mail(bob[0])[0] == 250
        assert s.rcpt(lst)[0] == 250
        assert s.data(message)[0] == 250
    wait_for_message(site, other, mid, timeout=60)
    bounce = _wait_search(site, owner, "FROM", "MAILER-DAEMON", "TEXT", mid, timeout=60)
    assert len(bounce) == 1, bounce
    time.sleep(3)
    assert _search(site, bob[0], "FROM", "MAILER-DAEMON", "TEXT", mid) == []
    assert _copies(site, full, mid) == 0


def test_loops_are_refused_and_a_returning_message_is_not_resent(site, alice, members):
    """U4: a list cannot be its own member, two lists cannot contain each other (`list add` refuses,
    naming the loop); nested lists deliver once to each member; a message that already carries the list's List-Id is not sent to the members
    again (it goes back to the envelope sender as a 5.4.6 bounce)."""
    a, b = _list(site, "la"), _list(site, "lb")
    site.run("list", "create", a, "--owner", alice[0], check=True)
    site.run("list", "create", b, "--owner", alice[0], check=True)
    r = site.run("list", "add", a, a)
    assert r.rc == 1 and "cannot forward to itself" in r.err, r
    site.run("list", "add", a, b, members[0], check=True)
    r = site.run("list", "add", b, a)
    assert r.rc == 1 and "loop" in r.err, r
    site.run("list", "add", b, members[1], check=True)

    # A post to a reaches a's member and, through b, b's member, once each.
    mid = msgid()
    message, _ = make_message(alice[0], a, mid, subject="nested")
    assert _submit(site, alice, [a], message) == {}
    wait_for_message(site, members[0], mid)
    raw = wait_for_message(site, members[1], mid)
    assert len(_header(raw, "List-Id")) == 2, raw[:800]
    time.sleep(2)
    assert _copies(site, members[0], mid) == 1 and _copies(site, members[1], mid) == 1

    # The same message coming back to a (its List-Id inside): not resent, bounced to the sender.
    local, domain = a.split("@")
    mid2 = msgid()
    message, _ = make_message(alice[0], a, mid2, subject="back again",
                              extra_headers=["List-Id: <%s.%s>" % (local, domain)])
    assert _submit(site, alice, [a], message) == {}
    bounce = _wait_search(site, alice[0], "FROM", "MAILER-DAEMON", "TEXT", mid2, timeout=60)
    assert bounce
    m = imap_connect(site, alice[0], alice[1])
    try:
        m.select("INBOX")
        text = imap_fetch(m, bounce[-1])
    finally:
        m.logout()
    assert b"5.4.6" in text and b"mail loop" in text, text[:2000]
    assert _copies(site, members[0], mid2) == 0 and _copies(site, members[1], mid2) == 0


def test_list_add_remove_take_effect(site, alice):
    """U4: `list remove` and `list add` change who gets the next post; an emptied list stays."""
    one = site.new_user(prefix="m")[0]
    two = site.new_user(prefix="m")[0]
    lst = _list(site)
    site.run("list", "create", lst, "--owner", alice[0], check=True)
    site.run("list", "add", lst, one, check=True)
    mid = msgid()
    message, _ = make_message(alice[0], lst, mid, subject="first")
    assert _submit(site, alice, [lst], message) == {}
    wait_for_message(site, one, mid)

    site.run("list", "remove", lst, one, check=True)
    assert json.loads(site.run("list", "show", lst, "--json", check=True).out)["lists"][0]["members"] == []
    site.run("list", "add", lst, two, check=True)
    mid = msgid()
    message, _ = make_message(alice[0], lst, mid, subject="second")
    assert _submit(site, alice, [lst], message) == {}
    wait_for_message(site, two, mid)
    assert _copies(site, one, mid) == 0

    site.run("list", "delete", lst, check=True)
    code, text = _rcpt(alice[0], lst, site=site, login=alice)
    assert code == 550 and text.startswith(b"5.1.1"), (code, text)


def test_list_reinjection_port_only_for_the_list_agent(site):
    """U4: the lists' reinjection listener (127.0.0.1:10037, which expands LIST+members without any
    policy) refuses every local user but emailng-list (the loopback guard)."""
    from test_local_trust import connect_as
    assert connect_as("nobody", [10037]) == {10037: errno.ECONNREFUSED}
    assert connect_as("emailng-list", [10037]) == {10037: 0}


DNS_ADDR = "127.0.0.154"    # this module's nsd (test_dkim's has its own site and address)


def _dkim_verdict(root, dns_zone, raw):
    """OpenDKIM (verify mode, its libunbound asking an nsd that serves what `emailng dns`
    prints) on the message bytes: its output."""
    nsd = Nsd(root, DNS_ADDR, attempts=2)
    nsd.serve({DOMAIN: dns_zone})
    try:
        unbound = os.path.join(root, "verifier-unbound.conf")
        with open(unbound, "w") as f:
            f.write('server:\n    do-not-query-localhost: no\n    local-zone: "test." nodefault\n'
                    'forward-zone:\n    name: "."\n    forward-addr: %s\n' % DNS_ADDR)
        verifier = os.path.join(root, "verifier.conf")
        with open(verifier, "w") as f:
            f.write("Mode v\nSyslog no\nAuthservID verifier.test\nResolverConfiguration %s\n" % unbound)
        path = os.path.join(root, "copy.eml")
        with open(path, "wb") as f:
            f.write(raw.replace(b"\r\n", b"\n"))
        cp = subprocess.run(["opendkim", "-x", verifier, "-t", path], capture_output=True, text=True)
        return cp.stdout + cp.stderr
    finally:
        nsd.stop()


def test_list_copy_keeps_the_posters_dkim_signature(site, alice, tmp_path):
    """U4, DKIM: a member's copy of a submitted post carries the list's headers and the one
    signature our relay made at submission (d=example.test), and that signature still verifies:
    the list adds fields the signature does not cover and changes nothing else."""
    member = site.new_user(prefix="m")[0]
    lst = _list(site)
    site.run("list", "create", lst, "--owner", alice[0], check=True)
    site.run("list", "add", lst, member, check=True)
    mid = msgid()
    message, _ = make_message(alice[0], lst, mid, subject="signed post")
    assert _submit(site, alice, [lst], message) == {}
    raw = wait_for_message(site, member, mid)
    headers = split_message(raw)[0].decode(errors="replace")
    assert _header(raw, "List-Id"), headers
    sigs = re.findall(r"^DKIM-Signature:.*?\bd=([^;\s]+)", headers, re.M | re.I | re.S)
    assert sigs == [DOMAIN], headers
    root = str(tmp_path)
    os.chmod(root, 0o755)
    zone = site.run("dns", "--domain", DOMAIN, check=True).out
    verdict = _dkim_verdict(root, zone, raw)
    assert re.search(r"verification \(s=[^,]+, d=%s, 2048-bit key\) succeeded" % re.escape(DOMAIN), verdict), verdict
