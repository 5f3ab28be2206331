"""Nothing delivered twice across the two stores of a pair (requirement A3;
docs/architecture.md 7a, "Nothing delivered twice").

The window made deterministic: a message is stored on store1 and store1
dies before its 250 reaches the sender (here: LMTP straight to store1,
then every process of store1 killed); the sender's retry goes to store2,
now active, whose Sieve duplicate memory never saw that Message-ID, so it
stores a second copy; replication is cut meanwhile (store1 is dead), and
dsync alone would keep both copies on both stores. When store1 comes back,
the catch-up check that each proxy's emailng-healthd runs before giving
pair1 back removes the second copy; afterwards each store holds exactly one
copy, the same one, and a proxy's healthd.log has a line naming the user,
the Message-ID and the stores for the copy removed. A message without a
Message-ID is never taken for a duplicate: both of its copies stay; nor is
a copy with the same Message-ID in another folder (the user's own).
"""

import os
import re
import subprocess
import time

from clients import HOSTS, kill_host, netns, new_msgid, restart, store_message_ids, wait_active

ALICE = "alice@example.test"
# pair1 back on store1: 3 good probes over 3 s and the catch-up check,
# whose syncs may wait up to 30 s for the user's dsync lock (-l 30).
FAILBACK_TIMEOUT = 150
# Both stores hold one copy: the check's own sync after the removal, or
# the replicator's next one.
CONVERGE_TIMEOUT = 120

LMTP_SCRIPT = r"""
import smtplib, sys
host, rcpt, msgid, subject = sys.argv[1:5]
head = "From: someone@outside.test\r\nTo: %s\r\nSubject: %s\r\n" % (rcpt, subject)
if msgid:
    head += "Message-ID: %s\r\n" % msgid
with smtplib.LMTP(host, 24, timeout=30) as s:
    s.sendmail("someone@outside.test", [rcpt], head + "\r\nthe same message, delivered again\r\n")
"""


def _lmtp(site, store, msgid, subject):
    """LMTP to a store from proxy1's namespace, as the proxies deliver."""
    cp = subprocess.run(["ip", "netns", "exec", netns(site, "proxy1"), "python3", "-c", LMTP_SCRIPT, HOSTS[store],
                         ALICE, msgid or "", subject], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr


def _by_subject(site, store, subject):
    """How many messages with this Subject alice has in INBOX on a store."""
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", netns(site, store), "doveadm", "-c", conf, "search", "-u", ALICE,
                         "mailbox", "INBOX", "header", "Subject", subject], capture_output=True, text=True,
                        timeout=60)
    assert cp.returncode == 0, cp.stderr
    return len([line for line in cp.stdout.splitlines() if line.strip()])


def _doveadm(site, store, *args, input=None):
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", netns(site, store), "doveadm", "-c", conf, *args], input=input,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def _guids(site, store, msgid, mailbox="INBOX"):
    out = _doveadm(site, store, "-f", "tab", "fetch", "-u", ALICE, "guid", "mailbox", mailbox, "header",
                   "Message-ID", msgid)
    return sorted(line.strip() for line in out.splitlines()[1:] if line.strip())


def _wait(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within %.0f s: %s" % (timeout, what))
        time.sleep(0.5)


def test_copy_delivered_again_to_the_partner_during_a_failover_is_removed(ha):
    store1, store2 = HOSTS["store1"], HOSTS["store2"]
    assert wait_active(ha, store1, 60) is not None, "pair1 is not on store1 to begin with"
    dup = new_msgid("dedup")
    no_id = "dedup without message-id %s" % dup.strip("<>").split("@")[0]
    # Stored on store1; store1 dies before its 250 reaches the sender.
    _lmtp(ha, "store1", dup, "dedup")
    _lmtp(ha, "store1", None, no_id)
    assert kill_host(ha, "store1") > 0
    try:
        assert wait_active(ha, store2, 30) is not None, "pair1 did not move to store2"
        # The sender's retry lands on the partner, which knows nothing of it.
        _lmtp(ha, "store2", dup, "dedup")
        _lmtp(ha, "store2", None, no_id)
        assert store_message_ids(ha, "store2", ALICE)[dup] >= 1
        # The user's own copy in another folder (as a client saves one).
        _doveadm(ha, "store2", "mailbox", "create", "-u", ALICE, "Kept")
        _doveadm(ha, "store2", "save", "-u", ALICE, "-m", "Kept",
                 input="From: someone@outside.test\nSubject: dedup\nMessage-ID: %s\n\nmine\n" % dup)
    finally:
        restart(ha)
    took = wait_active(ha, store1, FAILBACK_TIMEOUT)
    assert took is not None, "pair1 did not return to store1"

    counts = {}

    def one_copy_each():
        counts.update({s: store_message_ids(ha, s, ALICE)[dup] for s in ("store1", "store2")})
        return counts == {"store1": 1, "store2": 1}
    try:
        _wait("one copy of %s on each store" % dup, one_copy_each, CONVERGE_TIMEOUT)
    except AssertionError as e:
        logs = "".join(ha.log(p, "healthd.log")[-3000:] for p in ("proxy1", "proxy2"))
        raise AssertionError("%s: %s\n%s" % (e, counts, logs)) from None
    kept = _guids(ha, "store1", dup)
    assert kept == _guids(ha, "store2", dup), "not the same copy kept on both stores"
    # The copies without a Message-ID are both kept, on both stores, and
    # so is the user's own copy in the other folder.
    _wait("both copies without a Message-ID on both stores",
          lambda: _by_subject(ha, "store1", no_id) == 2 and _by_subject(ha, "store2", no_id) == 2, CONVERGE_TIMEOUT)
    _wait("the copy in Kept on both stores",
          lambda: all(store_message_ids(ha, st, ALICE, "Kept")[dup] == 1 for st in ("store1", "store2")),
          CONVERGE_TIMEOUT)
    # One line for the removed copy, naming user, Message-ID and the
    # stores it was removed on, in the log of the one proxy whose check
    # removed it (both run the check; a lock on store2 lets one remove).
    pattern = re.compile(r'duplicate-removed user="%s" msgid="%s" store="([a-z0-9,]+)"'
                         % (re.escape(ALICE), re.escape(dup)))
    lines = [line for p in ("proxy1", "proxy2") for line in ha.log(p, "healthd.log").splitlines()
             if pattern.search(line)]
    assert len(lines) == 1, lines
    where = set(pattern.search(lines[0]).group(1).split(","))
    assert where and where <= {"store1", "store2"}, lines
    removed = re.search(r' guid="([0-9a-f]+)"', lines[0]).group(1)
    assert re.search(r'kept_guid="([0-9a-f]+)"', lines[0]).group(1) == kept[0], lines
    assert removed not in kept, lines
    print("pair1 back on store1 %.1f s after `emailng up` returned; removal logged:\n%s" % (took, lines[0]))
