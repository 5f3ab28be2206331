"""Shared folders, shared mailboxes and announcement folders (U5): ACLs set by
`emailng share` / `emailng public` (doveadm acl), seen over IMAP through Dovecot's
shared (Shared/OWNER/...) and public (Public/...) namespaces."""

import imaplib
import re
import time

from conftest import (DOMAIN, imap_connect, imap_fetch, imap_find, make_message, msgid, smtp_send,
                      wait_for_message)


def q(name):
    return '"%s"' % name


def append(m, mailbox, mid, subject="shared folder test"):
    message, _ = make_message("carol@" + DOMAIN, "team@" + DOMAIN, mid, subject=subject)
    return m.append(q(mailbox), None, None, message)


def listed(m, pattern):
    typ, data = m.list('""', q(pattern))
    assert typ == "OK", data
    names = []
    for line in data:
        if line is None:
            continue
        text = line.decode() if isinstance(line, bytes) else line
        match = re.search(r'"/" "?(.*?)"?$', text)
        if match:
            names.append(match.group(1))
    return names


def flags_of(m, mailbox, mid):
    uids = imap_find(m, mid, mailbox)
    assert len(uids) == 1, (mailbox, mid, uids)
    typ, data = m.uid("FETCH", uids[0], "(FLAGS)")
    assert typ == "OK", data
    return data[0].decode()


def wait_until(check, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.5)


def test_grant_read_bob_sees_alice_folder_reads_but_cannot_delete(site, alice, bob):
    """U5: alice's folder shared with bob (read = lrs): bob lists and reads
    Shared/alice@.../FOLDER, MYRIGHTS is lrs, his \\Deleted+EXPUNGE and APPEND are
    refused and the message is still in alice's folder."""
    folder = site.unique("Reports")
    mid = msgid()
    a = imap_connect(site, *alice)
    assert a.create(q(folder))[0] == "OK"
    assert append(a, folder, mid)[0] == "OK"

    r = site.run("share", "grant", alice[0], folder, bob[0], check=True)
    assert "Shared/%s/%s" % (alice[0], folder) in r.out, r.out

    shared = "Shared/%s/%s" % (alice[0], folder)
    b = imap_connect(site, *bob)
    assert shared in listed(b, "Shared/*"), listed(b, "Shared/*")
    typ, data = b.myrights(q(shared))
    assert typ == "OK" and data[0].decode().endswith(" lrs"), data
    uids = imap_find(b, mid, shared)
    assert len(uids) == 1
    assert mid.encode() in imap_fetch(b, uids[0])

    # No t, no e: \Deleted is not stored and EXPUNGE is refused.
    b.uid("STORE", uids[0], "+FLAGS.SILENT", r"(\Deleted)")
    typ, data = b.expunge()
    assert typ == "NO" or b.uid("SEARCH", "DELETED")[1] == [b""], (typ, data)
    # No i: appending is refused.
    try:
        typ, data = append(b, shared, msgid())
    except imaplib.IMAP4.error as e:
        typ, data = "NO", [str(e).encode()]
    assert typ == "NO", data
    b.logout()

    assert len(imap_find(a, mid, folder)) == 1, "bob's delete reached alice's folder"
    a.logout()

    listing = site.run("share", "list", alice[0], folder, check=True).out
    assert "%s\tuser=%s\t" % (folder, bob[0]) in listing, listing


