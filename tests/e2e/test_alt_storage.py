"""ALT storage (issue 15, M2): old mail on the stores' second file system.

The module runs its own small site with `storage: {alt_path: STATE/alt-fs,
alt_after_days: 30}` (a folder here; a mount point in production). Mail is
put into alice's mailbox over IMAP with APPEND and explicit INTERNALDATEs:
some from 2020 (old), some from now (recent). `emailng storage altmove`
moves the old mail's files to STATE/alt-fs/mail (this host's ALT folder);
the tests then read every message back byte for byte, search it, compare
the quota, and take the ALT folder away as an unmounted file system would."""

import glob
import hashlib
import imaplib
import json
import os
import pwd
import stat
import time

import pytest

from conftest import imap_connect, own_site

ALICE = "alice@example.test"
AFTER_DAYS = 30

SITE = """\
site: {{name: alt-e2e}}
domains: [example.test]
hosts:
  - {{name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}}
demo_users: true
filter: {{enabled: false}}
storage: {{alt_path: {alt}, alt_after_days: %d}}
""" % AFTER_DAYS


def _alt_root(state):
    return os.path.join(state, "alt-fs")


@pytest.fixture(scope="module")
def asite():
    with own_site("alt", lambda state: SITE.format(alt=_alt_root(state))) as s:
        yield s


def _alt_dir(site):
    return os.path.join(_alt_root(site.state), "mail")


def _message(tag, word):
    return ("From: carol@outside.test\r\nTo: alice@example.test\r\nSubject: %s\r\n"
            "Message-ID: <%s@alt.test>\r\n\r\nThe body of %s holds the word %s.\r\n%s\r\n"
            % (tag, tag, tag, word, "x" * 2000)).encode()


OLD = {"old%d" % i: _message("old%d" % i, "zanzibarold%d" % i) for i in range(3)}
NEW = {"new%d" % i: _message("new%d" % i, "zanzibarnew%d" % i) for i in range(2)}


def _files_holding(root, needle):
    """Files under root whose bytes contain needle (mdbox keeps messages as they are).
    Not the full-text index (search.fts): it holds the words, not the messages,
    and stays on the primary storage by design."""
    found = []
    for folder, dirs, names in os.walk(root):     # not into Dovecot's dbox-alt-root symlink
        if "xapian-indexes" in dirs:
            dirs.remove("xapian-indexes")
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
    return found


def _body(site, tag):
    """sha256 of BODY.PEEK[] of alice's INBOX message tag; None if the server
    cannot read it (NO, or BYE: Dovecot ends the session on an internal
    error), absent if there is no such message."""
    m = imap_connect(site, ALICE, site.passwords[ALICE])
    try:
        typ, _ = m.select("INBOX", readonly=True)
        assert typ == "OK"
        typ, data = m.uid("SEARCH", "HEADER", "Message-ID", "<%s@alt.test>" % tag)
        assert typ == "OK", data
        uids = data[0].split()
        if not uids:
            return "absent"
        try:
            typ, data = m.uid("FETCH", uids[0], "(BODY.PEEK[])")
        except imaplib.IMAP4.abort:
            return None
        body = [p[1] for p in data if isinstance(p, tuple)]
        return hashlib.sha256(body[0]).hexdigest() if typ == "OK" and body else None
    finally:
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def _bodies(site):
    """{tag: _body(tag)} of every message of this module."""
    return {tag: _body(site, tag) for tag in list(OLD) + list(NEW)}


def _storage_kib(site):
    m = imap_connect(site, ALICE, site.passwords[ALICE])
    try:
        typ, data = m.getquotaroot("INBOX")
        assert typ == "OK", data
        text = b" ".join(x for part in data for x in (part if isinstance(part, list) else [part])
                         if isinstance(x, bytes)).decode()
        return int(text.split("STORAGE", 1)[1].split()[0])
    finally:
        m.logout()


