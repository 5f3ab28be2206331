"""Backup and restore (M6): `emailng backup` and `emailng restore`.

The module runs its own small site (own_site) whose site file sets
`backup: {path: STATE/bk, keep: 2}`, so that retention is seen after three
runs and the backup folder is the one the site file names. Mail is put in
with IMAP APPEND (known Message-IDs, flags and keywords) and by SMTP; it is
compared after a restore over IMAP, by Message-ID and flags."""

import imaplib
import os
import re
import stat
import subprocess
import threading
import time

import pytest

from conftest import (DOMAIN, GOOD_SITE, imap_connect, make_message, msgid, own_site, smtp_send,
                      wait_for_message)

SITE = GOOD_SITE + "filter: {enabled: false}\nbackup: {path: BACKUP_DIR, keep: 2}\n"


@pytest.fixture(scope="module")
def bsite():
    with own_site("backup", lambda state: SITE.replace("BACKUP_DIR", os.path.join(state, "bk"))) as s:
        s.backup_dir = os.path.join(s.state, "bk")
        yield s


def _doveadm(site, *args, stdin=None):
    conf = os.path.join(site.state, "etc", "mail", "dovecot", "dovecot.conf")
    cp = subprocess.run(["doveadm", "-c", conf, *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, "doveadm %s: %s%s" % (" ".join(args), cp.stdout, cp.stderr)
    return cp.stdout


def _backup(site, *args):
    r = site.run("backup", *args, timeout=300)
    assert r.rc == 0, r
    found = re.search(r"^emailng: backup (\S+) of site", r.out, re.M)
    assert found, r
    return found.group(1), r


def _append(m, folder, flags, subject):
    """One message with a new Message-ID APPENDed to folder with flags; returns the Message-ID."""
    mid = msgid()
    message, _ = make_message("someone@example.test", "x@example.test", mid, subject=subject)
    typ, data = m.append('"%s"' % folder, "(%s)" % " ".join(flags) if flags else None, None, message)
    assert typ == "OK", data
    return mid


def _folders(m):
    typ, data = m.list()
    assert typ == "OK", data
    names = []
    for line in data:
        found = re.match(rb'\((?P<attrs>[^)]*)\) "(?P<sep>[^"]*)" (?P<name>.*)$', line)
        assert found, line
        name = found.group("name").decode()
        names.append(name[1:-1] if name.startswith('"') else name)
    return names


def _snapshot(site, user, password, prefix=None):
    """{folder: {Message-ID: flags}} over IMAP (\\Recent left out); folders under prefix
    only, named without it, when prefix is given."""
    m = imap_connect(site, user, password)
    try:
        return _snapshot_folders(m, prefix)
    except imaplib.IMAP4.abort as e:
        # The server closed the session (seen once in CI, before any backup
        # ran): say what Dovecot logged about it.
        with open(os.path.join(site.state, "log", "mail", "dovecot.log"), errors="replace") as f:
            tail = f.read()[-6000:]
        raise AssertionError("IMAP session of %s closed by the server: %s\n--- dovecot.log ---\n%s"
                             % (user, e, tail)) from e
    finally:
        try:
            m.logout()
        except imaplib.IMAP4.abort:
            pass


def _snapshot_folders(m, prefix):
    """{folder: {Message-ID: flags}} of an open session."""
    result = {}
    for name in _folders(m):
        if prefix is not None:
            if not name.startswith(prefix + "/"):
                continue
            key = name[len(prefix) + 1:]
        else:
            if name.startswith("Restored"):
                continue
            key = name
        typ, data = m.select('"%s"' % name, readonly=True)
        if typ != "OK":
            continue      # \Noselect parents of restored folders
        box = {}
        if int(data[0]) > 0:
            typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            assert typ == "OK", data
            for part in data:
                if not isinstance(part, tuple):
                    continue
                flags = re.search(rb"FLAGS \(([^)]*)\)", part[0])
                mid = re.search(rb"<[^>]+>", part[1])
                assert flags and mid, part
                box[mid.group(0).decode()] = frozenset(f for f in flags.group(1).decode().split()
                                                       if f != "\\Recent")
        result[key] = box
    return result


def _fill(site, user, password):
    """Folders with known messages and flags; returns their snapshot."""
    m = imap_connect(site, user, password)
    try:
        for folder in ("Work", "Work/Deep", "Projekte"):
            typ, data = m.create('"%s"' % folder)
            assert typ == "OK", data
        _append(m, "INBOX", [], "plain")
        _append(m, "INBOX", ["\\Seen"], "seen")
        _append(m, "Work", ["\\Seen", "\\Flagged"], "flagged")
        _append(m, "Work", ["\\Answered", "$Label1"], "keyword")
        _append(m, "Work", [], "unseen")
        _append(m, "Work/Deep", ["\\Seen", "\\Draft"], "deep draft")
        _append(m, "Projekte", ["\\Seen", "$Important"], "project")
    finally:
        m.logout()
    # and one by SMTP, through the relay and LMTP
    mid = msgid()
    message, _ = make_message("someone@example.test", user, mid, subject="by smtp")
    smtp_send("someone@example.test", [user], message)
    wait_for_message(site, user, mid, password=password)
    return _snapshot(site, user, password)


def _delete_folder(site, user, password, folder):
    m = imap_connect(site, user, password)
    try:
        for name in sorted((n for n in _folders(m) if n == folder or n.startswith(folder + "/")), reverse=True):
            typ, data = m.delete('"%s"' % name)
            assert typ == "OK", data
        assert folder not in _folders(m)
    finally:
        m.logout()


def _generations(site):
    return sorted(n for n in os.listdir(site.backup_dir) if re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", n))


def test_folder_deleted_and_restored_under_restored(bsite):
    user, password = bsite.new_user(prefix="bk")
    before = _fill(bsite, user, password)
    assert set(before) >= {"INBOX", "Work", "Work/Deep", "Projekte"}
    gen, r = _backup(bsite)
    assert user in r.out and "saved from mail" in r.out, r

    _delete_folder(bsite, user, password, "Work")
    r = bsite.run("restore", "--user", user, "--folder", "Work", check=True)
    assert 'restored under "Restored/%s"' % gen in r.out and "4 message(s)" in r.out, r
    restored = _snapshot(bsite, user, password, prefix="Restored/" + gen)
    assert restored == {"Work": before["Work"], "Work/Deep": before["Work/Deep"]}
    # nothing the user had was touched, and the deleted folder stays deleted
    now = _snapshot(bsite, user, password)
    assert "Work" not in now and now["INBOX"] == before["INBOX"] and now["Projekte"] == before["Projekte"]
    # the restored folders are subscribed, so clients show them
    m = imap_connect(bsite, user, password)
    try:
        typ, data = m.lsub()
        assert typ == "OK" and any(("Restored/%s/Work" % gen).encode() in line for line in data), data
    finally:
        m.logout()
    # a second restore into the same folder is refused (no duplicates), another name works
    r = bsite.run("restore", "--user", user, "--folder", "Work")
    assert r.rc == 1 and "already has a folder" in r.err, r
    r = bsite.run("restore", "--user", user, "--into", "Everything", check=True)
    everything = _snapshot(bsite, user, password, prefix="Everything")
    assert {k: v for k, v in everything.items() if v} == {k: v for k, v in before.items() if v}
    # a folder the backup does not have
    r = bsite.run("restore", "--user", user, "--folder", "NoSuchFolder", "--into", "X")
    assert r.rc == 1 and "no message in folder NoSuchFolder" in r.err, r


def test_backup_while_mail_arrives_loses_nothing(bsite):
    user, password = bsite.new_user(prefix="bkflow")
    first = msgid()
    message, _ = make_message("someone@example.test", user, first, subject="before")
    smtp_send("someone@example.test", [user], message)
    wait_for_message(bsite, user, first, password=password)
    sent, errors = [], []

    def stream():
        try:
            for i in range(60):
                mid = msgid()
                message, _ = make_message("someone@example.test", user, mid, subject="stream %d" % i)
                smtp_send("someone@example.test", [user], message)
                sent.append(mid)
                time.sleep(0.05)
        except Exception as e:       # reported below, in the test's thread
            errors.append(e)

    t = threading.Thread(target=stream)
    t.start()
    try:
        while len(sent) < 10 and t.is_alive():
            time.sleep(0.05)
        in_inbox_at_start = set(_snapshot(bsite, user, password).get("INBOX", {}))
        gen_during, _ = _backup(bsite)
        sent_by_end = len(sent)
    finally:
        t.join(120)
    assert not errors, errors
    assert sent_by_end < len(sent), "the mail stream ended before the backup did; nothing arrived during it"
    for mid in sent:
        wait_for_message(bsite, user, mid, password=password, timeout=60)
    live = set(_snapshot(bsite, user, password)["INBOX"])
    assert live == set(sent) | {first}, "mail lost or doubled in the live mailbox"

    # The generation made during the stream: a consistent mdbox holding at
    # least what was in INBOX when it started, and only mail that was sent.
    bsite.run("restore", "--user", user, "--generation", gen_during, "--into", "During", check=True)
    during = set(_snapshot(bsite, user, password, prefix="During").get("INBOX", {}))
    assert in_inbox_at_start <= during <= live
    # The next generation has all of it.
    gen_after, _ = _backup(bsite, "--user", user)
    bsite.run("restore", "--user", user, "--generation", gen_after, "--into", "After", check=True)
    assert set(_snapshot(bsite, user, password, prefix="After")["INBOX"]) == live


def test_deleted_user_mailbox_restored_with_replace(bsite):
    user, password = bsite.new_user(prefix="bkgone")
    before = _fill(bsite, user, password)
    _doveadm(bsite, "sieve", "put", "-u", user, "-a", "keepit", stdin='require "fileinto";\nkeep;\n')
    gen, _ = _backup(bsite)
    # The user is deleted (mailbox archived away) and added again: empty.
    bsite.run("user", "del", user, check=True)
    new_password = "Back-" + bsite.unique("pw")
    bsite.run("user", "add", user, "--password-stdin", stdin=new_password + "\n", check=True)
    assert all(not box for box in _snapshot(bsite, user, new_password).values())

    r = bsite.run("restore", "--user", user, "--replace", check=True)
    assert "replaced from generation %s" % gen in r.out, r
    assert _snapshot(bsite, user, new_password) == before
    assert "keepit ACTIVE" in _doveadm(bsite, "sieve", "list", "-u", user)
    # A mailbox holding mail is not replaced without --force.
    r = bsite.run("restore", "--user", user, "--replace")
    assert r.rc == 1 and "--force" in r.err, r
    # A user who does not exist gets no mailbox.
    r = bsite.run("restore", "--user", "nobody-here@" + DOMAIN, "--replace")
    assert r.rc == 1 and "user add" in r.err, r


def _mode(path):
    st = os.lstat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def test_backup_folder_and_secrets_are_private(bsite):
    gen, r = _backup(bsite)
    vmail = int(subprocess.run(["id", "-u", "vmail"], capture_output=True, text=True).stdout)
    vmail_gid = int(subprocess.run(["id", "-g", "vmail"], capture_output=True, text=True).stdout)
    g = os.path.join(bsite.backup_dir, gen)
    # only root enters; doveadm (vmail) may pass through to mail/
    assert _mode(bsite.backup_dir) == (0o710, 0, vmail_gid)
    assert _mode(g) == (0o710, 0, vmail_gid)
    assert _mode(os.path.join(g, "mail")) == (0o700, vmail, vmail_gid)
    assert _mode(os.path.join(g, "directory.ldif")) == (0o600, 0, 0)
    assert _mode(os.path.join(g, "manifest")) == (0o600, 0, 0)
    secrets = os.path.join(g, "secrets")
    for rel in ("site.yaml", "tls/ca.key", "tls/ca.crt", "secrets/srs-secret"):
        assert os.path.isfile(os.path.join(secrets, rel)), rel
    assert any(f.endswith(".private") for _, _, files in os.walk(os.path.join(secrets, "secrets", "dkim"))
               for f in files), "no DKIM key in the backup"
    with open(os.path.join(secrets, "tls", "ca.key"), "rb") as a, \
            open(os.path.join(bsite.state, "tls", "ca.key"), "rb") as b:
        assert a.read() == b.read()
    for root, dirs, files in os.walk(secrets):
        assert _mode(root) == (0o700, 0, 0), root
        for f in files:
            assert _mode(os.path.join(root, f)) == (0o600, 0, 0), os.path.join(root, f)
    with open(os.path.join(g, "directory.ldif")) as f:
        ldif = f.read()
    assert "dn: mail=alice@example.test,ou=users,dc=example,dc=test" in ldif and "userPassword" in ldif


def test_retention_keeps_backup_keep_full_generations(bsite):
    gens = [_backup(bsite)[0] for _ in range(3)]
    left = _generations(bsite)
    assert left[-2:] == gens[-2:], left
    full = [g for g in left if "scope all" in open(os.path.join(bsite.backup_dir, g, "manifest")).read()]
    assert full == gens[-2:], left
    r = bsite.run("backup", "--list", check=True)
    assert all(g in r.out for g in left) and "backup.keep 2" in r.out, r
    assert not [n for n in os.listdir(bsite.backup_dir) if n.endswith(".partial")]


def _slapd_pid(site):
    with open(os.path.join(site.state, "run", "mail", "slapd", "slapd.pid")) as f:
        return int(f.read().split()[0])


def test_directory_restored_onto_a_wiped_directory(bsite):
    user, password = bsite.new_user(prefix="bkdir")
    gen, _ = _backup(bsite)
    later, later_password = bsite.new_user(prefix="bklater")     # not in the backup
    # A directory that has users is not overwritten.
    r = bsite.run("restore", "--directory")
    assert r.rc == 1 and "holds" in r.err and "--force" in r.err, r
    imap_connect(bsite, user, password).logout()               # slapd is up again

    # The directory's data wiped with slapd stopped: a fresh, empty directory.
    pid = _slapd_pid(bsite)
    os.kill(pid, 15)
    deadline = time.monotonic() + 20
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    ldap = os.path.join(bsite.state, "data", "mail", "ldap")
    for f in os.listdir(ldap):
        os.unlink(os.path.join(ldap, f))

    r = bsite.run("restore", "--directory", "--generation", gen, check=True)
    assert "directory restored from generation %s" % gen in r.out, r
    # users log in again with their passwords; the one added after the backup is gone
    imap_connect(bsite, user, password).logout()
    imap_connect(bsite, "alice@example.test", bsite.passwords["alice@example.test"]).logout()
    listing = bsite.run("user", "list", check=True).out
    assert user in listing and later not in listing
    services = bsite.services()
    assert services["slapd"]["state"] == "up", services["slapd"]
