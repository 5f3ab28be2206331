"""What happens to a user's mail and aliases when the user goes or comes (U3, U6, S3, X4).

`user del` archives the mailbox outside every login path (or removes it with --purge) and
takes the user out of every alias; `user add` of an address that had a mailbox starts empty;
sizes, domains, alias members and loops are checked before anything is written."""

import glob
import os
import shutil
import threading

from conftest import (DOMAIN, SMTP, imap_connect, imap_find, imap_storage, make_message, msgid, smtp_send,
                      wait_for_message)


def _mailbox(site, address):
    local, domain = address.split("@")
    return os.path.join(site.state, "data", "mail", "mail", domain, local)


def _archives(site, address):
    local, domain = address.split("@")
    return sorted(glob.glob(os.path.join(site.state, "data", "mail", "archive", domain, local + ".*")))


def _deliver(site, user, password, subject="lifecycle"):
    mid = msgid()
    message, _ = make_message("someone@example.test", user, mid, subject=subject)
    smtp_send("someone@example.test", [user], message)
    wait_for_message(site, user, mid, password=password)
    return mid


def _readd(site, user):
    password = "Again-" + site.unique("pw")
    r = site.run("user", "add", user, "--password-stdin", stdin=password + "\n")
    assert r.rc == 0, r
    site.passwords[user] = password
    return r, password


def _inbox_count(site, user, password):
    m = imap_connect(site, user, password)
    try:
        typ, data = m.select("INBOX")
        assert typ == "OK", data
        return int(data[0])
    finally:
        m.logout()


def _rcpt(address):
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        s.mail("someone@example.org")
        code, msg = s.rcpt(address)
        s.rset()
        return code, msg


def test_del_archives_mailbox_and_readded_address_starts_empty(site):
    """U6: `user del` moves the mailbox to a dated archive no login reaches (and says where);
    the same address added again gets an empty mailbox, not the old person's mail."""
    user, pw = site.new_user(prefix="leaver")
    mid = _deliver(site, user, pw)
    assert os.path.isdir(_mailbox(site, user))

    r = site.run("user", "del", user)
    assert r.rc == 0, r
    archives = _archives(site, user)
    assert len(archives) == 1, (archives, r)
    assert "mailbox archived in %s" % archives[0] in r.out, r
    assert not os.path.exists(_mailbox(site, user))
    # The archive is root's alone and holds the old mail.
    st = os.stat(os.path.dirname(os.path.dirname(archives[0])))
    assert st.st_uid == 0 and st.st_mode & 0o077 == 0, oct(st.st_mode)
    assert any(mid.strip("<>").encode() in open(os.path.join(d, f), "rb").read()
               for d, _, files in os.walk(archives[0]) for f in files if f.startswith("m."))

    r, pw2 = _readd(site, user)
    assert "old mailbox" not in r.out, r
    assert _inbox_count(site, user, pw2) == 0
    m = imap_connect(site, user, pw2)
    try:
        assert imap_find(m, mid) == []
    finally:
        m.logout()


def test_del_purge_removes_mailbox(site):
    """U6: `user del --purge` removes the mailbox on the store and archives nothing."""
    user, pw = site.new_user(prefix="purged")
    _deliver(site, user, pw)
    r = site.run("user", "del", "--purge", user)
    assert r.rc == 0, r
    assert "mailbox removed" in r.out, r
    assert not os.path.exists(_mailbox(site, user))
    assert _archives(site, user) == []


def test_add_puts_away_a_leftover_mailbox(site):
    """U6: a mailbox already at the address's path (left by hand, a restore, an older emailng)
    is archived by `user add`, which says so; the new user starts empty."""
    user, pw = site.new_user(prefix="leftover")
    mid = _deliver(site, user, pw)
    site.run("user", "del", user, check=True)
    (archive,) = _archives(site, user)
    shutil.move(archive, _mailbox(site, user))      # as if it had never been archived

    r, pw2 = _readd(site, user)
    assert "an old mailbox of %s was found and put away" % user in r.out, r
    assert len(_archives(site, user)) == 1
    assert _inbox_count(site, user, pw2) == 0
    m = imap_connect(site, user, pw2)
    try:
        assert imap_find(m, mid) == []
    finally:
        m.logout()


def test_add_creates_the_folders_so_first_deliveries_do_not_race(site):
    """U6, A1: `user add` creates INBOX and the special-use folders at once. Otherwise the
    first deliveries create them, and two LMTP processes creating folders of one new user
    at the same moment can make Dovecot 2.3 panic ("Resource deadlock avoided"); the
    message then waits for Postfix's next queue run. Messages sent in parallel to a new
    user all arrive within the usual delivery time."""
    user, pw = site.new_user(prefix="fresh")
    boxes = os.path.join(_mailbox(site, user), "mailboxes")
    assert {"Drafts", "INBOX", "Junk", "Sent", "Trash"} <= set(os.listdir(boxes)), os.listdir(boxes)
    mids = [msgid() for _ in range(6)]
    senders = []
    for mid in mids:
        message, _ = make_message("someone@example.test", user, mid)
        senders.append(threading.Thread(target=smtp_send, args=("someone@example.test", [user], message)))
    for t in senders:
        t.start()
    for t in senders:
        t.join(60)
    for mid in mids:
        wait_for_message(site, user, mid, password=pw)


