"""Shared and announcement folders with a store failure (U5; admin manual,
"Shared folders, shared mailboxes and announcement folders").

alice and bob (both on pair1) work on one folder of alice's through the
proxies, alice as its owner and bob as Shared/alice@.../FOLDER: each appends
messages and flags one of the other's. The store the proxies use is killed
(kill -9 of the whole host) in the middle; they go on through the proxies on
the partner; the store comes back (`emailng up`) and
`emailng replication caught-up` syncs the pair. Then, by Message-ID on each
store: every message is in alice's folder exactly once (replication syncs
each mailbox with its owner only: a reader's dsync, without -N, leaves
Shared/ alone), the flags are there, and none is in bob's own mailboxes.

An announcement folder (`emailng public create`) is readable by everyone
and writable only by its writers, through the proxies; its messages are on
both stores once (it is a folder of the owner account public-folders@).
"""

import imaplib
import os
import re
import subprocess
import time
import uuid

from clients import active_store, imap_login, kill_host, netns, restart, store_message_ids, wait_active
from conftest import DATADIR, DOMAIN, EMAILNG, HOSTS

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
OWNER = "public-folders@" + DOMAIN
STORES = ("store1", "store2")
PER_USER = 3            # messages each user appends before the kill, and again after it
FAILOVER_TIMEOUT = 30   # the proxies switch within 10 s (test_failures)
# caught-up syncs each user of the pair at once; a sync can wait for the
# user's dsync lock (30 s) or a hung one that emailng-syncwatch ends (60-65 s).
CATCH_UP_TIMEOUT = 120


def doveadm(site, store, *args):
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    return subprocess.run(["ip", "netns", "exec", netns(site, store), "doveadm", "-c", conf, *args],
                          capture_output=True, text=True, timeout=60)


