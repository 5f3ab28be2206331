"""Migration (M1, M6): `emailng import run` brings users' mail in from a
legacy IMAP server (Dovecot's imapc) and from a maildir tree, with
`doveadm sync -1 -R` from the state of the user's last run.

The legacy server is a Debian Dovecot EmailNG does not configure: a plain
configuration written here (own base_dir, IMAP on 127.0.0.1:10143 in the
site's network namespace, maildir, hierarchy separator "." and the
listescape plugin so that "/" may appear in a folder name, as on many old
servers). It is filled by IMAP APPEND with flags, keywords and INTERNALDATE
set explicitly; a second legacy user serves a maildir tree written here
with hostile content, so that both sources are compared by IMAP FETCH on
both sides: sha256 of BODY.PEEK[], FLAGS, INTERNALDATE, folder, and the
UIDs. `import run --jobs N` imports several users at once; `import
rollback` copies what arrived on EmailNG since the cut-over back to the
legacy server."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import DOMAIN, imap_connect
from legacy_imap import (LEGACY_PORT, SUBSCRIBED, Legacy, assert_same, by_hash, emailng_name, fill_imap,
                         list_folders, message, quoted, snapshot, write_tree)


# --- the fixture ------------------------------------------------------------------------

class Migration:
    pass


@pytest.fixture(scope="module")
def mig(site):
    parent = os.environ.get("EMAILNG_E2E_TMP", tempfile.gettempdir())
    root = tempfile.mkdtemp(prefix="emailng-legacy-", dir=parent)
    os.chmod(root, 0o755)
    legacy = Legacy(root)
    x = Migration()
    x.site, x.legacy, x.root = site, legacy, root
    # A hostile legacy password: quotes, backslash, % and $ must reach the server unchanged.
    x.legacy_password = 'Old"pw\\%u$default_internal_user ' + uuid.uuid4().hex
    legacy.add_user("old1", x.legacy_password)
    x.tree = os.path.join(root, "tree")
    x.big_size = write_tree(x.tree)
    legacy.add_user("tree", "tree-pw-" + uuid.uuid4().hex, "maildir:%s" % x.tree)
    legacy.start()
    try:
        fill_imap(legacy, "old1")
        m = legacy.connect("tree")
        for name in ("A&B", "dot.ted"):
            assert m.subscribe(quoted(name))[0] == "OK"
        m.logout()
        x.user_imap, x.pw_imap = site.new_user(prefix="imp")
        x.user_tree, x.pw_tree = site.new_user(prefix="tree")
        x.pwfile = os.path.join(root, "old1.password")
        with open(os.open(x.pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(x.legacy_password + "\n")
        x.list_file = os.path.join(root, "users.list")
        with open(x.list_file, "w") as f:
            f.write("# address  source  login  password file\n%s imap old1 %s\n%s maildir %s   # the tree\n"
                    % (x.user_imap, x.pwfile, x.user_tree, x.tree))
        yield x
    finally:
        legacy.stop()
        if not os.environ.get("EMAILNG_E2E_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


def run_import(x, *args, list_file=None, timeout=600):
    return x.site.run("import", "run", list_file or x.list_file, "--imap-host", "127.0.0.1",
                      "--imap-port", str(LEGACY_PORT), "--imap-tls", "none", *args, timeout=timeout)


def report(r, user):
    lines = [ln for ln in r.out.splitlines() if re.match(r"\[\d+/\d+\] %s: (done|OVER QUOTA|FAILED)" % re.escape(user), ln)]
    assert lines, r
    return dict(kv.split("=", 1) for kv in re.findall(r"\b\w+=\S+", lines[-1])), lines[-1]


def snapshots(x, user, password, legacy_login):
    m = x.legacy.connect(legacy_login)
    try:
        old = snapshot(m)
    finally:
        m.logout()
    h = imap_connect(x.site, user, password)
    try:
        new = snapshot(h)
    finally:
        h.logout()
    return old, new


# --- the tests ----------------------------------------------------------------------------

def test_list_file_errors_name_file_and_line(mig):
    """A bad list file is refused as a whole, every bad line as FILE:LINE: reason; nothing is imported."""
    bad = os.path.join(mig.root, "bad.list")
    with open(bad, "w") as f:
        f.write("# comment\n\n"
                "not-an-address imap old1 /x\n"
                "%s imap old1 relative/path\n"
                "%s pop3 old1 /x\n"
                "%s maildir /srv/mail weird-layout\n"
                "%s imap old1\n"
                "%s maildir /a\n%s maildir /b\n"
                % (mig.user_imap, mig.user_imap, mig.user_imap, mig.user_imap, mig.user_tree, mig.user_tree))
    r = run_import(mig, list_file=bad)
    assert r.rc == 2, r
    for line, what in ((3, "ADDRESS"), (4, "absolute path"), (5, "imap or maildir"), (6, "layout"),
                       (7, "4 fields"), (9, "listed twice (line 8)")):
        assert re.search(r"^%s:%d: .*%s" % (re.escape(bad), line, re.escape(what)), r.err, re.M), (line, r.err)
    assert "import pass" not in r.out, r
    assert not os.path.exists(os.path.join(mig.site.state, "import", "users", mig.user_imap)), r


def test_password_file_readable_by_others_refused(mig):
    """The legacy password file must be root's and 0600/0400: a 0644 one fails that user, with the reason."""
    loose = os.path.join(mig.root, "loose.password")
    with open(loose, "w") as f:
        f.write("whatever\n")
    os.chmod(loose, 0o644)
    lst = os.path.join(mig.root, "loose.list")
    with open(lst, "w") as f:
        f.write("%s imap old1 %s\n" % (mig.user_imap, loose))
    r = run_import(mig, list_file=lst)
    assert r.rc == 1, r
    assert "mode 0600 or 0400" in r.out and "FAILED" in r.out, r
    os.unlink(os.path.join(mig.site.state, "import", "users", mig.user_imap))


