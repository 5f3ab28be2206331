"""`emailng user move` (issue 15, A2): a user's mailbox goes to the other
store pair while an IMAP session is open and mail keeps arriving; every
Message-ID is there exactly once afterwards, on both stores of the target
pair, and gone from the old pair; the Sieve script and subscriptions
follow. An interrupted move is rolled back (--abort) or taken up again.
Shares (ACLs) travel with their owner; a move that would part an owner
from its readers is refused unless --split-shares."""

import collections
import imaplib
import os
import re
import ssl
import subprocess
import threading
import time

from clients import message, netns, new_msgid, send_by_mx, store_message_ids
from conftest import DOMAIN, EMAILNG, DATADIR, TLS_NAME, resolve

PASSWORD = "move-e2e-Secret-9"
SIEVE = 'require "fileinto";\nif header :contains "subject" "moved-sieve" { fileinto "Projects"; }\n'


def add_user(site, local, pair):
    cp = site.emailng("user", "add", local, "--pair", pair, "--password-stdin", input=PASSWORD + "\n")
    assert "store pair %s" % pair in cp.stdout, cp.stdout


def login(site, user):
    m = imaplib.IMAP4(resolve(TLS_NAME, "A")[0].address, 143, timeout=30)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
    m.login(user, PASSWORD)
    return m


def doveadm(site, store, *args, input=None, check=True):
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", netns(site, store), "doveadm", "-c", conf, *args],
                        input=input, capture_output=True, text=True, timeout=120)
    if check:
        assert cp.returncode == 0, "%s on %s: %s%s" % (args, store, cp.stdout, cp.stderr)
    return cp


def append_messages(site, user, n, tag):
    """n messages APPENDed through the proxies; their Message-IDs."""
    ids = []
    m = login(site, user)
    try:
        for i in range(n):
            msgid = new_msgid(tag)
            body = message([user], msgid, subject="preloaded %d" % i) + ("x" * 2000 + "\r\n")
            typ, _ = m.append("INBOX", None, None, body.encode())
            assert typ == "OK"
            ids.append(msgid)
    finally:
        m.logout()
    return ids


def inbox_ids(site, user):
    m = login(site, user)
    try:
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        ids = collections.Counter()
        for item in data if typ == "OK" else []:
            if isinstance(item, tuple):
                found = re.search(rb"<[^>]+>", item[1])
                if found:
                    ids[found.group(0).decode()] += 1
        return ids
    finally:
        m.logout()


def move(site, *args):
    return subprocess.run([EMAILNG, "--state", site.state, "user", "move", *args], capture_output=True,
                          text=True, timeout=900, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))


def mailbox_dir(site, store, local):
    return os.path.join(site.state, "data", store, "mail", DOMAIN, local)


