"""`emailng deploy --upgrade` (issue 12, A4): a rolling upgrade of the
deployed full topology to a new emailng build, one host at a time, under
continuous mail by MX and IMAP logins; then a build that fails its check on
the first store, which stops the roll there with that store drained.

The "new build" is this build's programs copied into a folder of another
name (`--build DIR`): each host installs it in a folder of its own and its
`emailng up` restarts every daemon of ours, which now runs another file.
The test hosts share /usr and dpkg's database with the machine, so the
package upgrade is switched off here (group_vars: emailng_upgrade_packages)
and the builds go to a folder private to each host (emailng_builds_dir).
Runs last in this folder: it leaves store1 drained."""

import collections
import imaplib
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import threading
import time
import uuid

from conftest import DATADIR, EMAILNG, HOSTS, PREFIX, in_netns, recap

DOMAIN = "example.test"
USER = "alice@" + DOMAIN
BUILDS_DIR = "/var/lib/emailng/builds"
ROLL_ORDER = ["dir1", "store1", "store2", "proxy1", "proxy2", "relay1", "relay2"]


def _password(deployed, address):
    out = deployed.on("dir1", "cat", "/var/lib/emailng/secrets/demo-passwords").stdout
    return dict(line.split() for line in out.splitlines())[address]


def _make_build(deployed, name, broken=None):
    """A build folder: this build's programs under another name; `broken`
    names a program replaced by one that fails at once."""
    src = os.path.dirname(os.path.abspath(EMAILNG))
    dst = os.path.join(deployed.root, name)
    os.makedirs(dst, exist_ok=True)
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry.startswith("emailng") and os.path.isfile(path) and os.access(path, os.X_OK):
            shutil.copy2(path, os.path.join(dst, entry))
    if broken:
        with open(os.path.join(dst, broken), "w") as f:
            f.write("#!/bin/sh\necho 'a broken build' >&2\nexit 1\n")
        os.chmod(os.path.join(dst, broken), 0o755)
    return dst


def _group_vars(deployed):
    folder = os.path.join(deployed.control, "ansible", "group_vars")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "all.yml"), "w") as f:
        f.write("---\n# tests/e2e_deploy/test_upgrade.py: the test hosts share /usr and dpkg's database\n"
                "emailng_upgrade_packages: false\nemailng_builds_dir: %s\n" % BUILDS_DIR)


def _services(deployed):
    """{(host, service): (pid, exe)} of every daemon of every host."""
    out = {}
    for host in HOSTS:
        status = json.loads(deployed.emailng_on(host, "--host", host, "status", "--json").stdout)
        for h in status["hosts"]:
            for svc in h["services"]:
                assert svc["state"] == "up", (host, svc)
                exe = deployed.on(host, "readlink", "/proc/%d/exe" % svc["pid"]).stdout.strip()
                out[(host, svc["name"])] = (svc["pid"], exe)
    return out


def _ours(exe):
    return os.path.basename(exe.replace(" (deleted)", "")).startswith("emailng")


