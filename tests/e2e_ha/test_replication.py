"""Replication of the store pair (issue 4, M3/M4; docs/architecture.md).

store1 and store2 (pair1) replicate each other with Dovecot's replicator
and dsync over TLS (tcps, the site's CA) through their doveadm servers on
port 12345. These tests write on one store and look on the other, by
Message-ID: deliveries (LMTP from a proxy's namespace, as the proxies
deliver), flags, expunges, folders, subscriptions and Sieve scripts, both
ways; then store1 is killed (kill -9, every Dovecot process), mail arrives
on store2 meanwhile, store1 comes back and must catch up, and
`emailng replication caught-up` (the health monitor's catch-up check, run
from a proxy) says "not yet" (1) and then "caught up" (0).
"""

import imaplib
import json
import os
import signal
import ssl
import statistics
import subprocess
import time
import uuid

from conftest import DATADIR, DOMAIN, EMAILNG, HOSTS, TLS_NAME

# s: a change must be on the partner by then. Normally well under a second
# (the lag is printed), but a sync that finds the user's dsync lock taken
# by another (the other store's, or the catch-up check's) waits for it up
# to 30 s (-l 30), a stalled one ends after 30 s (-T 30) and is retried,
# and one that 2.3.19 left hung before its handshake is ended by
# emailng-syncwatch after 60-65 s and run again at once.
REPLICATION_TIMEOUT = 90.0
# A hung dsync ended by emailng-syncwatch (60-65 s), a sync that waited
# for the user's lock meanwhile (30 s), and the catch-up check's own syncs.
SETTLE_TIMEOUT = 150
CATCH_UP_TIMEOUT = 90     # both proxies' monitors run the same check meanwhile (the syncs contend for the locks)
ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN


def _ns(site, host):
    return ["ip", "netns", "exec", "%s-%s" % (site.prefix, host)]


def doveadm(site, host, *args, input=None, check=True):
    """doveadm of a store, in its namespace, with its configuration."""
    conf = site.host_path(host, "etc", host, "dovecot", "dovecot.conf")
    cp = site.netns(host, "doveadm", "-c", conf, *args, input=input)
    if check and cp.returncode != 0:
        raise AssertionError("doveadm %s on %s failed (%d): %s" % (" ".join(args), host, cp.returncode, cp.stderr))
    return cp.stdout


def emailng_in(site, host, *args, env=None):
    """The emailng tool inside a host's namespace (the catch-up check runs on the proxies)."""
    return subprocess.run(_ns(site, host) + [EMAILNG, "--state", site.state, *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, EMAILNG_DATADIR=DATADIR, **(env or {})))


def count(site, host, user, msgid, mailbox="INBOX"):
    """How many messages with this Message-ID the user has in mailbox on host."""
    out = doveadm(site, host, "search", "-u", user, "mailbox", mailbox, "header", "Message-ID", msgid)
    return len([line for line in out.splitlines() if line.strip()])


