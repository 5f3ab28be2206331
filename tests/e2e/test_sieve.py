"""Sieve: users' own filters through ManageSieve (4190, STARTTLS), and the
global server-side script that runs before them (F3; duplicates, A3)."""

import os
import time

from conftest import (DELIVERY_TIMEOUT, TLS_NAME, imap_connect, imap_find, make_message, msgid,
                      smtp_send, tls_context, wait_for_message)
from managesieve import ManageSieve

PROJECT_SCRIPT = """\
require ["fileinto", "mailbox"];
if header :contains "subject" "[project]" {
    fileinto :create "Project";
}
"""


def _session(site, user, password):
    ms = ManageSieve(4190)
    assert ms.greeting.status == "OK", ms.greeting
    assert "STARTTLS" in ms.capabilities, ms.capabilities
    r = ms.starttls(tls_context(site), TLS_NAME)
    assert r.status == "OK", r
    assert "PLAIN" in ms.capabilities.get("SASL", "").upper().split(), ms.capabilities
    r = ms.authenticate_plain(user, password)
    assert r.status == "OK", r
    return ms


def test_managesieve_no_auth_before_starttls(site, alice):
    """F3, X3: ManageSieve offers STARTTLS and refuses AUTHENTICATE PLAIN before it."""
    ms = ManageSieve(4190)
    try:
        assert ms.greeting.status == "OK", ms.greeting
        assert "STARTTLS" in ms.capabilities, ms.capabilities
        assert "PLAIN" not in ms.capabilities.get("SASL", "").upper().split(), ms.capabilities
        r = ms.authenticate_plain(*alice)
        assert r.status == "NO", r
    finally:
        ms.logout()


def test_user_script_files_into_project(site):
    """F3: a script uploaded with PUTSCRIPT and SETACTIVE files "[project]" mail into Project (fileinto :create)."""
    user, pw = site.new_user(prefix="sieve")
    ms = _session(site, user, pw)
    try:
        assert "FILEINTO" in ms.capabilities.get("SIEVE", "").upper().split(), ms.capabilities
        r = ms.putscript("project", PROJECT_SCRIPT)
        assert r.status == "OK", r
        r = ms.setactive("project")
        assert r.status == "OK", r
        r, names = ms.listscripts()
        assert r.status == "OK" and ("project", True) in names, (r, names)
    finally:
        ms.logout()

    tagged, plain = msgid(), msgid()
    m1, _ = make_message("bob@example.test", user, tagged, subject="[project] kickoff")
    m2, _ = make_message("bob@example.test", user, plain, subject="lunch")
    smtp_send("bob@example.test", [user], m1)
    smtp_send("bob@example.test", [user], m2)
    wait_for_message(site, user, tagged, mailbox="Project", password=pw)
    wait_for_message(site, user, plain, mailbox="INBOX", password=pw)
    m = imap_connect(site, user, pw)
    try:
        assert imap_find(m, tagged, "INBOX") == [], "filed message also in INBOX"
        assert imap_find(m, plain, "Project") == [], "untagged message filed into Project"
    finally:
        m.logout()


def test_invalid_script_refused(site):
    """F3, X4: PUTSCRIPT of an invalid script answers NO with an error text, and the script is not stored."""
    user, pw = site.new_user(prefix="sieve")
    ms = _session(site, user, pw)
    try:
        r = ms.putscript("broken", 'require ["fileinto"];\nif header :contains "subject" {\n  fileinto "X"\n')
        assert r.status == "NO", r
        assert r.text.strip(), r
        assert "error" in r.text.lower() or "line" in r.text.lower(), r
        r, names = ms.listscripts()
        assert r.status == "OK" and "broken" not in [n for n, _ in names], names
        r = ms.putscript("unknown-ext", 'require ["no-such-extension"];\nkeep;\n')
        assert r.status == "NO" and r.text.strip(), r
    finally:
        ms.logout()


# --- the global script ---------------------------------------------------------
# templates/dovecot/sieve/before.sieve (dovecot.conf: sieve_before) files mail
# whose amavisd score (X-Spam-Score, added on the relay) reaches the user's
# threshold into Junk. Spam headers from outside are stripped at the border, so
# the tests send SpamAssassin's GTUBE test string, which amavisd scores 999.
# Pigeonhole runs the next script of the sequence (the user's) only if the
# previous one kept the message, so spam filed into Junk never reaches the
# user's script.

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"

CATCH_ALL_STOP = """\
require ["fileinto", "mailbox"];
fileinto :create "Project";
stop;
"""