class MxLoad(threading.Thread):
    """A message to USER every 0.2 s through relay1 or relay2 (alternating
    first choice; the other when one refuses), as a sending MTA with the
    site's two MX does."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.accepted = []
        self.failures = []

    def run(self):
        relays = [HOSTS["relay1"], HOSTS["relay2"]]
        with in_netns(PREFIX + "-client"):
            n = 0
            while not self.stop.is_set():
                message_id = "<%s@outside.test>" % uuid.uuid4()
                message = ("From: sender@outside.test\r\nTo: %s\r\nSubject: roll %d\r\nMessage-ID: %s\r\n\r\n"
                           "sent during the rolling upgrade\r\n" % (USER, n, message_id))
                errors = []
                for relay in relays[n % 2:] + relays[:n % 2]:
                    try:
                        with smtplib.SMTP(relay, 25, timeout=30) as s:
                            s.ehlo("client.outside.test")
                            s.sendmail("sender@outside.test", [USER], message)
                        self.accepted.append(message_id)
                        errors = None
                        break
                    except (OSError, smtplib.SMTPException) as e:
                        errors.append("%s: %r" % (relay, e))
                if errors:
                    self.failures.append((time.time(), errors))
                n += 1
                self.stop.wait(0.2)


class ImapLoad(threading.Thread):
    """An IMAP login and SELECT every 0.5 s through proxy1, or proxy2 when
    proxy1 refuses; records the attempts where neither answered and the
    longest time between two good logins."""

    def __init__(self, ca, password):
        super().__init__(daemon=True)
        self.ca = ca
        self.password = password
        self.stop = threading.Event()
        self.good = 0
        self.failures = []
        self.longest_gap = 0.0

    def _login(self, address):
        ctx = ssl.create_default_context(cafile=self.ca)
        m = imaplib.IMAP4_SSL(address, 993, ssl_context=ctx, timeout=20)
        try:
            m.login(USER, self.password)
            typ, _ = m.select("INBOX", readonly=True)
            assert typ == "OK"
        finally:
            try:
                m.logout()
            except Exception:
                pass

    def run(self):
        with in_netns(PREFIX + "-client"):
            last_good = time.monotonic()
            while not self.stop.is_set():
                errors = []
                for proxy in ("proxy1", "proxy2"):
                    try:
                        self._login(HOSTS[proxy])
                        now = time.monotonic()
                        self.longest_gap = max(self.longest_gap, now - last_good)
                        last_good = now
                        self.good += 1
                        errors = None
                        break
                    except Exception as e:       # any failure: the next proxy, as a client does
                        errors.append("%s: %r" % (proxy, e))
                if errors:
                    self.failures.append((time.time(), errors))
                self.stop.wait(0.5)


def _message_ids(deployed, password):
    ctx = ssl.create_default_context(cafile=deployed.ca)
    with in_netns(PREFIX + "-client"):
        m = imaplib.IMAP4_SSL(HOSTS["proxy1"], 993, ssl_context=ctx, timeout=30)
        try:
            m.login(USER, password)
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


def _record(deployed, host):
    path = os.path.join(deployed.control, "ansible", "upgrade", host + ".yml")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return dict(re.findall(r"^(\w+): (.*)$", f.read(), re.M))


def _control_status(deployed, *args):
    return subprocess.run([EMAILNG, "--state", deployed.control, "status", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))


def test_upgrade_playbook_is_lint_clean(deployed):
    """upgrade.yml as deploy wrote it, with every role task file it uses
    (named explicitly: outside a git work tree ansible-lint otherwise
    looks at little)."""
    tree = os.path.join(deployed.control, "ansible")
    cp = subprocess.run(["ansible-lint", "--offline", "upgrade.yml"], capture_output=True, text=True, timeout=300,
                        cwd=tree, env=dict(os.environ, NO_COLOR="1"))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    linted = re.search(r"on (\d+) files", cp.stdout + cp.stderr)
    assert linted and int(linted.group(1)) >= 8, cp.stdout + cp.stderr


def test_rolling_upgrade_under_mail_rolls_every_host_and_loses_nothing(deployed):
    _group_vars(deployed)
    build = _make_build(deployed, "emailng-next")
    password = _password(deployed, USER)
    before = _services(deployed)
    mx, imap = MxLoad(), ImapLoad(deployed.ca, password)
    mx.start()
    imap.start()
    time.sleep(3)
    try:
        cp, elapsed = deployed.deploy("--upgrade", "--build", build)
    finally:
        time.sleep(3)
        mx.stop.set()
        imap.stop.set()
        mx.join(60)
        imap.join(60)
    assert cp.returncode == 0, cp.stdout[-6000:] + cp.stderr
    hosts = recap(cp.stdout)
    assert set(hosts) == set(HOSTS) | {"localhost"}      # localhost: the control host's record
    for host, (ok, changed, unreachable, failed) in hosts.items():
        assert (unreachable, failed) == (0, 0), host
    # One host at a time, in the order of site.yml.
    rolled = []
    for m in re.finditer(r"^(?:ok|changed): \[(\S+) -> localhost\]", cp.stdout, re.M):
        if not rolled or rolled[-1] != m.group(1):
            rolled.append(m.group(1))
    assert rolled == ROLL_ORDER, rolled
    program = "%s/emailng-next/emailng" % BUILDS_DIR
    for host in HOSTS:
        r = _record(deployed, host)
        assert r is not None and r["step"] == '"done"', (host, r)
        assert json.loads(r["program"]) == program, host
        with open(os.path.join(deployed.control, "ansible", "host_vars", host + ".yml")) as f:
            assert json.loads(f.read().split(":", 1)[1].strip()) == program, host

    # Our daemons restarted from the new build; Debian's kept running,
    # except the stores' Postfix: its master.cf names the list agent of
    # the running build (emailng-list-deliver), a new configuration.
    after = _services(deployed)
    assert set(after) == set(before)
    ours = 0
    for key, (pid, exe) in before.items():
        new_pid, new_exe = after[key]
        if _ours(exe):
            ours += 1
            assert new_pid != pid, key
            assert new_exe == "%s/emailng-next/%s" % (BUILDS_DIR, os.path.basename(exe)), (key, new_exe)
        elif key in {("store1", "postfix"), ("store2", "postfix")}:
            assert new_pid != pid and new_exe == exe, key
        else:
            assert (new_pid, new_exe) == (pid, exe), key
    assert ours >= 7, ours

    # Every accepted message is in the INBOX exactly once; nothing refused.
    assert mx.failures == [], mx.failures[:5]
    assert len(mx.accepted) > 50
    deadline = time.monotonic() + 180
    ids = collections.Counter()
    while time.monotonic() < deadline:
        ids = _message_ids(deployed, password)
        if all(ids[i] >= 1 for i in mx.accepted):
            break
        time.sleep(2)
    time.sleep(3)              # a duplicate would follow within moments
    ids = _message_ids(deployed, password)
    missing = [i for i in mx.accepted if ids[i] == 0]
    twice = [i for i in mx.accepted if ids[i] > 1]
    assert (missing, twice) == ([], []), (len(missing), len(twice))
    # IMAP logins worked throughout, through one proxy or the other.
    assert imap.failures == [], imap.failures[:5]
    assert imap.good > 20

    status = _control_status(deployed)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("upgraded and serving") == len(HOSTS), status.stdout
    print("\nrolling upgrade of %d hosts: %.1f s; %d messages by MX, none lost or doubled; %d IMAP logins, "
          "longest time between two good ones %.1f s" % (len(HOSTS), elapsed, len(mx.accepted), imap.good,
                                                          imap.longest_gap))


def test_failing_host_stops_the_roll_there_drained(deployed):
    """A build whose emailng-syncwatch (a store's daemon) fails: dir1 is
    rolled, store1 fails its `up` and stays drained, nothing after it is
    touched, the others serve, the control host's status says so."""
    _group_vars(deployed)
    build = _make_build(deployed, "emailng-broken", broken="emailng-syncwatch")
    before = _services(deployed)
    cp, elapsed = deployed.deploy("--upgrade", "--build", build)
    assert cp.returncode == 1, cp.stdout[-6000:] + cp.stderr
    assert "store1 did not come back healthy" in cp.stdout, cp.stdout[-6000:]
    assert _record(deployed, "dir1")["step"] == '"done"'
    store1 = _record(deployed, "store1")
    assert store1["step"] == '"failed"', store1
    assert "emailng-syncwatch" in store1["message"], store1        # emailng up's own error line
    later = ["store2", "proxy1", "proxy2", "relay1", "relay2"]
    for host in later:
        assert _record(deployed, host) is None, host

    # store1 stays drained: every proxy's drain file names it, pair1 is on store2.
    for proxy in ("proxy1", "proxy2"):
        drained = deployed.on(proxy, "cat", "/var/lib/emailng/data/%s/healthd/drained" % proxy).stdout
        assert HOSTS["store1"] in drained.split(), proxy
        pairs = deployed.on(proxy, "cat", "/var/lib/emailng/data/%s/healthd/pairs" % proxy).stdout
        assert "pair1 %s" % HOSTS["store2"] in pairs.splitlines(), (proxy, pairs)
    # The hosts after it were not touched: every daemon as it was.
    after = {}
    for host in later:
        status = json.loads(deployed.emailng_on(host, "--host", host, "status", "--json").stdout)
        for h in status["hosts"]:
            for svc in h["services"]:
                after[(host, svc["name"])] = svc["pid"]
    assert after == {k: v[0] for k, v in before.items() if k[0] in later}

    # The others serve: mail by MX reaches the INBOX through store2.
    password = _password(deployed, USER)
    message_id = "<%s@outside.test>" % uuid.uuid4()
    with in_netns(PREFIX + "-client"):
        with smtplib.SMTP(HOSTS["relay1"], 25, timeout=60) as s:
            s.sendmail("sender@outside.test", [USER], "From: sender@outside.test\r\nTo: %s\r\nMessage-ID: %s\r\n"
                       "Subject: after a stopped roll\r\n\r\nstill served\r\n" % (USER, message_id))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _message_ids(deployed, password)[message_id] == 0:
        time.sleep(1)
    assert _message_ids(deployed, password)[message_id] == 1

    # The control host's status shows the stopped roll.
    status = _control_status(deployed)
    assert status.returncode == 1, status.stdout + status.stderr
    assert "the roll stopped at store1" in status.stdout, status.stdout
    assert re.search(r"^store1 +store +FAILED, stays drained", status.stdout, re.M), status.stdout
    assert re.search(r"^store2 +store +not rolled", status.stdout, re.M), status.stdout
    js = json.loads(_control_status(deployed, "--json").stdout)
    assert js["upgrade"]["stopped_at"] == "store1"
    print("\nroll stopped at store1 after %.1f s" % elapsed)