def test_move_under_session_and_mail_stream(pairs):
    local = "mover"
    user = "%s@%s" % (local, DOMAIN)
    add_user(pairs, local, "pair1")
    preloaded = append_messages(pairs, user, 300, "pre")
    doveadm(pairs, "store1", "sieve", "put", "-u", user, "-a", "moving", input=SIEVE)
    m = login(pairs, user)
    for box, subscribe in (("Projects", True), ("Unsubscribed", False)):
        assert m.create(box)[0] == "OK"
        if subscribe:
            assert m.subscribe(box)[0] == "OK"
    m.select("INBOX")

    # A session stays open (NOOP every 0.2 s until the move ends it) while
    # a stream of mail arrives through the MX.
    stop = threading.Event()
    session = {"noops": 0, "ended": None}

    def keep_session():
        try:
            while not stop.is_set():
                m.noop()
                session["noops"] += 1
                time.sleep(0.2)
        except Exception as e:      # the kick at the switch: BYE, or the connection closed
            session["ended"] = repr(e)

    streamed = []

    def stream():
        while not stop.is_set() and len(streamed) < 60:
            msgid = new_msgid("stream")
            send_by_mx([user], msgid)
            streamed.append(msgid)
            time.sleep(0.25)

    threads = [threading.Thread(target=keep_session), threading.Thread(target=stream)]
    for t in threads:
        t.start()
    time.sleep(2)
    cp = move(pairs, user, "pair2")
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    print(cp.stdout)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "store_pair: pair2\n" in pairs.emailng("user", "show", user).stdout
    assert session["noops"] > 0
    assert session["ended"] is not None, "the open session was not ended at the switch"
    assert not os.path.exists(os.path.join(pairs.state, "moves", user))
    # Every message exactly once: as the user sees it, and on both stores
    # of the new pair.
    want = preloaded + streamed
    deadline = time.time() + 120
    ids = collections.Counter()
    while time.time() < deadline:
        ids = inbox_ids(pairs, user)
        if all(ids[i] >= 1 for i in want):
            break
        time.sleep(1)
    missing = [i for i in want if ids[i] == 0]
    twice = {i: n for i, n in ids.items() if n > 1}
    assert not missing and not twice, "missing %s; twice %s" % (missing[:5], twice)
    deadline = time.time() + 120
    while time.time() < deadline:
        on = {s: store_message_ids(pairs, s, user) for s in ("store3", "store4")}
        if all(on[s] == ids for s in on):
            break
        time.sleep(1)
    for s in ("store3", "store4"):
        assert on[s] == ids, "%s: %d of %d" % (s, sum(on[s].values()), sum(ids.values()))
    # Gone from the old pair.
    for s in ("store1", "store2"):
        assert not os.path.exists(mailbox_dir(pairs, s, local)), s
    # The Sieve script (active) and the subscriptions came along.
    for s in ("store3", "store4"):
        assert re.search(r"^moving\s+ACTIVE\s*$", doveadm(pairs, s, "sieve", "list", "-u", user).stdout, re.M), s
        subs = doveadm(pairs, s, "mailbox", "list", "-s", "-u", user).stdout.split()
        assert "Projects" in subs and "Unsubscribed" not in subs, (s, subs)
    rate = re.search(r"copied (\d+) message\(s\), ([0-9.]+) MB in ([0-9.]+) s: (\d+) messages/s, ([0-9.]+) MB/s",
                     cp.stdout)
    assert rate, cp.stdout
    print("move rate: %s messages, %s MB in %s s: %s messages/s, %s MB/s" % rate.groups())


def test_interrupted_move_rolls_back_or_goes_on(pairs):
    local = "halfway"
    user = "%s@%s" % (local, DOMAIN)
    add_user(pairs, local, "pair1")
    ids = append_messages(pairs, user, 20, "half")
    # A move interrupted while copying: the target got a first copy, the
    # state file says "copying", the user is still on pair1.
    doveadm(pairs, "store1", "sync", "-u", user, "tcps:198.18.0.33:12345")
    os.makedirs(os.path.join(pairs.state, "moves"), exist_ok=True)
    with open(os.path.join(pairs.state, "moves", user), "w") as f:
        f.write("from pair1\nto pair2\nphase copying\n")
    assert os.path.exists(mailbox_dir(pairs, "store3", local))
    # Another target is refused while it is recorded.
    other = move(pairs, user, "pair1")
    assert other.returncode == 1 and "a move to pair2 is under way" in other.stderr, other.stderr
    cp = move(pairs, user, "pair2", "--abort")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert not os.path.exists(mailbox_dir(pairs, "store3", local))
    assert not os.path.exists(os.path.join(pairs.state, "moves", user))
    assert "store_pair: pair1\n" in pairs.emailng("user", "show", user).stdout
    assert all(n == 1 for n in (inbox_ids(pairs, user)[i] for i in ids))
    # Interrupted again while copying: running the move again finishes it.
    with open(os.path.join(pairs.state, "moves", user), "w") as f:
        f.write("from pair1\nto pair2\nphase copying\n")
    doveadm(pairs, "store1", "sync", "-u", user, "tcps:198.18.0.33:12345")
    cp = move(pairs, user, "pair2")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert not os.path.exists(os.path.join(pairs.state, "moves", user))
    assert "taking up the recorded move" in cp.stdout
    seen = inbox_ids(pairs, user)
    assert all(seen[i] == 1 for i in ids), seen
    for s in ("store1", "store2"):
        assert not os.path.exists(mailbox_dir(pairs, s, local)), s
    # Past the switch there is no abort; interrupted while removing the old
    # copy, the move finishes the removal.
    with open(os.path.join(pairs.state, "moves", user), "w") as f:
        f.write("from pair1\nto pair2\nphase verified\n")
    cp = move(pairs, user, "pair2", "--abort")
    assert cp.returncode == 1 and "past the switch" in cp.stderr, cp.stderr
    cp = move(pairs, user, "pair2")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert not os.path.exists(os.path.join(pairs.state, "moves", user))


