"""Log rotation (O3): every host's logs are rotated by Debian's logrotate with the configuration
emailng renders and installs; daemons that can reopen their log do, none is restarted, and
nothing is lost or left world-readable. (Named to run late: it moves the logs aside.)"""

import glob
import json
import os
import subprocess
import time

from conftest import imap_connect, make_message, msgid, smtp_send, wait_for_message

LOGS = ("postfix.log", "dovecot.log", "policyd.log", "slapd.log", "amavisd.log", "clamd.log",
        "clamav-milter.log")


def _writers_of_rotated(logdir):
    """(process, file) for every open descriptor on a rotated log (NAME.log-DATE)."""
    found = []
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(logdir + "/") and ".log-" in target:
            pid = fd.split("/")[2]
            try:
                comm = open("/proc/%s/comm" % pid).read().strip()
            except OSError:
                comm = "?"
            found.append((comm, os.path.basename(target)))
    return sorted(set(found))


def _pids(site):
    st = json.loads(site.run("status", "--json", check=True).out)
    return {s["name"]: s["pid"] for h in st["hosts"] for s in h["services"]}


def test_logrotate_rotates_every_log_without_restarting_a_daemon(site, alice, tmp_path):
    conf = os.path.join(site.state, "etc", "mail", "logrotate", "emailng.conf")
    assert os.path.exists(conf)
    installed = [p for p in glob.glob("/etc/logrotate.d/emailng*")
                 if "include %s\n" % conf in open(p).read()]
    assert len(installed) == 1, "no /etc/logrotate.d file includes %s" % conf
    assert os.stat(installed[0]).st_mode & 0o022 == 0

    logdir = os.path.join(site.state, "log", "mail")
    for name in LOGS:          # notifempty: make sure each has something to rotate
        assert os.path.getsize(os.path.join(logdir, name)) > 0 or name == "clamav-milter.log", name
    before = _pids(site)
    cp = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "logrotate.state"), conf],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    for name in LOGS:
        path = os.path.join(logdir, name)
        if os.path.getsize(path) == 0 and not glob.glob(path + "-*"):
            assert name == "clamav-milter.log"      # may still be empty: notifempty skips it
            continue
        assert glob.glob(path + "-*"), "%s was not rotated: %s" % (name, os.listdir(logdir))
        assert os.path.exists(path), "%s is gone after rotation" % name
        assert os.stat(path).st_mode & 0o004 == 0, "%s is world-readable after rotation" % name
    assert _pids(site) == before, "a daemon was restarted by the rotation"

    # The daemons write to the new files: Postfix (copytruncate, O_APPEND: no hole at the start),
    # Dovecot (reopened), emailng-policyd (reopened on SIGHUP).
    mid = msgid()
    message, _ = make_message("someone@example.test", alice[0], mid, subject="after rotation")
    smtp_send("someone@example.test", [alice[0]], message)
    wait_for_message(site, alice[0], mid)
    imap_connect(site, *alice).logout()
    with open(os.path.join(logdir, "postfix.log"), "rb") as f:
        text = f.read()
    assert text and not text.startswith(b"\0") and mid.strip("<>").encode() in text
    with open(os.path.join(logdir, "dovecot.log"), "rb") as f:
        assert b"lmtp(" in f.read()
    with open(os.path.join(logdir, "policyd.log"), "rb") as f:
        assert b"SIGHUP: reopened the log" in f.read()
    # No process keeps writing to a rotated file (clamd, Dovecot's log process,
    # emailng-policyd reopened theirs).
    deadline = time.monotonic() + 15
    while True:
        stale = _writers_of_rotated(logdir)
        if not stale or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert stale == [], "still writing to rotated logs: %s" % stale
    rotated = glob.glob(os.path.join(logdir, "postfix.log-*"))
    assert rotated and os.path.getsize(rotated[0]) > 0