def test_global_sieve_runs_before_user_script(site):
    """F3: the global script runs before the user's. The user's script files everything into Project
    and stops; a GTUBE message (spam) still lands in Junk and only there (the global script
    ran first and filed it; had it run after, the user's `stop` would have kept it from running),
    while a clean message goes through the user's script into Project."""
    user, pw = site.new_user(prefix="sieve")
    ms = _session(site, user, pw)
    try:
        assert ms.putscript("all", CATCH_ALL_STOP).status == "OK"
        assert ms.setactive("all").status == "OK"
    finally:
        ms.logout()
    spam, ham = msgid(), msgid()
    m1, _ = make_message("bob@example.test", user, spam, subject="cheap pills", body=GTUBE)
    m2, _ = make_message("bob@example.test", user, ham, subject="real work")
    smtp_send("bob@example.test", [user], m1)
    smtp_send("bob@example.test", [user], m2)
    wait_for_message(site, user, spam, mailbox="Junk", password=pw)
    wait_for_message(site, user, ham, mailbox="Project", password=pw)
    m = imap_connect(site, user, pw)
    try:
        assert imap_find(m, spam, "Project") == [], "spam also reached the user's script"
        assert imap_find(m, spam, "INBOX") == []
        assert imap_find(m, ham, "Junk") == [], "clean message filed into Junk"
        assert imap_find(m, ham, "INBOX") == []
    finally:
        m.logout()


def test_global_sieve_spam_to_junk_without_user_script(site):
    """F3: for a user with no script of their own, spam (GTUBE) goes to Junk, other mail to INBOX,
    and a forged "X-Spam-Flag: YES" from outside decides nothing."""
    user, pw = site.new_user(prefix="sieve")
    spam, ham = msgid(), msgid()
    m1, _ = make_message("bob@example.test", user, spam, subject="spam", body=GTUBE)
    m2, _ = make_message("bob@example.test", user, ham, subject="ham",
                         extra_headers=["X-Spam-Flag: YES", "X-Spam-Score: 99"])
    smtp_send("bob@example.test", [user], m1)
    smtp_send("bob@example.test", [user], m2)
    wait_for_message(site, user, spam, mailbox="Junk", password=pw)
    wait_for_message(site, user, ham, mailbox="INBOX", password=pw)
    m = imap_connect(site, user, pw)
    try:
        assert imap_find(m, spam, "INBOX") == []
        assert imap_find(m, ham, "Junk") == []
    finally:
        m.logout()


def test_a_message_delivered_again_is_discarded_by_message_id(site):
    """A3: the same message arriving twice (a sender retrying after a host died between storing it and
    answering 250) is kept once; another message, and messages without a Message-ID, are all kept."""
    user, pw = site.new_user(prefix="dupe")
    same, other = msgid(), msgid()
    m1, _ = make_message("bob@example.test", user, same, subject="first copy")
    m2, _ = make_message("bob@example.test", user, same, subject="second copy")
    m3, _ = make_message("bob@example.test", user, other, subject="another message")
    for m in (m1, m2, m3):
        smtp_send("bob@example.test", [user], m)
    without = "no-message-id-%s" % msgid()[1:9]
    for i in range(2):
        smtp_send("bob@example.test", [user], ("From: bob@example.test\r\nTo: %s\r\nSubject: %s\r\n\r\nbody %d\r\n"
                                               % (user, without, i)).encode())
    wait_for_message(site, user, other, password=pw)
    # Postfix may deliver the three in any order (parallel LMTP sessions):
    # wait for the second copy's decision, not just for the third message.
    # One line per decision: "lmtp(USER)...: sieve: msgid=ID: discard action: ..."
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        with open(os.path.join(site.state, "log", "mail", "dovecot.log")) as f:
            discards = sum(1 for line in f if "lmtp(%s)" % user in line and "msgid=%s: discard action" % same in line)
        if discards or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert discards == 1, discards
    m = imap_connect(site, user, pw)
    try:
        deadline = time.monotonic() + 30
        while True:
            m.select("INBOX")
            typ, data = m.uid("SEARCH", "SUBJECT", '"%s"' % without)
            if len(data[0].split()) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(data[0].split()) == 2, data
        assert len(imap_find(m, same)) == 1
        assert len(imap_find(m, other)) == 1
        # Either copy may be the one kept: the content filter's processes
        # work in parallel, so the second copy can reach the mailbox first.
        kept = [len(m.uid("SEARCH", "SUBJECT", '"%s"' % s)[1][0].split()) for s in ("first copy", "second copy")]
        assert sorted(kept) == [0, 1], "copies kept (first, second): %r" % kept
    finally:
        m.logout()
