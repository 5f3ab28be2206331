"""Shared folders in the full topology (U5; docs/admin-manual.md, "Shared
folders, shared mailboxes and announcement folders").

alice and bob are both on pair1 (store1, store2). alice shares a folder with
bob by `emailng share grant`, which sets the ACL on both stores; bob works on
it through the proxies (Shared/alice@.../FOLDER); the message he appends is
alice's, so it is replicated with alice's mailbox and is on each store exactly
once, and never in bob's own mailbox. Announcement folders and a store
killed mid-work: test_shared_folders.py.
"""

import os
import subprocess
import time
import uuid

from clients import imap_login, netns, store_message_ids
from conftest import DOMAIN

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
STORES = ("store1", "store2")
# A change bob makes in alice's folder notifies the replicator for bob, whose
# dsync leaves the shared namespace alone: it reaches the partner with
# alice's next sync, at the latest replication_full_sync_interval (2 min),
# plus a sync that waits for the user's lock (30 s) or a hung one that
# emailng-syncwatch ends (60-65 s).
SHARED_REPLICATION_TIMEOUT = 240


def doveadm(site, store, *args):
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", netns(site, store), "doveadm", "-c", conf, *args],
                        capture_output=True, text=True, timeout=60)
    return cp


def wait_until(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within %.0f s: %s" % (timeout, what)
        time.sleep(1)


def test_shared_folder_through_proxies_once_on_both_stores(ha):
    folder = "Team-" + uuid.uuid4().hex[:8]
    shared = "Shared/%s/%s" % (ALICE, folder)
    a = imap_login(ha, ALICE)
    assert a.create('"%s"' % folder)[0] == "OK"
    a.logout()
    # The ACL goes to both stores, so the folder must exist on both first.
    wait_until("%s on both stores" % folder,
               lambda: all(doveadm(ha, s, "mailbox", "status", "-u", ALICE, "messages", folder).returncode == 0
                           for s in STORES), 120)

    r = ha.emailng("share", "grant", ALICE, folder, BOB, "--rights", "write")
    assert shared in r.stdout, r.stdout
    for s in STORES:
        acl = doveadm(ha, s, "-f", "tab", "acl", "get", "-u", ALICE, folder)
        assert acl.returncode == 0 and "user=%s" % BOB in acl.stdout, (s, acl.stdout, acl.stderr)

    msgid = "<shared-%s@e2e-ha.test>" % uuid.uuid4().hex
    message = ("From: %s\r\nTo: %s\r\nSubject: shared folder\r\nMessage-ID: %s\r\n\r\nhello\r\n"
               % (BOB, ALICE, msgid)).encode()
    b = imap_login(ha, BOB)
    typ, data = b.append('"%s"' % shared, None, None, message)
    assert typ == "OK", data
    typ, _ = b.select('"%s"' % shared)
    assert typ == "OK"
    typ, data = b.search(None, "HEADER", "Message-ID", msgid)
    assert typ == "OK" and len(data[0].split()) == 1, data
    b.logout()

    wait_until("%s in alice's %s on both stores" % (msgid, folder),
               lambda: all(store_message_ids(ha, s, ALICE, folder)[msgid] == 1 for s in STORES),
               SHARED_REPLICATION_TIMEOUT)
    # Let a few more syncs of both users run: still once, and never in bob's own mailbox.
    time.sleep(10)
    for s in STORES:
        assert store_message_ids(ha, s, ALICE, folder)[msgid] == 1, s
        found = doveadm(ha, s, "search", "-u", BOB, "mailbox", "*", "NOT", "mailbox", "Shared/*",
                        "header", "Message-ID", msgid)
        assert found.returncode == 0 and found.stdout.strip() == "", (s, found.stdout, found.stderr)

    # Revoked on both stores.
    ha.emailng("share", "revoke", ALICE, folder, BOB)
    for s in STORES:
        acl = doveadm(ha, s, "-f", "tab", "acl", "get", "-u", ALICE, folder)
        assert acl.returncode == 0 and "user=%s" % BOB not in acl.stdout, (s, acl.stdout)

