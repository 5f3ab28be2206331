"""ALT storage on a store pair (issue 15, M2 with M3/M4).

The session's site gives both stores ALT storage (STATE/alt-fs/STORE,
conftest.site_file). Old mail (an INTERNALDATE of 2020, APPENDed through
the proxies like a client's archive) replicates to both stores; `emailng
storage altmove` then moves each store's own copy to its ALT storage (ALT
does not replicate); the mail stays readable through the proxies, and mail
that arrives afterwards still replicates both ways."""

import hashlib
import imaplib
import os
import time
import uuid

from clients import imap_login
from conftest import DOMAIN
from test_replication import count, deliver, new_msgid, wait_until

ALICE = "alice@" + DOMAIN


def _holding(root, needle):
    """Files under root (not through Dovecot's dbox-alt-root symlink) that contain needle.
    Not the full-text index (search.fts): it holds the words, not the messages,
    and stays on the primary storage by design."""
    found = []
    for folder, dirs, names in os.walk(root):
        if "xapian-indexes" in dirs:
            dirs.remove("xapian-indexes")
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
    return found


def test_altmove_on_both_stores_of_a_pair(ha):
    word = "altword%s" % uuid.uuid4().hex
    msgid = "<alt-%s@replication.test>" % uuid.uuid4().hex
    raw = ("From: carol@outside.test\r\nTo: %s\r\nSubject: from the archive\r\nMessage-ID: %s\r\n\r\n"
           "An old message with the word %s.\r\n" % (ALICE, msgid, word)).encode()
    m = imap_login(ha, ALICE)
    try:
        typ, data = m.append("INBOX", None, imaplib.Time2Internaldate(time.mktime((2020, 3, 1, 10, 0, 0, 0, 0, -1))),
                             raw)
        assert typ == "OK", data
    finally:
        m.logout()
    for store in ("store1", "store2"):
        wait_until("%s has the old message" % store, lambda: count(ha, store, ALICE, msgid) == 1)

    cp = ha.emailng("storage", "altmove")
    for store in ("store1", "store2"):
        alt = os.path.join(ha.state, "alt-fs", store)
        assert "%s: mail received more than 90 days ago moved to %s" % (store, alt) in cp.stdout, cp.stdout
        assert _holding(os.path.join(alt, DOMAIN, "alice"), word.encode()), "%s: not in its ALT storage" % store
        primary = os.path.join(ha.state, "data", store, "mail", DOMAIN, "alice")
        assert not _holding(primary, word.encode()), "%s: still in its primary storage" % store

    m = imap_login(ha, ALICE)
    try:
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "HEADER", "Message-ID", msgid)
        assert typ == "OK" and len(data[0].split()) == 1, data
        typ, data = m.fetch(data[0].split()[0], "(BODY.PEEK[])")
        body = [p[1] for p in data if isinstance(p, tuple)][0]
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(raw).hexdigest()
    finally:
        m.logout()

    # Replication goes on, both ways.
    for store, partner in (("store1", "store2"), ("store2", "store1")):
        mid = new_msgid("after-altmove")
        deliver(ha, store, ALICE, mid)
        wait_until("%s -> %s after altmove" % (store, partner), lambda: count(ha, partner, ALICE, mid) == 1)