def test_alt_folder_prepared_and_marked(asite):
    """`up` made this store's ALT folder for the mail uid, marked it, and
    installed the daily altmove in cron; status has no ALT warning."""
    d = _alt_dir(asite)
    st = os.stat(d)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == pwd.getpwnam("vmail").pw_uid
    assert os.path.isfile(os.path.join(d, ".emailng-alt"))
    cron = [p for p in glob.glob("/etc/cron.d/emailng-*") if asite.state in open(p).read()]
    assert len(cron) == 1, cron
    line = [l for l in open(cron[0]) if not l.startswith("#") and "storage altmove" in l]
    assert len(line) == 1 and "--state %s storage altmove " % asite.state in line[0], line
    assert line[0].split()[:6] == ["17", "3", "*", "*", "*", "root"], line
    r = asite.run("status", "--json")
    warnings = json.loads(r.out)["warnings"]
    assert not [w for w in warnings if "ALT" in w], warnings


def test_altmove_moves_only_old_mail_and_everything_stays_readable(asite):
    m = imap_connect(asite, ALICE, asite.passwords[ALICE])
    try:
        for tag, raw in OLD.items():
            typ, data = m.append("INBOX", None, imaplib.Time2Internaldate(time.mktime((2020, 3, 1, 10, 0, 0, 0, 0, -1))),
                                 raw)
            assert typ == "OK", data
        for tag, raw in NEW.items():
            typ, data = m.append("INBOX", None, imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
    finally:
        m.logout()
    before = _bodies(asite)
    assert before == {tag: hashlib.sha256(raw).hexdigest() for tag, raw in {**OLD, **NEW}.items()}
    quota_before = _storage_kib(asite)
    mail_root = os.path.join(asite.state, "data", "mail", "mail", "example.test", "alice")
    assert _files_holding(mail_root, b"zanzibarold0"), "the old mail should be in the primary storage first"

    r = asite.run("storage", "altmove", timeout=300)
    assert r.rc == 0, repr(r)
    assert "moved to %s" % _alt_dir(asite) in r.out, r.out

    alt_user = os.path.join(_alt_dir(asite), "example.test", "alice")
    for tag in OLD:
        word = ("zanzibar" + tag).encode()
        assert _files_holding(alt_user, word), "%s not in ALT storage" % tag
        assert not _files_holding(mail_root, word), "%s still in the primary storage after altmove" % tag
    for tag in NEW:
        word = ("zanzibar" + tag).encode()
        assert not _files_holding(alt_user, word), "%s (recent) moved to ALT" % tag
        assert _files_holding(mail_root, word), tag
    # Byte for byte the same, the quota counts both storages alike.
    assert _bodies(asite) == before
    assert _storage_kib(asite) == quota_before
    # Searchable in the body, old and new alike.
    m = imap_connect(asite, ALICE, asite.passwords[ALICE])
    try:
        m.select("INBOX", readonly=True)
        for tag in list(OLD) + list(NEW):
            typ, data = m.search(None, "BODY", "zanzibar" + tag)
            assert typ == "OK" and len(data[0].split()) == 1, (tag, data)
    finally:
        m.logout()


def test_missing_alt_file_system_is_reported_and_not_used(asite):
    """The ALT file system's mount point empty (a file system that is not
    mounted): status warns, altmove refuses, old mail cannot be read; back
    in place, everything reads again."""
    d = _alt_root(asite.state)       # the mount point: empty while unmounted
    away = d + ".away"
    os.rename(d, away)
    os.mkdir(d, 0o755)
    try:
        r = asite.run("status", "--json")
        warnings = json.loads(r.out)["warnings"]
        missing = [w for w in warnings if "ALT storage" in w and "missing" in w]
        assert len(missing) == 1 and "mail:" in missing[0], warnings
        r = asite.run("status")
        assert "is the file system at %s mounted?" % _alt_root(asite.state) in r.out, r.out
        r = asite.run("storage", "altmove")
        assert r.rc == 1 and "missing" in r.err, repr(r)
        bodies = _bodies(asite)
        for tag in OLD:
            assert bodies[tag] is None, "%s read although its ALT file system is gone" % tag
        for tag, raw in NEW.items():
            assert bodies[tag] == hashlib.sha256(raw).hexdigest()
    finally:
        os.rmdir(d)
        os.rename(away, d)
    r = asite.run("status", "--json")
    assert not [w for w in json.loads(r.out)["warnings"] if "ALT" in w]
    assert _bodies(asite) == {tag: hashlib.sha256(raw).hexdigest() for tag, raw in {**OLD, **NEW}.items()}