def wait_until(what, predicate, timeout=REPLICATION_TIMEOUT, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError("not within %.0f s: %s" % (timeout, what))
        time.sleep(interval)


LMTP_SCRIPT = r"""
import smtplib, sys
host, rcpt, msgid = sys.argv[1:4]
body = ("From: someone@outside.test\r\nTo: %s\r\nSubject: replication\r\nMessage-ID: %s\r\n\r\nhello\r\n"
        % (rcpt, msgid))
with smtplib.LMTP(host, 24, timeout=30) as s:
    s.sendmail("someone@outside.test", [rcpt], body)
"""


def deliver(site, store, rcpt, msgid):
    """LMTP to a store, from proxy1's namespace (the proxies deliver to the stores)."""
    cp = site.netns("proxy1", "python3", "-c", LMTP_SCRIPT, HOSTS[store], rcpt, msgid)
    assert cp.returncode == 0, cp.stderr


def new_msgid(tag):
    return "<%s-%s@replication.test>" % (tag, uuid.uuid4().hex)


def caught_up(site, *args, env=None):
    return emailng_in(site, "proxy1", "replication", "caught-up", *args, env=env)


def test_secret_is_private_and_never_rendered(ha):
    secret_file = os.path.join(ha.state, "secrets", "doveadm-password")
    st = os.stat(secret_file)
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == 0
    with open(secret_file) as f:
        secret = f.read().strip()
    assert len(secret) >= 32
    for root, _dirs, files in os.walk(os.path.join(ha.state, "etc")):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            with open(path, errors="replace") as f:
                assert secret not in f.read(), path
    conf = os.path.join(ha.state, "etc", "store1", "dovecot", "dovecot.conf")
    with open(conf) as f:
        text = f.read()
    assert "mail_replica = tcps:%s:12345" % HOSTS["store2"] in text
    assert "doveadm_password = <%s\n" % secret_file in text


def test_delivery_replicates_both_ways(ha):
    lags = []
    for i in range(5):
        for store, partner, user in (("store1", "store2", ALICE), ("store2", "store1", BOB)):
            msgid = new_msgid("lag%d" % i)
            deliver(ha, store, user, msgid)
            t0 = time.monotonic()
            assert count(ha, store, user, msgid) == 1
            wait_until("%s on %s" % (msgid, partner), lambda: count(ha, partner, user, msgid) == 1)
            lags.append(time.monotonic() - t0)
            assert count(ha, store, user, msgid) == 1      # exactly once on both
    print("replication lag (delivery -> visible on the partner): median %.2f s, max %.2f s over %d"
          % (statistics.median(lags), max(lags), len(lags)))


def _flags(site, host, user, msgid):
    out = doveadm(site, host, "fetch", "-u", user, "flags", "mailbox", "INBOX", "header", "Message-ID", msgid)
    return out


def _imap(site, user):
    """A user's IMAP session as a client has it: through proxy1, to the pair's active store (store1)."""
    m = imaplib.IMAP4(HOSTS["proxy1"], 143, timeout=30)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
    m.login(user, site.password(user))
    m.select("INBOX")
    return m


def _imap_numbers(m, msgid):
    typ, data = m.search(None, "HEADER", "Message-ID", msgid)
    assert typ == "OK"
    return data[0].split()


def test_flag_change_and_expunge_replicate(ha):
    msgid = new_msgid("flags")
    deliver(ha, "store1", ALICE, msgid)
    wait_until("delivery on store2", lambda: count(ha, "store2", ALICE, msgid) == 1)
    # store2 -> store1
    doveadm(ha, "store2", "flags", "add", "-u", ALICE, "\\Flagged \\Seen", "mailbox", "INBOX",
            "header", "Message-ID", msgid)
    wait_until("flags on store1", lambda: "\\Flagged" in _flags(ha, "store1", ALICE, msgid)
               and "\\Seen" in _flags(ha, "store1", ALICE, msgid))
    # store1 -> store2, by the user's IMAP client (doveadm expunge is not
    # noticed by the replication plugin of 2.3.19; the periodic full sync
    # would carry it only later).
    m = _imap(ha, ALICE)
    try:
        (num,) = _imap_numbers(m, msgid)
        assert m.store(num, "-FLAGS", "\\Flagged")[0] == "OK"
        wait_until("flag removal on store2", lambda: "\\Flagged" not in _flags(ha, "store2", ALICE, msgid))
        assert m.store(num, "+FLAGS", "\\Deleted")[0] == "OK"
        assert m.expunge()[0] == "OK"
        assert _imap_numbers(m, msgid) == []
    finally:
        m.logout()
    assert count(ha, "store1", ALICE, msgid) == 0
    wait_until("expunge on store2", lambda: count(ha, "store2", ALICE, msgid) == 0)


def _subscribed(site, host, user):
    return doveadm(site, host, "mailbox", "list", "-s", "-u", user).split()


def _mailboxes(site, host, user):
    return doveadm(site, host, "mailbox", "list", "-u", user).split()


def test_folders_and_subscriptions_replicate(ha):
    folder = "Projects/r%s" % uuid.uuid4().hex[:8]
    doveadm(ha, "store1", "mailbox", "create", "-s", "-u", BOB, folder)
    wait_until("folder on store2", lambda: folder in _mailboxes(ha, "store2", BOB))
    wait_until("subscription on store2", lambda: folder in _subscribed(ha, "store2", BOB))
    # dsync orders subscription changes by their time in whole seconds: an
    # unsubscription in the same second as the other store's subscription
    # is a tie, which the subscription wins. A user is never that fast.
    time.sleep(1.1)
    doveadm(ha, "store2", "mailbox", "unsubscribe", "-u", BOB, folder)
    wait_until("unsubscription on store1", lambda: folder not in _subscribed(ha, "store1", BOB))
    # A message filed into the folder on store2 shows up there on store1.
    msgid = new_msgid("folder")
    doveadm(ha, "store2", "save", "-u", BOB, "-m", folder,
            input="From: a@outside.test\r\nMessage-ID: %s\r\nSubject: f\r\n\r\nx\r\n" % msgid)
    wait_until("message in the folder on store1", lambda: count(ha, "store1", BOB, msgid, folder) == 1)
    doveadm(ha, "store2", "mailbox", "delete", "-r", "-u", BOB, folder)
    wait_until("folder deletion on store1", lambda: folder not in _mailboxes(ha, "store1", BOB))


def test_simultaneous_changes_on_both_stores_replicate(ha):
    """Deliveries to one user on both stores at the same moment: opposite
    syncs of the user must take turns (dsync's user lock, which needs the
    stores' Dovecot host names to differ), not deadlock on the mailbox
    locks for 30 s."""
    import threading
    ids = []
    for i in range(8):
        pair = [new_msgid("both%d" % i), new_msgid("both%d" % i)]
        threads = [threading.Thread(target=deliver, args=(ha, store, ALICE, msgid))
                   for store, msgid in zip(("store1", "store2"), pair)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids += pair
    for msgid in ids:
        wait_until("%s on both stores" % msgid,
                   lambda: count(ha, "store1", ALICE, msgid) == 1 and count(ha, "store2", ALICE, msgid) == 1)
    for store in ("store1", "store2"):
        assert "Failed to lock" not in ha.log(store, "dovecot.log")


SIEVE = 'require "fileinto";\nif header :contains "subject" "replicated-rule" { fileinto "Junk"; }\n'


def _owned_by_vmail(path):
    import pwd
    vmail = pwd.getpwnam("vmail").pw_uid
    bad = []
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(root, name)
            if os.lstat(p).st_uid != vmail:
                bad.append(p)
    return bad


def test_sieve_script_replicates_and_files_belong_to_vmail(ha):
    name = "rule%s" % uuid.uuid4().hex[:6]
    doveadm(ha, "store2", "sieve", "put", "-u", BOB, "-a", name, input=SIEVE)
    wait_until("sieve script on store1",
               lambda: any(line.split()[0] == name and "ACTIVE" in line
                           for line in doveadm(ha, "store1", "sieve", "list", "-u", BOB).splitlines()))
    assert doveadm(ha, "store1", "sieve", "get", "-u", BOB, name).endswith("\n" + SIEVE)
    # The replicated script works: mail with the subject is filed to Junk on store1.
    msgid = new_msgid("sieve")
    cp = subprocess.run(_ns(ha, "proxy1") + ["python3", "-c", LMTP_SCRIPT.replace("Subject: replication",
                                                                                  "Subject: replicated-rule"),
                                             HOSTS["store1"], BOB, msgid], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    assert count(ha, "store1", BOB, msgid, "Junk") == 1
    wait_until("the filed message on store2", lambda: count(ha, "store2", BOB, msgid, "Junk") == 1)
    for store in ("store1", "store2"):
        home = os.path.join(ha.state, "data", store, "mail", DOMAIN, "bob")
        assert os.path.exists(os.path.join(home, "sieve", name + ".sieve"))
        assert _owned_by_vmail(os.path.join(ha.state, "data", store, "mail")) == []
    doveadm(ha, "store2", "sieve", "deactivate", "-u", BOB)
    doveadm(ha, "store2", "sieve", "delete", "-u", BOB, name)
    wait_until("sieve script deletion on store1",
               lambda: name not in doveadm(ha, "store1", "sieve", "list", "-u", BOB))


def test_caught_up_exit_codes(ha):
    cp = caught_up(ha, env={"HEALTHD_PAIR": "pair1", "HEALTHD_STORE": HOSTS["store1"],
                            "HEALTHD_PARTNER": HOSTS["store2"]})
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "caught up" in cp.stdout
    cp = caught_up(ha, "--store", HOSTS["store2"], "--partner", HOSTS["store1"])
    assert cp.returncode == 0, cp.stdout + cp.stderr
    # Not the two stores of one pair, or the wrong pair: a usage error, not "not yet".
    assert caught_up(ha, "--store", HOSTS["store1"], "--partner", HOSTS["proxy1"]).returncode == 2
    assert caught_up(ha, env={"HEALTHD_PAIR": "pair9", "HEALTHD_STORE": HOSTS["store1"],
                              "HEALTHD_PARTNER": HOSTS["store2"]}).returncode == 2
    assert caught_up(ha).returncode == 2
    # status exits 1 while a sync is queued or failed (other tests' mail);
    # it settles. A queued sync can wait behind a dsync that 2.3.19 left
    # hung (emailng-syncwatch ends it after 60-65 s) and a sync that timed
    # out on the user's lock meanwhile is marked failed for 5 minutes: the
    # catch-up check, as healthd runs it, syncs and clears those.
    result = []

    def settled():
        result[:] = [emailng_in(ha, "proxy1", "replication", "status")]
        if result[0].returncode == 0:
            return True
        caught_up(ha, "--store", HOSTS["store1"], "--partner", HOSTS["store2"])
        caught_up(ha, "--store", HOSTS["store2"], "--partner", HOSTS["store1"])
        return False
    try:
        wait_until("replication status exits 0", settled, timeout=SETTLE_TIMEOUT, interval=1)
    except AssertionError as e:
        raise AssertionError("%s:\n%s%s" % (e, result[0].stdout, result[0].stderr)) from None
    st = result[0]
    lines = [line.split() for line in st.stdout.splitlines()[1:]]
    # Every store lists the users it replicates (other tests add users too).
    listed = {(line[0], line[1]) for line in lines}
    assert {(s, u) for s in ("store1", "store2") for u in (ALICE, BOB)} <= listed, listed


def _dovecot_pids(site, host):
    st = json.loads(site.emailng("status", "--json", "--host", host, check=False).stdout)
    master = [s["pid"] for h in st["hosts"] for s in h["services"] if s["name"] == "dovecot"][0]
    assert master
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True,
                              text=True).stdout.split()
    return [master] + [int(p) for p in children]


def test_store1_killed_catches_up_after_restart(ha):
    env = {"HEALTHD_PAIR": "pair1", "HEALTHD_STORE": HOSTS["store1"], "HEALTHD_PARTNER": HOSTS["store2"]}
    pids = _dovecot_pids(ha, "store1")
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass        # a child that ended on its own (or when the master died) since ps listed it
    try:
        wait_until("store1's Dovecot gone", lambda: not any(os.path.exists("/proc/%d" % p) for p in pids))
        # Mail arrives on store2 while store1 is down (as when the proxies switched).
        ids = {user: [new_msgid("down") for _ in range(3)] for user in (ALICE, BOB)}
        for user, msgids in ids.items():
            for msgid in msgids:
                deliver(ha, "store2", user, msgid)
        cp = caught_up(ha, env=env)
        assert cp.returncode == 1, cp.stdout + cp.stderr          # store1 is down: not yet
        assert "not yet" in cp.stdout
    finally:
        t0 = time.monotonic()
        up = emailng_in(ha, "store1", "--site", os.path.join(ha.state, "site.yaml"), "--host", "store1", "up")
        assert up.returncode == 0, up.stdout + up.stderr
    answers = []

    last = []

    def check():
        cp = caught_up(ha, env=env)
        answers.append(cp.returncode)
        last[:] = [cp.stdout + cp.stderr]
        return cp.returncode == 0

    try:
        wait_until("caught-up says yes", check, timeout=CATCH_UP_TIMEOUT, interval=0.5)
    except AssertionError as e:
        raise AssertionError("%s; answers %s; last:\n%s" % (e, answers, "".join(last))) from None
    elapsed = time.monotonic() - t0
    for user, msgids in ids.items():
        for msgid in msgids:
            assert count(ha, "store1", user, msgid) == 1, (user, msgid)
            assert count(ha, "store2", user, msgid) == 1, (user, msgid)
    print("store1 restarted -> caught up (every Message-ID on store1, caught-up 0) in %.2f s; answers %s"
          % (elapsed, answers))
    # And replication runs normally again, both ways.
    msgid = new_msgid("after")
    deliver(ha, "store1", ALICE, msgid)
    wait_until("new delivery on store2", lambda: count(ha, "store2", ALICE, msgid) == 1)
