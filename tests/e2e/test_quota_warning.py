"""Quota warnings (issue 13, U2): a user's mailbox crossing 80 % and 95 % of
the quota gets one notice each time, delivered by Dovecot's quota-warning
service (templates/dovecot/quota-warning.sh, dovecot-lda) into INBOX.

A fresh user with a 1M quota fills the mailbox with IMAP APPEND (the quota
counts every save, not only deliveries). The notices are counted by
Subject; usage comes from GETQUOTAROOT."""

import json
import os
import time

from conftest import imap_connect, imap_storage
from quota_filler import NOTICE, append_filler, poll

QUOTA = 1024 * 1024
NOTICE_TIMEOUT = 30


def _append(site, user, password, size, n):
    append_filler(lambda: imap_connect(site, user, password), size, n)


def _notices(site, user, password):
    """{percent: count} of quota notices in INBOX."""
    m = imap_connect(site, user, password)
    try:
        m.select("INBOX", readonly=True)
        out = {}
        for pct in (80, 95):
            typ, data = m.search(None, "SUBJECT", '"%s"' % (NOTICE % pct))
            assert typ == "OK", data
            out[pct] = len(data[0].split())
        return out
    finally:
        m.logout()


def _wait_notices(site, user, password, want):
    return poll(lambda: _notices(site, user, password), lambda got: got == want, NOTICE_TIMEOUT, 0.3)


def test_notices_at_80_and_95_percent_once_per_crossing(site):
    user, password = site.new_user(quota="1M", prefix="qw")
    _append(site, user, password, 300_000, 1)
    _append(site, user, password, 300_000, 2)
    assert _notices(site, user, password) == {80: 0, 95: 0}
    _append(site, user, password, 300_000, 3)                 # ~86 %: crosses 80
    assert _wait_notices(site, user, password, {80: 1, 95: 0}) == {80: 1, 95: 0}
    _append(site, user, password, 120_000, 4)                 # ~97 %: crosses 95
    assert _wait_notices(site, user, password, {80: 1, 95: 1}) == {80: 1, 95: 1}
    used_kib, limit_kib = imap_storage(site, user, password)
    assert limit_kib == QUOTA // 1024 and used_kib * 1024 > 0.95 * QUOTA, (used_kib, limit_kib)
    _append(site, user, password, 2_000, 5)                   # still over 95: no new notice
    time.sleep(3)
    assert _notices(site, user, password) == {80: 1, 95: 1}

    # Below again (two fillers expunged), then over 80 % once more: a new notice.
    m = imap_connect(site, user, password)
    try:
        m.select("INBOX")
        for n in (3, 4):
            typ, data = m.search(None, "SUBJECT", '"filler %d"' % n)
            assert typ == "OK" and len(data[0].split()) == 1, data
            m.store(data[0].split()[0], "+FLAGS", "\\Deleted")
        m.expunge()
    finally:
        m.logout()
    used_kib, _ = imap_storage(site, user, password)
    assert used_kib * 1024 < 0.8 * QUOTA, used_kib
    _append(site, user, password, 300_000, 6)
    assert _wait_notices(site, user, password, {80: 2, 95: 1}) == {80: 2, 95: 1}


def test_notice_reads_as_a_notice(site):
    """The notice: from postmaster of the primary domain, to the user, marked
    auto-generated (RFC 3834: no vacation reply to it), with the percentage."""
    user, password = site.new_user(quota="1M", prefix="qw")
    for n in range(3):
        _append(site, user, password, 300_000, n)
    assert _wait_notices(site, user, password, {80: 1, 95: 0}) == {80: 1, 95: 0}
    m = imap_connect(site, user, password)
    try:
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "SUBJECT", '"Your mailbox is 80% full"')
        typ, data = m.fetch(data[0].split()[0], "(BODY.PEEK[])")
        raw = [p[1] for p in data if isinstance(p, tuple)][0].decode()
    finally:
        m.logout()
    head, _, body = raw.partition("\r\n\r\n")
    assert "From: Mail system <postmaster@example.test>" in head
    assert "To: %s" % user in head
    assert "Auto-Submitted: auto-generated" in head
    assert "Message-ID: <quota-warning." in head and "Date: " in head
    assert "Your mailbox %s is now 80%% full." % user in body
    # One line per notice in the store's notice log (written as vmail).
    with open(os.path.join(site.state, "log", "mail", "quota-warning.log")) as f:
        lines = [l for l in f if user in l]
    assert len(lines) == 1 and "saved mail to INBOX" in lines[0], lines


def test_user_list_quota_from_the_stores(site):
    """`user list --quota` reads usage and limit from the stores (doveadm),
    fullest first; `--over PERCENT` keeps those at or above it."""
    full, full_pw = site.new_user(quota="1M", prefix="qfull")
    half, half_pw = site.new_user(quota="2M", prefix="qhalf")
    _append(site, full, full_pw, 300_000, 1)
    _append(site, full, full_pw, 300_000, 2)                 # ~57 %
    _append(site, half, half_pw, 300_000, 1)                 # ~14 %
    r = site.run("user", "list", "--quota", "--json", check=True)
    users = json.loads(r.out)["users"]
    by_address = {u["address"]: u for u in users}
    for address, password in ((full, full_pw), (half, half_pw)):
        used_kib, limit_kib = imap_storage(site, address, password)
        u = by_address[address]
        assert u["used_bytes"] == used_kib * 1024 and u["limit_bytes"] == limit_kib * 1024, (u, used_kib)
        assert u["pair"] == "pair1"
        assert abs(u["percent"] - 100.0 * used_kib / limit_kib) < 0.05, u
    percents = [u["percent"] for u in users if u["percent"] is not None]
    assert percents == sorted(percents, reverse=True)
    assert [u["address"] for u in users].index(full) < [u["address"] for u in users].index(half)
    r = site.run("user", "list", "--quota", "--over", "50", "--json", check=True)
    over = [u["address"] for u in json.loads(r.out)["users"]]
    assert full in over and half not in over
    assert all(u["percent"] >= 50 for u in json.loads(r.out)["users"])
    r = site.run("user", "list", "--quota", "--over", "50", check=True)
    lines = r.out.splitlines()
    assert lines[0].split() == ["ADDRESS", "USED", "LIMIT", "USED%", "PAIR"]
    row = [l.split() for l in lines if l.startswith(full + " ")]
    assert len(row) == 1 and row[0][2] == "1.0M" and row[0][4] == "pair1", lines
    r = site.run("user", "list", "--over", "lots")
    assert r.rc == 2 and "--over" in r.err