def test_quota_bounds(site):
    """X4, U2: sizes past what Dovecot accepts are refused with the range, and the mailbox keeps working."""
    user, pw = site.new_user(quota="2M", prefix="bounds")
    for size in ("8388608T", "1025T", "512K"):
        r = site.run("user", "quota", user, size)
        assert r.rc == 1, r
        assert "expected from 1M to 1024T" in r.err and r.err.count("\n") == 1, r
    r = site.run("user", "add", "x" + user, "--quota", "8388608T", "--password-stdin", stdin="Pw-x-1234567\n")
    assert r.rc == 1 and "expected from 1M to 1024T" in r.err, r
    assert "x" + user not in site.run("user", "list", check=True).out
    assert imap_storage(site, user, pw)[1] == 2048
    site.run("user", "quota", user, "1024T", check=True)
    assert imap_storage(site, user, pw)[1] == 1024 ** 3 * 1024


def test_foreign_domains_refused(site, alice):
    """U6, S3: users and aliases in domains the site does not serve are refused (they could log in,
    never receive); an alias may still forward to an outside address."""
    r = site.run("user", "add", "mallory@elsewhere.test", "--password-stdin", stdin="Pw-m-1234567\n")
    assert r.rc == 1 and "is not in a domain this site serves (example.test" in r.err, r
    assert "mallory@elsewhere.test" not in site.run("user", "list", check=True).out
    r = site.run("alias", "add", "team@elsewhere.test", alice[0])
    assert r.rc == 1 and "not in a domain this site serves" in r.err, r
    alias = "%s@%s" % (site.unique("fwd"), DOMAIN)
    r = site.run("alias", "add", alias, "friend@elsewhere.test")
    assert r.rc == 0, r
    site.run("alias", "del", alias, check=True)


def test_alias_members_must_exist_and_make_no_loop(site, alice, bob):
    """U3, S3: a member of a served domain that does not exist is refused (no backscatter later);
    so is a loop between aliases; nothing is written in either case."""
    a = "%s@%s" % (site.unique("la"), DOMAIN)
    b = "%s@%s" % (site.unique("lb"), DOMAIN)
    r = site.run("alias", "add", a, alice[0], "ghost-%s@%s" % (site.unique(), DOMAIN))
    assert r.rc == 1 and "is not a user, user address or alias of this site" in r.err, r
    assert a not in site.run("alias", "list", check=True).out

    site.run("alias", "add", a, alice[0], check=True)
    site.run("alias", "add", b, a, check=True)
    r = site.run("alias", "add", a, b)
    assert r.rc == 1 and "would make a loop: %s -> %s -> %s" % (a, b, a) in r.err, r
    listing = [line for line in site.run("alias", "list", check=True).out.splitlines() if line.startswith(a + " ")]
    assert listing == ["%s -> %s" % (a, alice[0])], listing

    # Mail to either still arrives once at alice: no 451 4.6.0 loop.
    mid = msgid()
    message, _ = make_message("someone@example.org", b, mid, subject="no loop")
    smtp_send("someone@example.org", [b], message)
    wait_for_message(site, alice[0], mid)
    site.run("alias", "del", b, check=True)
    site.run("alias", "del", a, check=True)


def test_alias_member_add_again_and_remove_one(site, alice, bob):
    """U3, U6: adding a member twice says it is already one; `alias del ALIAS MEMBER` removes
    one member; removing the last one deletes the alias (and the relay refuses it)."""
    alias = "%s@%s" % (site.unique("grp"), DOMAIN)
    r = site.run("alias", "add", alias, alice[0], bob[0])
    assert r.rc == 0 and r.out == "alias %s: %s, %s added\n" % (alias, alice[0], bob[0]), r
    r = site.run("alias", "add", alias, bob[0])
    assert r.rc == 0 and r.out == "alias %s: %s is already a member\n" % (alias, bob[0]), r

    r = site.run("alias", "del", alias, "nobody@example.test")
    assert r.rc == 1 and "nobody@example.test is not a member of alias %s" % alias in r.err, r
    r = site.run("alias", "del", alias, bob[0])
    assert r.rc == 0 and r.out == "alias %s: %s removed\n" % (alias, bob[0]), r
    line = [x for x in site.run("alias", "list", check=True).out.splitlines() if x.startswith(alias + " ")]
    assert line == ["%s -> %s" % (alias, alice[0])], line
    assert _rcpt(alias)[0] == 250

    r = site.run("alias", "del", alias, alice[0])
    assert r.rc == 0 and "alias %s deleted (it has no member left)" % alias in r.out, r
    code, msg = _rcpt(alias)
    assert code == 550 and msg.startswith(b"5.1.1"), (code, msg)


def test_del_user_leaves_no_alias_member_behind(site, alice):
    """U3, U6, S3: deleting a user takes it out of every alias and says so; an alias whose only
    member it was is deleted (the relay then refuses it at RCPT)."""
    user, _ = site.new_user(prefix="member")
    shared = "%s@%s" % (site.unique("shared"), DOMAIN)
    solo = "%s@%s" % (site.unique("solo"), DOMAIN)
    site.run("alias", "add", shared, alice[0], user, check=True)
    site.run("alias", "add", solo, user, check=True)

    r = site.run("user", "del", user)
    assert r.rc == 0, r
    assert "removed from alias %s" % shared in r.out, r
    assert "alias %s deleted (%s was its only member)" % (solo, user) in r.out, r
    listing = site.run("alias", "list", check=True).out
    assert user not in listing and solo not in listing, listing
    assert "%s -> %s" % (shared, alice[0]) in listing, listing
    assert _rcpt(shared)[0] == 250
    code, msg = _rcpt(solo)
    assert code == 550 and msg.startswith(b"5.1.1"), (code, msg)
    site.run("alias", "del", shared, check=True)