def test_move_carries_shares_and_refuses_to_part_them(pairs):
    owner, reader = "teamlead@%s" % DOMAIN, "teammate@%s" % DOMAIN
    add_user(pairs, "teamlead", "pair1")
    add_user(pairs, "teammate", "pair1")
    m = login(pairs, owner)
    msgid = new_msgid("team")
    assert m.create("Team")[0] == "OK"
    assert m.append("Team", None, None, message([owner], msgid, subject="team").encode())[0] == "OK"
    m.logout()
    # Granted at once, before replication may have brought Team to store2:
    # the grant waits for the folder on both stores and sets the ACL on both.
    pairs.emailng("share", "grant", owner, "Team", reader)
    for s in ("store1", "store2"):
        assert "user=" + reader in doveadm(pairs, s, "acl", "get", "-u", owner, "Team").stdout, s
    cp = pairs.emailng("share", "grant", owner, "NoSuchFolder", reader, check=False)
    assert cp.returncode == 1 and "%s has no folder \"NoSuchFolder\"" % owner in cp.stderr, cp.stderr
    # dsync by itself carries the ACL entry (a mailbox attribute) and the
    # target store's shared-mailbox dictionary follows (what the move relies
    # on besides setting the ACLs on both target stores itself).
    doveadm(pairs, "store1", "sync", "-u", owner, "tcps:198.18.0.33:12345")
    assert "Team" in doveadm(pairs, "store3", "mailbox", "list", "-u", owner).stdout.split()
    assert "user=" + reader in doveadm(pairs, "store3", "acl", "get", "-u", owner, "Team").stdout
    with open(os.path.join(pairs.state, "data", "store3", "shared", "shared-mailboxes.db")) as f:
        assert "shared/shared-boxes/user/%s/%s\n" % (reader, owner) in f.read()
    # Either of them alone on pair2 would part them: refused, naming the other.
    for who, said in ((reader, "reads the shares of %s (pair pair1)" % owner),
                      (owner, "shares Team with %s (pair pair1)" % reader)):
        cp = move(pairs, who, "pair2")
        assert cp.returncode == 1 and said in cp.stderr and "--split-shares" in cp.stderr, cp.stderr
        assert "store_pair: pair1\n" in pairs.emailng("user", "show", who).stdout
        assert not os.path.exists(os.path.join(pairs.state, "moves", who))
    # Moved one by one: the reader knowingly first, then the owner, whose
    # ACL is set on both stores of pair2.
    cp = move(pairs, reader, "pair2", "--split-shares")
    assert cp.returncode == 0 and "stop working" in cp.stdout, cp.stdout + cp.stderr
    cp = move(pairs, owner, "pair2")
    assert cp.returncode == 0 and "1 share(s)" in cp.stdout, cp.stdout + cp.stderr
    for s in ("store3", "store4"):
        acl = doveadm(pairs, s, "-f", "tab", "acl", "get", "-u", owner, "Team").stdout
        assert re.search(r"^user=%s\t\t.*\bread\b" % re.escape(reader), acl, re.M), (s, acl)
    # The reader, on pair2 now, sees and reads the owner's folder.
    m = login(pairs, reader)
    try:
        typ, listed = m.list("Shared/", "*")
        assert typ == "OK" and any(b"Shared/%s/Team" % owner.encode() in l for l in listed), listed
        assert m.select('"Shared/%s/Team"' % owner, readonly=True)[0] == "OK"
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "OK" and msgid.encode() in data[0][1], data
    finally:
        m.logout()
    # The old pair's shared-mailbox dictionaries no longer name the owner.
    for s in ("store1", "store2"):
        db = os.path.join(pairs.state, "data", s, "shared", "shared-mailboxes.db")
        with open(db) as f:
            assert owner not in f.read(), s
        assert os.stat(db).st_uid != 0, "%s: the dictionary became root's" % s
