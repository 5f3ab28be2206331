"""Full-text search on a store pair (M5 with M3/M4; docs/admin-manual.md "Search").

Each store keeps its own Xapian index (dsync replicates mail, not
indexes). A message delivered by LMTP to the active store (store1) is
indexed there at delivery; replication saves it on store2, which indexes
it in turn, before any search ran there (`doveadm fts lookup` reads the
index alone). After `emailng node drain store1` the proxies send alice to
store2, and IMAP SEARCH BODY through mail.example.test finds exactly that
message there (store2's log shows the login). `emailng fts reindex` runs
on both stores. The pair is given back to store1 at the end.

search.fts is opt-in (fts-xapian misses short words), so the module turns
it on for its test: the session's site file with `search: {fts: true}`,
`emailng up` (only the stores' Dovecot restarts), and back at the end.
"""

import imaplib
import os
import random
import re
import ssl
import subprocess
import time
import uuid

import pytest

from conftest import DOMAIN, HOSTS, TLS_NAME

USER = "alice@" + DOMAIN
TIMEOUT = 90.0          # replication and indexing (test_replication.py: a sync may wait up to 30-60 s)
SWITCH_TIMEOUT = 20.0
RETURN_TIMEOUT = 180.0   # a restarted primary returns when caught up (the check may wait 30-90 s)

LMTP_SCRIPT = r"""
import smtplib, sys
host, rcpt, msgid, word = sys.argv[1:5]
body = ("From: someone@outside.test\r\nTo: %s\r\nSubject: project notes\r\nMessage-ID: %s\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nThe %s samples arrived; see you on Monday.\r\n"
        % (rcpt, msgid, word))
with smtplib.LMTP(host, 24, timeout=30) as s:
    s.sendmail("someone@outside.test", [rcpt], body)
"""


def _ns(site, host):
    return ["ip", "netns", "exec", "%s-%s" % (site.prefix, host)]


def _doveadm(site, store, *args):
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(_ns(site, store) + ["doveadm", "-c", conf, *args], capture_output=True, text=True,
                        timeout=120)
    assert cp.returncode == 0, "doveadm %s on %s: %s%s" % (" ".join(args), store, cp.stdout, cp.stderr)
    return cp.stdout


def _index_has(site, store, word):
    """Does store's index alone (no message read) find word in alice's INBOX?"""
    out = _doveadm(site, store, "fts", "lookup", "-u", USER, "mailbox", "INBOX", "body", word)
    m = re.search(r"^INBOX: (.*)$", out, re.M)
    assert m, out
    return m.group(1).strip() != "no results"


def _count(site, store, msgid):
    out = _doveadm(site, store, "-o", "plugin/fts=", "search", "-u", USER, "mailbox", "INBOX", "header",
                   "Message-ID", msgid)
    return len([l for l in out.splitlines() if l.strip()])


def _wait(what, predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within %.0f s: %s" % (timeout, what)
        time.sleep(0.3)


def _table(site, proxy):
    with open(os.path.join(site.state, "data", proxy, "healthd", "pairs")) as f:
        return f.read()


def _pair_on(site, store):
    return all(_table(site, p) == "pair1 %s\n" % HOSTS[store] for p in ("proxy1", "proxy2"))


def _logins(site, store):
    return site.log(store, "dovecot.log").count("imap-login: Info: Login: user=<%s>" % USER)


def _imap_body_search(site, proxy, word):
    """UIDs of SEARCH BODY word, logged in through proxy (mail.example.test)."""
    m = imaplib.IMAP4(HOSTS[proxy], 143, timeout=30)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
    m.login(USER, site.password(USER))
    try:
        assert m.select("INBOX")[0] == "OK"
        typ, data = m.uid("SEARCH", "BODY", word)
        assert typ == "OK", data
        return data[0].split()
    finally:
        m.logout()


@pytest.fixture(scope="module")
def fts_on(ha):
    with open(os.path.join(ha.state, "site.yaml")) as f:
        text = f.read()
    assert "search: {fts: false}" in text, "ha-site.yaml: search section changed"
    path = os.path.join(ha.state, "site-fts.yaml")
    with open(path, "w") as f:
        f.write(text.replace("search: {fts: false}", "search: {fts: true}", 1))
    original = os.path.join(ha.state, "site-without-fts.yaml")
    with open(original, "w") as f:
        f.write(text)
    # `up` restarts the stores' Dovecot: the monitors send pair1 to store2
    # meanwhile, and back to store1 once it is up and caught up.
    ha.emailng("up", "--site", path)
    _wait("pair1 back on store1 after turning FTS on", lambda: _pair_on(ha, "store1"), RETURN_TIMEOUT)
    try:
        yield
    finally:
        ha.emailng("up", "--site", original)
        _wait("pair1 back on store1 after turning FTS off", lambda: _pair_on(ha, "store1"), RETURN_TIMEOUT)


def test_message_indexed_on_both_stores_is_found_after_a_switch(ha, fts_on):
    assert _pair_on(ha, "store1")
    word = "fts" + "".join(random.choice("bcdfghjklmnpqrstvwxz") for _ in range(9))
    msgid = "<fts-%s@example.test>" % uuid.uuid4().hex
    cp = subprocess.run(_ns(ha, "proxy1") + ["python3", "-c", LMTP_SCRIPT, HOSTS["store1"], USER, msgid, word],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    # Indexed at delivery on the active store, at replication on the other.
    _wait("the word in store1's index", lambda: _index_has(ha, "store1", word))
    _wait("the message replicated to store2", lambda: _count(ha, "store2", msgid) == 1)
    _wait("the word in store2's index (no search ran there)", lambda: _index_has(ha, "store2", word))
    on_store1 = _imap_body_search(ha, "proxy1", word)
    assert len(on_store1) == 1, on_store1

    store2_logins = _logins(ha, "store2")
    store1_logins = _logins(ha, "store1")
    cp = ha.emailng("node", "drain", "store1", check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    try:
        _wait("pair1 on store2", lambda: _pair_on(ha, "store2"), SWITCH_TIMEOUT)
        # The proxies' Dovecot looks at the pair table (passwd-file) at most
        # once a second: a login in the second of the switch may still see store1.
        time.sleep(1.2)
        for proxy in ("proxy1", "proxy2"):
            found = _imap_body_search(ha, proxy, word)
            assert len(found) == 1, (proxy, found)
        # store2 answered both searches (its log process may write the line a moment later)
        _wait("store2 logged both logins (store2 %d -> %d, store1 %d -> %d)" % (
            store2_logins, _logins(ha, "store2"), store1_logins, _logins(ha, "store1")),
            lambda: _logins(ha, "store2") >= store2_logins + 2, 10)
        # A word nobody wrote: nothing, also on store2.
        assert _imap_body_search(ha, "proxy1", word + "zz") == []
    finally:
        cp = ha.emailng("node", "undrain", "store1", check=False)
    assert cp.returncode == 0, cp.stderr
    _wait("pair1 back on store1", lambda: _pair_on(ha, "store1"), SWITCH_TIMEOUT)

    # Indexes are per store: the reindex command rebuilds both.
    cp = ha.emailng("fts", "reindex", USER, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    for store in ("store1", "store2"):
        assert "%s: %s: every folder indexed" % (store, USER) in cp.stdout, cp.stdout
        assert _index_has(ha, store, word), store