def test_one_import_at_a_time(mig):
    """While one import holds STATE/import/lock, another refuses to start (they would share the pass
    file and the folder of password configurations)."""
    import fcntl
    os.makedirs(os.path.join(mig.site.state, "import"), exist_ok=True)
    with open(os.path.join(mig.site.state, "import", "lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = run_import(mig)
        fcntl.flock(f, fcntl.LOCK_UN)
    assert r.rc == 1 and "another emailng import is running" in r.err, r
    assert "import pass" not in r.out, r


def test_first_import_preserves_everything(mig):
    """M1: after the first run, per message on both sides by IMAP: sha256 of BODY.PEEK[], FLAGS
    (keywords too), INTERNALDATE and folder (UTF-8, "&", hierarchy, "/" -> "_") are the same; UIDVALIDITY
    and UIDs are the source's; subscriptions follow; the report counts them; the legacy password is in
    no process's command line, nor in an environment another user could read, while doveadm runs."""
    seen = {"doveadm": 0, "leaks": []}
    stop = threading.Event()

    def watch():
        needle = mig.legacy_password.encode()
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        cmd = f.read()
                    with open("/proc/%s/environ" % pid, "rb") as f:
                        env = f.read()
                    environ_owner = os.stat("/proc/%s/environ" % pid).st_uid
                except OSError:
                    continue
                if b"doveadm" in cmd and mig.site.state.encode() in cmd:     # this site's, not another suite's
                    seen["doveadm"] += 1
                # The command line is every local user's to read. The
                # environment only its owner's: Dovecot's doveconf hands a
                # root doveadm its settings there for a moment (DOVECONF_ENV).
                if needle in cmd or (needle in env and environ_owner != 0):
                    seen["leaks"].append(cmd)
            time.sleep(0.01)
    t = threading.Thread(target=watch)
    t.start()
    try:
        r = run_import(mig)
    finally:
        stop.set()
        t.join()
    assert r.rc == 0, r
    assert seen["doveadm"] > 0 and seen["leaks"] == [], seen
    rundir = os.path.join(mig.site.state, "import", "run")
    assert not os.path.exists(rundir) or not os.listdir(rundir), "a configuration with a password was left"

    old, new = snapshots(mig, mig.user_imap, mig.pw_imap, "old1")
    assert set(old) == {"INBOX", "A&B", "dot.ted", "sl/ash", "Ünïcødé ✓"}, old.keys()
    assert_same(old, new, "imap")
    assert new["sl_ash"]["messages"] and new["Ünïcødé ✓"]["messages"] and new["dot/ted"]["messages"], new.keys()
    rep, line = report(r, mig.user_imap)
    assert int(rep["messages"]) == sum(len(b["messages"]) for b in new.values()), line
    assert int(rep["messages"]) == int(rep["source_messages"]) == 8, line
    assert rep["errors"] == "0", line

    h = imap_connect(mig.site, mig.user_imap, mig.pw_imap)
    subscribed = {n for n, _ in list_folders(h, "LSUB")}
    h.logout()
    assert {emailng_name(n) for n in SUBSCRIBED} <= subscribed, subscribed
    assert "dot/ted" not in subscribed, subscribed

    old, new = snapshots(mig, mig.user_tree, mig.pw_tree, "tree")
    assert_same(old, new, "maildir")
    sizes = sorted(v[3] for b in new.values() for v in b["messages"].values())
    assert sizes[0] == 0 and sizes[-1] > 30_000_000, sizes
    assert {"A&B", "dot/ted", "Été ✓"} <= set(new), new.keys()
    h = imap_connect(mig.site, mig.user_tree, mig.pw_tree)
    subscribed = {n for n, _ in list_folders(h, "LSUB")}
    h.logout()
    assert {"A&B", "dot/ted"} <= subscribed, subscribed
    rep, line = report(r, mig.user_tree)
    assert int(rep["messages"]) == int(rep["source_messages"]) == 9, line

    st = mig.site.run("import", "status")
    assert st.rc == 0 and re.search(r"^%s pass=\d+ phase=pre result=done" % re.escape(mig.user_imap), st.out, re.M), st


def test_incremental_run_moves_only_new_mail(mig):
    """A second run before cut-over copies only what is new: the legacy server sends exactly one message
    body (the new one), the report says +1 message, and both sides are the same again (a flag changed on
    the legacy server follows too)."""
    m = mig.legacy.connect("old1")
    new_msg = message(100, size=5000)
    assert m.append(quoted("A&B"), r"(\Flagged)", '"01-Feb-2026 01:02:03 +0000"', new_msg)[0] == "OK"
    m.select("INBOX")
    assert m.uid("STORE", "1", "+FLAGS", r"(\Flagged later-kw)")[0] == "OK"
    m.logout()
    offset = mig.legacy.log_size()
    r = run_import(mig, "--user", mig.user_imap)
    assert r.rc == 0, r
    time.sleep(0.5)
    count, size = mig.legacy.body_fetches_since(offset)
    assert count == 1 and size >= len(new_msg), (count, size, len(new_msg))
    rep, line = report(r, mig.user_imap)
    assert rep["new_messages"] == "1", line
    old, new = snapshots(mig, mig.user_imap, mig.pw_imap, "old1")
    assert_same(old, new, "imap, incremental")


def test_interrupted_pass_is_resumed(mig):
    """A pass killed half-way is resumed by the next run: users done in it are skipped, the one that was
    being imported is finished from its last state without duplicates."""
    r1 = run_import(mig)                 # pass 2, complete: every user done
    assert r1.rc == 0, r1
    passfile = os.path.join(mig.site.state, "import", "pass")
    with open(passfile) as f:
        n, phase, state = f.read().split()
    assert (phase, state) == ("pre", "complete"), (n, phase, state)
    env = dict(os.environ, EMAILNG_DATADIR=os.environ.get("EMAILNG_DATADIR", ""))
    from conftest import EMAILNG
    # Start pass 3 and kill emailng while the maildir user (second in the list) is being imported.
    m = mig.legacy.connect("old1")
    assert m.append("INBOX", r"(\Seen)", None, message(200))[0] == "OK"
    m.logout()
    subprocess.run(["chown", "vmail:vmail", mig.tree], check=True)
    p = subprocess.Popen([EMAILNG, "import", "run", mig.list_file, "--imap-host", "127.0.0.1", "--imap-port",
                          str(LEGACY_PORT), "--imap-tls", "none", "--state", mig.site.state],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = b""
    while True:
        line = p.stdout.readline()
        out += line
        if not line or b"[2/2]" in line:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stdout.close()
    with open(passfile) as f:
        assert f.read().split() == [str(int(n) + 1), "pre", "running"], out
    r = run_import(mig)
    assert r.rc == 0, r
    assert "resumed" in r.out and re.search(r"\[1/2\] %s: skipped" % re.escape(mig.user_imap), r.out), r
    old, new = snapshots(mig, mig.user_tree, mig.pw_tree, "tree")
    assert_same(old, new, "maildir, resumed")
    old, new = snapshots(mig, mig.user_imap, mig.pw_imap, "old1")
    assert_same(old, new, "imap, resumed")


def test_final_run_keeps_changes_made_on_emailng(mig):
    """After the cut-over, `--final` brings the last new legacy mail, and what the user did on EmailNG
    meanwhile (a flag set, a flag removed, a message deleted) survives it."""
    h = imap_connect(mig.site, mig.user_imap, mig.pw_imap)
    h.select("INBOX")
    typ, data = h.uid("SEARCH", "ALL")
    uids = data[0].split()
    assert len(uids) >= 3, uids
    flagged, unseen, deleted = uids[0], uids[1], uids[2]
    assert h.uid("STORE", flagged, "+FLAGS", r"(\Flagged emailng-kw)")[0] == "OK"
    assert h.uid("STORE", unseen, "-FLAGS", r"(\Seen)")[0] == "OK"
    assert h.uid("STORE", deleted, "+FLAGS", r"(\Deleted)")[0] == "OK"
    assert h.uid("EXPUNGE", deleted)[0] == "OK"
    h.logout()
    m = mig.legacy.connect("old1")
    last = message(300)
    assert m.append("INBOX", r"(\Seen)", '"05-Dec-2026 05:05:05 +0000"', last)[0] == "OK"
    m.logout()

    r = run_import(mig, "--final")
    assert r.rc == 0, r
    assert "final" in r.out, r
    h = imap_connect(mig.site, mig.user_imap, mig.pw_imap)
    h.select("INBOX", readonly=True)
    typ, data = h.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    text = b" ".join(p[0] + p[1] if isinstance(p, tuple) else p for p in data if p)
    h.logout()
    flags = {int(u): f.decode() for u, f in re.findall(rb"UID (\d+) FLAGS \(([^)]*)\)", text)}
    assert int(deleted) not in flags, flags
    assert "\\Flagged" in flags[int(flagged)] and "emailng-kw" in flags[int(flagged)], flags
    assert "\\Seen" not in flags[int(unseen)], flags
    mid = re.search(rb"Message-ID: (<legacy-300-[^>]+>)", last).group(1)
    assert mid in text, text[-500:]
    st = mig.site.run("import", "status")
    assert re.search(r"^%s pass=\d+ phase=final result=done" % re.escape(mig.user_imap), st.out, re.M), st


def test_rollback_copies_mail_since_cut_over_back(mig):
    """`emailng import rollback --cutover T`: what arrived on EmailNG after the cut-over T (delivered or
    saved there, in an existing and in a new folder) goes back to the legacy server once, with bytes, flags
    and INTERNALDATE; what the final run brought from the legacy server (saved on EmailNG after T but
    received before it) is not copied back; a second rollback copies nothing."""
    # Received on the old server before the cut-over; the final run brings it after.
    m = mig.legacy.connect("old1")
    assert m.append("INBOX", None, '"01-Dec-2026 01:02:03 +0000"', message(500))[0] == "OK"
    m.logout()
    cutover = int(time.time())
    time.sleep(1.1)
    r = run_import(mig, "--final")
    assert r.rc == 0, r
    # After the cut-over, on EmailNG: a delivery-like APPEND, and a new folder.
    h = imap_connect(mig.site, mig.user_imap, mig.pw_imap)
    assert h.append("INBOX", r"(\Flagged)", None, message(501))[0] == "OK"
    assert h.create("Afterwards")[0] == "OK"
    assert h.append("Afterwards", r"(\Seen $Label1)", None, message(502))[0] == "OK"
    here = snapshot(h, ["INBOX", "Afterwards"])
    h.logout()
    m = mig.legacy.connect("old1")
    before = snapshot(m, ["INBOX"])
    m.logout()

    r = mig.site.run("import", "rollback", mig.list_file, "--cutover",
                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutover)), "--imap-host", "127.0.0.1",
                     "--imap-port", str(LEGACY_PORT), "--imap-tls", "none", timeout=300)
    assert r.rc == 0, r
    rep, line = report(r, mig.user_imap)
    assert rep["new_messages"] == "2", line
    m = mig.legacy.connect("old1")
    after = snapshot(m, ["INBOX", "Afterwards"])
    m.logout()
    want_inbox = dict(by_hash(before, "INBOX"))
    new_here = {k: v for k, v in by_hash(here, "INBOX").items() if k not in want_inbox}
    assert len(new_here) == 1, new_here          # message 501 alone: 500 is on both already
    want_inbox.update(new_here)
    assert by_hash(after, "INBOX") == want_inbox
    assert by_hash(after, "Afterwards") == by_hash(here, "Afterwards")
    # Once only.
    r = mig.site.run("import", "rollback", mig.list_file, "--cutover", str(cutover), "--imap-host", "127.0.0.1",
                     "--imap-port", str(LEGACY_PORT), "--imap-tls", "none", timeout=300)
    assert r.rc == 0 and re.search(r"%s: skipped, rolled back already" % re.escape(mig.user_imap), r.out), r
    m = mig.legacy.connect("old1")
    again = snapshot(m, ["INBOX", "Afterwards"])
    m.logout()
    assert again == after
    bad = mig.site.run("import", "rollback", mig.list_file, "--imap-host", "127.0.0.1")
    assert bad.rc == 2 and "--cutover" in bad.err, bad


def test_final_run_refuses_user_never_imported(mig):
    """--final for a user without an earlier run fails that user (a stateless one-way sync would bring
    back mail deleted on EmailNG), with the reason."""
    user, _ = mig.site.new_user(prefix="late")
    lst = os.path.join(mig.root, "late.list")
    with open(lst, "w") as f:
        f.write("%s imap old1 %s\n" % (user, mig.pwfile))
    r = run_import(mig, "--final", list_file=lst)
    assert r.rc == 1, r
    assert "no earlier import" in r.out and "FAILED" in r.out, r


def test_import_over_quota_is_reported(mig):
    """Import past a user's quota is not truncated: every message arrives and the user's report says
    OVER QUOTA with the used and limit figures (exit status 1)."""
    user, pw = mig.site.new_user(quota="1M", prefix="small")
    mig.legacy.add_user("full", "full-pw")
    m = mig.legacy.connect("full")
    for i in range(4):
        assert m.append("INBOX", None, None, message(400 + i, size=400_000))[0] == "OK"
    m.logout()
    pwfile = os.path.join(mig.root, "full.password")
    with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("full-pw\n")
    lst = os.path.join(mig.root, "full.list")
    with open(lst, "w") as f:
        f.write("%s imap full %s\n" % (user, pwfile))
    r = run_import(mig, list_file=lst)
    assert r.rc == 1, r
    rep, line = report(r, user)
    assert "OVER QUOTA" in line, line
    assert int(rep["quota_used_kib"]) > int(rep["quota_limit_kib"]) == 1024, line
    assert rep["messages"] == rep["source_messages"] == "4", line
    old, new = snapshots(mig, user, pw, "full")
    assert_same(old, new, "over quota")


def test_parallel_import_reports_every_user(mig):
    """--jobs 3: three users imported at once, each with its own report and the legacy mailbox's mail
    (bytes, flags, INTERNALDATE, UIDs); --jobs outside 1..16 is a usage error."""
    users = [mig.site.new_user(prefix="par") for _ in range(3)]
    lst = os.path.join(mig.root, "parallel.list")
    with open(lst, "w") as f:
        f.writelines("%s imap old1 %s\n" % (u, mig.pwfile) for u, _ in users)
    r = run_import(mig, "--jobs", "3", list_file=lst)
    assert r.rc == 0 and "3 at once" in r.out, r
    assert re.search(r"^import pass \d+: 3 done, 0 over quota, 0 failed, 0 skipped$", r.out, re.M), r
    for u, _ in users:
        rep, line = report(r, u)
        assert rep["messages"] == rep["source_messages"] and int(rep["new_messages"]) > 0, line
    m = mig.legacy.connect("old1")
    old = snapshot(m)
    m.logout()
    for u, pw in users:
        h = imap_connect(mig.site, u, pw)
        new = snapshot(h)
        h.logout()
        assert_same(old, new, "parallel " + u)
    bad = run_import(mig, "--jobs", "17", list_file=lst)
    assert bad.rc == 2 and "--jobs" in bad.err, bad