def doveadm_conf(site, store, setting):
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(["doveconf", "-c", conf, "-h", setting], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0 and cp.stdout.strip(), cp.stderr
    return cp.stdout.strip()


def wait_until(what, predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within %.0f s: %s" % (timeout, what)
        time.sleep(interval)


def caught_up(site):
    """`emailng replication caught-up` both ways (as the health monitor runs
    it from a proxy): 0 once every user of the pair is synced."""
    rcs = []
    for store, partner in (("store1", "store2"), ("store2", "store1")):
        cp = subprocess.run(["ip", "netns", "exec", netns(site, "proxy1"), EMAILNG, "--state", site.state,
                             "replication", "caught-up", "--store", HOSTS[store], "--partner", HOSTS[partner]],
                            capture_output=True, text=True, timeout=150, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        rcs.append(cp.returncode)
    return rcs == [0, 0]


def msg(sender, msgid):
    return ("From: %s\r\nTo: %s\r\nSubject: shared %s\r\nMessage-ID: %s\r\n\r\nbody\r\n"
            % (sender, ALICE, msgid, msgid)).encode()


def login(site, user):
    """IMAP through the proxies, again until the proxies answer for the pair
    (a login while they switch stores is refused for a moment)."""
    deadline = time.monotonic() + FAILOVER_TIMEOUT
    while True:
        try:
            return imap_login(site, user)
        except (OSError, EOFError, imaplib.IMAP4.error) as e:
            assert time.monotonic() < deadline, "%s: no IMAP through the proxies: %r" % (user, e)
            time.sleep(0.5)


def work(site, user, mailbox, appends, flag):
    """Through the proxies: user appends each Message-ID of appends to
    mailbox, then sets \\Flagged on the message flag (another's). No append
    is retried: a retried one could be a client's own duplicate."""
    m = login(site, user)
    try:
        for msgid in appends:
            typ, data = m.append('"%s"' % mailbox, None, None, msg(user, msgid))
            assert typ == "OK", data
        if flag:
            assert m.select('"%s"' % mailbox)[0] == "OK"
            typ, data = m.search(None, "HEADER", "Message-ID", flag)
            assert typ == "OK" and len(data[0].split()) == 1, (flag, data)
            assert m.store(data[0].decode(), "+FLAGS", "(\\Flagged)")[0] == "OK"
    finally:
        m.logout()


def fetch_flags(site, store, user, mailbox):
    """{Message-ID: flags} of a mailbox read on one store."""
    cp = doveadm(site, store, "-f", "tab", "fetch", "-u", user, "flags hdr.message-id", "mailbox", mailbox)
    assert cp.returncode == 0, cp.stderr
    out = {}
    for line in cp.stdout.splitlines()[1:]:
        found = re.search(r"<[^>]+>", line)
        if found:
            out[found.group(0)] = line.split("\t")[0]
    return out


def new_msgid(tag):
    return "<%s-%s@shared-folders.test>" % (tag, uuid.uuid4().hex)


def test_shared_folder_store_killed_mid_work_nothing_lost_nothing_twice(ha):
    folder = "Office-" + uuid.uuid4().hex[:8]
    shared = "Shared/%s/%s" % (ALICE, folder)
    a = imap_login(ha, ALICE)
    assert a.create('"%s"' % folder)[0] == "OK"
    a.logout()
    # The ACL goes to both stores: the folder must be on both first.
    wait_until("%s on both stores" % folder,
               lambda: all(doveadm(ha, s, "mailbox", "status", "-u", ALICE, "messages", folder).returncode == 0
                           for s in STORES), 60)
    ha.emailng("share", "grant", ALICE, folder, BOB, "--rights", "write")

    ids = {(u, phase): [new_msgid("%s-%s" % (u.split("@")[0], phase)) for _ in range(PER_USER)]
           for u in (ALICE, BOB) for phase in ("before", "after")}
    work(ha, ALICE, folder, ids[(ALICE, "before")], None)
    work(ha, BOB, shared, ids[(BOB, "before")], ids[(ALICE, "before")][0])

    victim = [s for s in STORES if HOSTS[s] == active_store(ha, "proxy1")]
    assert len(victim) == 1, "proxy1 sends pair1 to no store of it"
    victim = victim[0]
    survivor = [s for s in STORES if s != victim][0]
    t0 = time.monotonic()
    assert kill_host(ha, victim) > 0
    try:
        assert wait_active(ha, HOSTS[survivor], FAILOVER_TIMEOUT) is not None, "the proxies did not switch"
        # bob's first messages and his flag are on the killed store only
        # (his changes notify the replicator for him, whose sync leaves
        # alice's folder alone): they must come back with the store.
        work(ha, BOB, shared, ids[(BOB, "after")], None)
        work(ha, ALICE, folder, ids[(ALICE, "after")], ids[(BOB, "after")][0])
    finally:
        restart(ha)
    wait_until("replication caught up", lambda: caught_up(ha), CATCH_UP_TIMEOUT, interval=1)
    print("%s killed -> back and caught up in %.1f s" % (victim, time.monotonic() - t0))

    everything = [i for v in ids.values() for i in v]
    flagged = (ids[(ALICE, "before")][0], ids[(BOB, "after")][0])
    for s in STORES:
        counts = store_message_ids(ha, s, ALICE, folder)
        missing = [i for i in everything if counts[i] == 0]
        twice = {i: counts[i] for i in everything if counts[i] > 1}
        assert not missing and not twice and sum(counts.values()) == len(everything), \
            (s, "missing", missing, "twice", twice, "total", sum(counts.values()))
        flags = fetch_flags(ha, s, ALICE, folder)
        assert all("\\Flagged" in flags[i] for i in flagged), (s, flags)
        assert sum("\\Flagged" in f for f in flags.values()) == len(flagged), (s, flags)
        # Never copied into bob's own mailboxes by his replication.
        found = doveadm(ha, s, "search", "-u", BOB, "mailbox", "*", "NOT", "mailbox", "Shared/*",
                        "header", "Subject", "shared <")
        assert found.returncode == 0 and found.stdout.strip() == "", (s, found.stdout, found.stderr)

    # Why nothing is twice: bob's replication leaves alice's folder alone.
    # bob saves one more message into it on store1 and his sync runs as the
    # replicator runs it (the store's replication_dsync_parameters): it must
    # not reach store2 (with -N it would: two users' syncs carrying one
    # folder, each under its own lock, is how Dovecot duplicates shared
    # mail). alice's sync then carries it, once. (alice was synced just
    # now by caught-up: her next full sync is 2 minutes away.)
    last = new_msgid("bob-only-his-sync")
    saved = subprocess.run(["ip", "netns", "exec", netns(ha, "store1"), "doveadm", "-c",
                            os.path.join(ha.state, "etc", "store1", "dovecot", "dovecot.conf"),
                            "save", "-u", BOB, "-m", shared], input=msg(BOB, last).decode(),
                           capture_output=True, text=True, timeout=60)
    assert saved.returncode == 0, saved.stderr
    params = doveadm_conf(ha, "store1", "replication_dsync_parameters").split()
    synced = doveadm(ha, "store1", "sync", "-u", BOB, *params)
    assert synced.returncode == 0, (params, synced.stdout, synced.stderr)
    assert store_message_ids(ha, "store2", ALICE, folder)[last] == 0, \
        "bob's replication (%s) copied alice's shared folder" % " ".join(params)
    synced = doveadm(ha, "store1", "sync", "-u", ALICE, *params)
    assert synced.returncode == 0, (params, synced.stdout, synced.stderr)
    for s in STORES:
        assert store_message_ids(ha, s, ALICE, folder)[last] == 1, s


def test_announcement_folder_everyone_reads_only_writers_write(ha):
    folder = "News-" + uuid.uuid4().hex[:8]
    public = "Public/" + folder
    r = ha.emailng("public", "create", folder, ALICE)
    assert "%s: readable by everyone" % public in r.stdout, r.stdout
    listed = ha.emailng("public", "list", folder).stdout
    assert re.search(r"^%s\tanyone\t" % re.escape(folder), listed, re.M), listed
    assert re.search(r"^%s\tuser=%s\t" % (re.escape(folder), re.escape(ALICE)), listed, re.M), listed

    msgid = new_msgid("news")
    a = imap_login(ha, ALICE)
    typ, data = a.append('"%s"' % public, None, None, msg(ALICE, msgid))
    assert typ == "OK", data
    a.logout()

    b = imap_login(ha, BOB)
    typ, data = b.list('"Public/"', "*")
    assert typ == "OK" and any(public.encode() in line for line in data), data
    typ, _ = b.select('"%s"' % public)
    assert typ == "OK"
    typ, data = b.search(None, "HEADER", "Message-ID", msgid)
    assert typ == "OK" and len(data[0].split()) == 1, data
    typ, data = b.append('"%s"' % public, None, None, msg(BOB, new_msgid("not-a-writer")))
    assert typ == "NO", (typ, data)
    # The folder is not offered a second time as the owner's shared folder.
    typ, data = b.list('""', "Shared/*")
    assert typ == "OK" and not any(OWNER.encode() in (line or b"") for line in data), data
    b.logout()

    # On both stores once: the owner's replication carries it. alice's post
    # notifies the replicator for alice, so the owner's sync would come with
    # its next full sync (replication_full_sync_interval, 2 min): ask the
    # replicator for it now instead (the same dsync, earlier).
    t0 = time.monotonic()
    for s in STORES:
        cp = doveadm(ha, s, "replicator", "replicate", "-p", "high", OWNER)
        assert cp.returncode == 0, (s, cp.stdout, cp.stderr)
    wait_until("%s on both stores" % msgid,
               lambda: all(store_message_ids(ha, s, OWNER, folder)[msgid] == 1 for s in STORES), 90)
    print("announcement on both stores %.1f s after the owner's sync was asked for" % (time.monotonic() - t0))
    for s in STORES:
        assert sum(store_message_ids(ha, s, OWNER, folder).values()) == 1, s