def test_shared_mailbox_office_delivery_private_seen_shared_expunge_and_revoke(site):
    """U5: office@ is a shared mailbox (`share mailbox`: no login of its own) whose INBOX
    two users may write: mail sent to office@ by SMTP is seen by both; \\Seen is private
    per user (INDEXPVT); one user's expunge is seen by the other; revoke removes access."""
    office, office_pw = site.new_user(prefix="office")
    u1, pw1 = site.new_user(prefix="clerk")
    u2, pw2 = site.new_user(prefix="clerk")
    r = site.run("share", "mailbox", office, check=True)
    assert "shared mailbox" in r.out, r.out
    try:
        imap_connect(site, office, office_pw).logout()
        raise AssertionError("the shared mailbox itself could log in")
    except imaplib.IMAP4.error:
        pass
    for user in (u1, u2):
        site.run("share", "grant", office, "INBOX", user, "--rights", "write", check=True)

    mid = msgid()
    message, _ = make_message("customer@example.org", office, mid, subject="office mail")
    smtp_send("customer@example.org", [office], message)
    box = "Shared/%s/INBOX" % office
    wait_for_message(site, u1, mid, mailbox=box, password=pw1)
    wait_for_message(site, u2, mid, mailbox=box, password=pw2)

    m1 = imap_connect(site, u1, pw1)
    m2 = imap_connect(site, u2, pw2)
    # Write rights: a member files a message into the shared mailbox too.
    filed = msgid()
    assert append(m1, box, filed)[0] == "OK"
    assert len(imap_find(m2, filed, box)) == 1
    assert len(imap_find(m1, filed, "INBOX")) == 0, "the filed message landed in the member's own INBOX"
    uids = imap_find(m1, mid, box)
    imap_fetch(m1, uids[0])                                   # PEEK: not yet seen
    m1.uid("STORE", uids[0], "+FLAGS", r"(\Seen)")
    assert r"\Seen" in flags_of(m1, box, mid)
    assert r"\Seen" not in flags_of(m2, box, mid), "\\Seen of one user reached the other"

    assert m1.uid("STORE", uids[0], "+FLAGS.SILENT", r"(\Deleted)")[0] == "OK"
    assert m1.expunge()[0] == "OK"
    wait_until(lambda: imap_find(m2, mid, box) == [], "the expunge to reach the other user")
    m1.logout()
    m2.logout()

    site.run("share", "revoke", office, "INBOX", u2, check=True)
    m2 = imap_connect(site, u2, pw2)
    assert box not in listed(m2, "Shared/*")
    assert m2.select(q(box))[0] == "NO"
    m2.logout()
    m1 = imap_connect(site, u1, pw1)
    assert m1.select(q(box))[0] == "OK", "revoking one user took the other's access"
    m1.logout()


def test_public_announcement_folder_read_by_all_written_by_named_writer(site):
    """U5: `public create FOLDER WRITER`: the writer appends to Public/FOLDER, any
    other user lists and reads it but is refused APPEND; `public revoke` refuses the
    writer too."""
    writer, wpw = site.new_user(prefix="writer")
    reader, rpw = site.new_user(prefix="reader")
    name = site.unique("News")
    box = "Public/" + name
    site.run("public", "create", name, writer, check=True)

    mid = msgid()
    w = imap_connect(site, writer, wpw)
    assert append(w, box, mid, subject="announcement")[0] == "OK"
    w.logout()

    r = imap_connect(site, reader, rpw)
    assert box in listed(r, "Public/*"), listed(r, "Public/*")
    uids = imap_find(r, mid, box)
    assert len(uids) == 1 and mid.encode() in imap_fetch(r, uids[0])
    try:
        typ, data = append(r, box, msgid())
    except imaplib.IMAP4.error as e:
        typ, data = "NO", [str(e).encode()]
    assert typ == "NO", data
    r.logout()

    listing = site.run("public", "list", check=True).out
    assert "%s\tanyone\t" % name in listing and "%s\tuser=%s\t" % (name, writer) in listing, listing

    site.run("public", "revoke", name, writer, check=True)
    w = imap_connect(site, writer, wpw)
    try:
        typ, data = append(w, box, msgid())
    except imaplib.IMAP4.error as e:
        typ, data = "NO", [str(e).encode()]
    assert typ == "NO", data
    w.logout()


def test_share_refuses_bad_input(site, alice, bob):
    """U5, X-input: unknown user → 1, unknown rights or a folder with '..' or a leading
    '-' → 2 (usage), sharing with oneself → 1; nothing is echoed unquoted."""
    r = site.run("share", "grant", alice[0], "INBOX", "nobody-%s@%s" % (site.unique(), DOMAIN))
    assert r.rc == 1, r
    r = site.run("share", "grant", alice[0], "INBOX", bob[0], "--rights", "lrz")
    assert r.rc == 2 and "rights" in r.err, r
    r = site.run("share", "grant", alice[0], "../x", bob[0])
    assert r.rc == 2 and "folder" in r.err, r
    r = site.run("share", "grant", alice[0], "--all", bob[0])
    assert r.rc == 2, r
    r = site.run("share", "grant", alice[0], "INBOX", alice[0])
    assert r.rc == 1 and "same" in r.err, r
    r = site.run("share", "frobnicate")
    assert r.rc == 2, r
