"""`emailng deploy --upgrade` (issue 12, A4): a rolling upgrade of the
deployed full topology to a new emailng build, one host at a time, under
load from the client namespace: mail by MX every 0.2 s, submissions (587,
STARTTLS, SASL) every 0.5 s, an IMAP login + SELECT every 0.5 s and an
IMAP session that IDLEs (deploysite's MxLoad, SubmissionLoad, ImapLoad,
IdleLoad, which bench/deploy also runs); then a build that fails its
check on the first store, which stops the roll there with that store
drained.

The roll under load runs the fabric's DNS (nsd, deployed_site.start_dns)
meanwhile, as a real site has it: the relays' SASL logins go to the
proxies by the site's name, mail.example.test. The site has no send
limits (conftest.py) and the submissions come from 16 addresses of the
client (deploysite.SUBMISSION_SOURCES: Postfix lets one address log in
10 times a minute). Printed (in the -v output on failure; with -s
always): the roll's time, the messages taken by each load, and the IMAP
login client's and the IDLE client's longest outage (the longest time
between two successful operations).

The "new build" is this build's programs copied into a folder of another
name (`--build DIR`): each host installs it in a folder of its own and its
`emailng up` restarts every daemon of ours, which now runs another file.
The test hosts share /usr and dpkg's database with the machine, so the
package upgrade is switched off here (group_vars: emailng_upgrade_packages)
and the builds go to a folder private to each host (emailng_builds_dir).
Runs last in this folder: it leaves store1 drained."""

import json
import os
import re
import smtplib
import subprocess
import time
import uuid

from conftest import DATADIR, EMAILNG, HOSTS, PREFIX, in_netns, recap
from deployed_site import start_dns, stop_dns
from deploysite import (BUILDS_DIR, DOMAIN, IdleLoad, ImapLoad, MxLoad, SubmissionLoad, add_submission_sources,
                        log_lines_since, log_sizes, longest_outage)

USER = "alice@" + DOMAIN          # receives every message; the IMAP and IDLE clients are hers
SUBMITTER = "bob@" + DOMAIN       # the submissions' SASL login
ROLL_ORDER = ["dir1", "store1", "store2", "proxy1", "proxy2", "relay1", "relay2"]
WHY = "tests/e2e_deploy/test_upgrade.py"


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
    deployed.upgrade_group_vars(WHY)
    build = deployed.make_build("emailng-next")
    password = deployed.password(USER)
    before = _services(deployed)
    add_submission_sources(PREFIX)
    marks = log_sizes(deployed)
    mx = MxLoad(PREFIX, USER, 0.2)
    submission = SubmissionLoad(PREFIX, deployed.ca, SUBMITTER, deployed.password(SUBMITTER), USER, 0.5)
    imap = ImapLoad(PREFIX, deployed.ca, USER, password, 0.5)
    idle = IdleLoad(PREFIX, deployed.ca, USER, password, "proxy1")
    loads = (mx, submission, imap, idle)
    nsd = start_dns(deployed)
    try:
        started = time.monotonic()
        for load in loads:
            load.start()
        time.sleep(3)
        try:
            cp, elapsed = deployed.deploy("--upgrade", "--build", build)
            roll_ended = time.monotonic()
        finally:
            time.sleep(3)
            for load in loads:
                load.stop.set()
            for load in loads:
                load.join(90)
            stopped = time.monotonic()
    finally:
        stop_dns(nsd)
    imap_outage = longest_outage(imap.times, started, stopped)
    idle_outage = longest_outage(idle.times, started, stopped)
    figures = ("rolling upgrade of %d hosts: %.1f s; by MX %d messages, by submission %d (longest wait %.1f s); "
               "%d IMAP logins, longest outage %.1f s; IDLE: %d sessions (%d failed attempts or lost sessions), "
               "longest outage %.1f s" % (
                   len(HOSTS), elapsed, len(mx.accepted), len(submission.accepted),
                   longest_outage(submission.times, started, stopped), imap.good, imap_outage, idle.sessions,
                   len(idle.failures), idle_outage))
    print("\n" + figures)
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

    # Every accepted message (MX and submission) is in the INBOX exactly
    # once; none refused by both relays; none bounced.
    assert mx.failures == [], mx.failures[:5]
    assert submission.failures == [], submission.failures[:5]
    assert len(mx.accepted) > 50 and len(submission.accepted) > 20, (len(mx.accepted), len(submission.accepted))
    accepted = mx.accepted + submission.accepted
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ids = deployed.imap_message_ids(USER, password)
        if all(ids[i] >= 1 for i in accepted):
            break
        time.sleep(3)
    time.sleep(3)              # a duplicate would follow within moments
    ids = deployed.imap_message_ids(USER, password)
    missing = [i for i in accepted if ids[i] == 0]
    twice = [i for i in accepted if ids[i] > 1]
    assert (missing, twice) == ([], []), (len(missing), len(twice), figures)
    bounced = log_lines_since(deployed, marks, "status=bounced")
    assert bounced == [], bounced[:5]
    # IMAP logins worked throughout, through one proxy or the other; the
    # IDLE client (its session ended by a drain logs in again) idled again
    # after the roll.
    assert imap.failures == [], imap.failures[:5]
    assert imap.good > 20
    assert idle.times and idle.times[-1] > roll_ended, (idle.failures[-5:], figures)

    status = _control_status(deployed)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("upgraded and serving") == len(HOSTS), status.stdout
    print("\n%s; none lost, doubled or bounced" % figures)


def test_failing_host_stops_the_roll_there_drained(deployed):
    """A build whose emailng-syncwatch (a store's daemon) fails: dir1 is
    rolled, store1 fails its `up` and stays drained, nothing after it is
    touched, the others serve, the control host's status says so."""
    deployed.upgrade_group_vars(WHY)
    build = deployed.make_build("emailng-broken", broken="emailng-syncwatch")
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
    password = deployed.password(USER)
    message_id = "<%s@outside.test>" % uuid.uuid4()
    with in_netns(PREFIX + "-client"):
        with smtplib.SMTP(HOSTS["relay1"], 25, timeout=60) as s:
            s.sendmail("sender@outside.test", [USER], "From: sender@outside.test\r\nTo: %s\r\nMessage-ID: %s\r\n"
                       "Subject: after a stopped roll\r\n\r\nstill served\r\n" % (USER, message_id))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and deployed.imap_message_ids(USER, password)[message_id] == 0:
        time.sleep(1)
    assert deployed.imap_message_ids(USER, password)[message_id] == 1

    # The control host's status shows the stopped roll.
    status = _control_status(deployed)
    assert status.returncode == 1, status.stdout + status.stderr
    assert "the roll stopped at store1" in status.stdout, status.stdout
    assert re.search(r"^store1 +store +FAILED, stays drained", status.stdout, re.M), status.stdout
    assert re.search(r"^store2 +store +not rolled", status.stdout, re.M), status.stdout
    js = json.loads(_control_status(deployed, "--json").stdout)
    assert js["upgrade"]["stopped_at"] == "store1"
    print("\nroll stopped at store1 after %.1f s" % elapsed)
