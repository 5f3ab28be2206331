"""Full-text search (M5) on the small site: Dovecot's FTS with the Xapian
backend (templates/dovecot/fts.conf, docs/admin-manual.md "Search").
search.fts is opt-in, so the module runs a small site of its own with
`search: {fts: true}` (the fixture `site` below replaces the session's).

Mail comes in by SMTP on port 25 (the whole way: Postfix, LMTP; this site
does no content filtering), each message carrying a word of its own that
occurs nowhere else.
The module's user is new, so "exactly these messages" is checkable.

What proves that the index answers: `doveadm fts lookup` reads the Xapian
index alone (no message is opened), and it finds the words right after
delivery, before any search ran (built at delivery). IMAP SEARCH then
behaves as the index does and not as a scan of the messages: an HTML part
is indexed as its text, so its markup ("html", "body") is not found by
IMAP SEARCH, while the same search with the FTS plugin switched off for one
doveadm run (a scan of the messages) finds it.
"""

import base64
import glob
import os
import random
import re
import stat
import subprocess
import time

import pytest

from conftest import DOMAIN, imap_connect, make_message, msgid, own_site, smtp_send

SENDER = "carol@partner.test"

SITE = """\
site: {name: fts-e2e}
domains: [example.test]
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
demo_users: true
filter: {enabled: false}
search: {fts: true}
"""


@pytest.fixture(scope="module")
def site():
    """This module's own small site, with full-text search on."""
    with own_site("fts", SITE) as s:
        yield s
INDEX_TIMEOUT = 40.0


def rare_word(prefix):
    """A word of letters only that occurs in no other message of the run."""
    rnd = random.Random()
    return prefix + "".join(rnd.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))


def dovecot_conf(site):
    return os.path.join(site.state, "etc", "mail", "dovecot", "dovecot.conf")


def doveadm(site, *args, check=True):
    cp = subprocess.run(["doveadm", "-c", dovecot_conf(site), *args], capture_output=True, text=True,
                        timeout=120)
    if check:
        assert cp.returncode == 0, "doveadm %s: %d %s %s" % (" ".join(args), cp.returncode, cp.stdout,
                                                            cp.stderr)
    return cp


def uid_set(text):
    """UIDs of an IMAP-style set "1,3:5" as a sorted list of ints."""
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = part.split(":")
            out += range(int(a), int(b) + 1)
        elif part:
            out.append(int(part))
    return sorted(out)


def index_lookup(site, user, word, mailbox="INBOX", field="body"):
    """The UIDs the Xapian index alone gives for word (doveadm fts lookup)."""
    cp = doveadm(site, "fts", "lookup", "-u", user, "mailbox", mailbox, field, word)
    m = re.search(r"^%s: (.*)$" % re.escape(mailbox), cp.stdout, re.M)
    assert m, "unexpected fts lookup output %r" % cp.stdout
    return [] if m.group(1).strip() == "no results" else uid_set(m.group(1).strip())


def scan_search(site, user, word, mailbox="INBOX"):
    """UIDs a search without FTS finds (every message read): the FTS plugin's
    backend setting is emptied for this one doveadm run."""
    cp = doveadm(site, "-o", "plugin/fts=", "search", "-u", user, "mailbox", mailbox, "body", word)
    return sorted(int(line.split()[1]) for line in cp.stdout.splitlines() if line.strip())


def imap_search(m, *criteria, literal=None):
    if literal is not None:
        m.literal = literal
    typ, data = m.uid("SEARCH", *criteria)
    assert typ == "OK", (criteria, data)
    return sorted(int(x) for x in data[0].split()) if data and data[0] else []


def wait_indexed(site, user, words, mailbox="INBOX", timeout=INDEX_TIMEOUT):
    """Waits until the index alone finds every word; returns {word: uids}."""
    deadline = time.monotonic() + timeout
    while True:
        found = {w: index_lookup(site, user, w, mailbox) for w in words}
        if all(found.values()):
            return found
        if time.monotonic() > deadline:
            raise AssertionError("not in the index of %s/%s after %.0fs: %r" % (
                user, mailbox, timeout, [w for w, v in found.items() if not v]))
        time.sleep(0.5)


def mime(sender, to, mid, subject, parts):
    """A multipart/mixed message; parts = [(content type, extra headers, body bytes)]."""
    boundary = "b-" + mid.strip("<>").split("@")[0]
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n"
            "Date: %s\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n" % (
                sender, to, subject, mid, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                boundary)).encode()
    body = b""
    for ctype, headers, data in parts:
        body += ("--%s\r\nContent-Type: %s\r\n" % (boundary, ctype)).encode()
        for h in headers:
            body += (h + "\r\n").encode()
        body += b"\r\n" + data + b"\r\n"
    return head + body + ("--%s--\r\n" % boundary).encode()


def b64_lines(data):
    enc = base64.b64encode(data)
    return b"\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


@pytest.fixture(scope="module")
def corpus(site):
    """A new user and six messages, each with a word of its own; the index
    is checked to have every word before any search runs."""
    user, password = site.new_user(prefix="fts")
    w = {k: rare_word(k[:2]) for k in ("body", "subject", "attach", "pdf", "html", "common")}
    w["utf8"] = "Ärger" + rare_word("ö")
    msgs = {}

    def send(key, message):
        smtp_send(SENDER, [user], message)
        msgs[key] = message

    common_line = "Regards, the %s team.\r\n" % w["common"]
    send("body", make_message(SENDER, user, msgid(), subject="Quarterly figures",
                              body=("The meeting moved; bring the %s report.\r\n" % w["body"]
                                    + common_line).encode())[0])
    send("subject", make_message(SENDER, user, msgid(), subject="About %s" % w["subject"],
                                 body=("Nothing special in the text.\r\n" + common_line).encode())[0])
    text_attachment = ("Minutes of the meeting\r\nAction item: order %s parts.\r\n" % w["attach"]).encode()
    # A PDF with the word in an uncompressed text object: readable bytes,
    # but no decoder is configured for PDF (fts.conf), so it is not indexed.
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n2 0 obj<</Length 44>>stream\n"
           b"BT /F1 12 Tf 72 712 Td (" + w["pdf"].encode() + b") Tj ET\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    send("attach", mime(SENDER, user, msgid(), "Minutes attached", [
        ("text/plain; charset=us-ascii", [], ("See the attachments.\r\n" + common_line).encode()),
        ("text/plain; charset=us-ascii; name=\"minutes.txt\"",
         ["Content-Disposition: attachment; filename=\"minutes.txt\"", "Content-Transfer-Encoding: base64"],
         b64_lines(text_attachment)),
        ("application/pdf; name=\"scan.pdf\"",
         ["Content-Disposition: attachment; filename=\"scan.pdf\"", "Content-Transfer-Encoding: base64"],
         b64_lines(pdf)),
    ]))
    html = ("<!DOCTYPE html><html><body><p>Tickets for the <b>%s</b> concert &amp; dinner.</p>"
            "<p>%s</p></body></html>" % (w["html"], common_line.strip())).encode()
    send("html", mime(SENDER, user, msgid(), "Invitation", [
        ("text/html; charset=utf-8", ["Content-Transfer-Encoding: 8bit"], html)]))
    utf8_body = ("Liebe Grüße aus Köln, Straße %s.\r\n" % w["utf8"]).encode() + common_line.encode()
    send("utf8", make_message(SENDER, user, msgid(), subject="Gruss",
                              body=utf8_body,
                              extra_headers=())[0].replace(b"charset=us-ascii", b"charset=utf-8"))
    words = [w["body"], w["subject"], w["attach"], w["html"], w["utf8"].lower()]
    # Before any IMAP or doveadm search (a search would index the folder
    # itself): the index alone must know every word, i.e. it was built at
    # delivery. Subject words are looked up in the subject field.
    deadline = time.monotonic() + INDEX_TIMEOUT
    while True:
        found = {k: index_lookup(site, user, w[k]) for k in ("body", "attach", "html")}
        found["subject"] = index_lookup(site, user, w["subject"], field="subject")
        found["utf8"] = index_lookup(site, user, w["utf8"])
        if all(found.values()):
            break
        assert time.monotonic() < deadline, "not indexed at delivery after %.0fs: %r (words %r)" % (
            INDEX_TIMEOUT, found, words)
        time.sleep(0.5)
    m = imap_connect(site, user, password)
    m.select("INBOX")
    uids = {}
    for key, message in msgs.items():
        mid = re.search(rb"Message-ID: (<[^>]+>)", message).group(1).decode()
        got = imap_search(m, "HEADER", "Message-ID", '"%s"' % mid)
        assert len(got) == 1, (key, got)
        uids[key] = got[0]
    m.logout()
    return dict(user=user, password=password, words=w, uids=uids, indexed=found)


@pytest.fixture
def imap(site, corpus):
    m = imap_connect(site, corpus["user"], corpus["password"])
    m.select("INBOX")
    yield m
    m.logout()


def test_index_built_at_delivery_holds_exactly_the_messages(corpus):
    u, idx = corpus["uids"], corpus["indexed"]
    assert idx["body"] == [u["body"]]
    assert idx["subject"] == [u["subject"]]
    assert idx["attach"] == [u["attach"]]
    assert idx["html"] == [u["html"]]
    assert idx["utf8"] == [u["utf8"]]


def test_search_body_finds_exactly_the_message(corpus, imap):
    w, u = corpus["words"], corpus["uids"]
    assert imap_search(imap, "BODY", w["body"]) == [u["body"]]
    # In the subject only: not a body match.
    assert imap_search(imap, "BODY", w["subject"]) == []
    # A word in every message: all of them.
    assert imap_search(imap, "BODY", w["common"]) == sorted(u.values())


def test_search_text_hits_headers_and_body(corpus, imap):
    w, u = corpus["words"], corpus["uids"]
    assert imap_search(imap, "TEXT", w["subject"]) == [u["subject"]]
    assert imap_search(imap, "TEXT", w["body"]) == [u["body"]]
    assert imap_search(imap, "TEXT", "carol") == sorted(u.values())     # the From: header
    assert imap_search(imap, "SUBJECT", w["subject"]) == [u["subject"]]


def test_imap_search_is_answered_by_the_index(site, corpus, imap):
    """The HTML message's markup: a scan of the messages finds "html" and
    "doctype" in its raw part, the index (which holds the part's text)
    does not, and IMAP SEARCH answers as the index does."""
    user, u = corpus["user"], corpus["uids"]
    for word in ("doctype", "html"):
        assert scan_search(site, user, word) == [u["html"]], word
        assert index_lookup(site, user, word) == [], word
        assert imap_search(imap, "BODY", word) == [], word
    # The part's text is found both ways.
    assert imap_search(imap, "BODY", corpus["words"]["html"]) == [u["html"]]
    assert scan_search(site, user, corpus["words"]["html"]) == [u["html"]]


def test_word_only_in_a_text_attachment(corpus, imap):
    w, u = corpus["words"], corpus["uids"]
    assert imap_search(imap, "BODY", w["attach"]) == [u["attach"]]
    assert imap_search(imap, "TEXT", w["attach"]) == [u["attach"]]


def test_pdf_attachment_is_not_indexed(corpus, imap):
    """No fts_decoder is configured (docs/admin-manual.md "Search"): text
    inside a PDF attachment is not found."""
    assert imap_search(imap, "BODY", corpus["words"]["pdf"]) == []


def test_non_ascii_word(corpus, imap):
    w, u = corpus["words"], corpus["uids"]
    assert imap_search(imap, "CHARSET", "UTF-8", "BODY", literal=w["utf8"].encode()) == [u["utf8"]]
    # Case-insensitive beyond ASCII, as IMAP's search is (no ß in the word:
    # its upper case is "SS", another string).
    assert imap_search(imap, "CHARSET", "UTF-8", "BODY", literal=w["utf8"].upper().encode()) == [u["utf8"]]
    assert imap_search(imap, "CHARSET", "UTF-8", "TEXT", literal="straße".encode()) == [u["utf8"]]


def test_junk_is_not_indexed_at_delivery_but_searchable(site, corpus):
    """fts_autoindex_exclude \\Junk: mail saved to Junk is not indexed when
    it arrives; a search there indexes the folder first and finds it."""
    user = corpus["user"]
    word = rare_word("jk")
    message, _ = make_message(SENDER, user, msgid(), subject="Cheap offer", body=("Buy %s now.\r\n" % word).encode())
    cp = subprocess.run(["doveadm", "-c", dovecot_conf(site), "save", "-u", user, "-m", "Junk"], input=message,
                        capture_output=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    # An INBOX delivery after it, indexed at delivery, shows the indexer ran meanwhile.
    inbox_word = rare_word("ib")
    smtp_send(SENDER, [user], make_message(SENDER, user, msgid(), subject="Later",
                                           body=("After the junk: %s.\r\n" % inbox_word).encode())[0])
    wait_indexed(site, user, [inbox_word])
    assert index_lookup(site, user, word, mailbox="Junk") == []
    m = imap_connect(site, user, corpus["password"])
    try:
        m.select("Junk")
        assert len(imap_search(m, "BODY", word)) == 1
    finally:
        m.logout()
    assert len(index_lookup(site, user, word, mailbox="Junk")) == 1


def test_rescan_and_reindex_commands(site, corpus):
    user, w, u = corpus["user"], corpus["words"], corpus["uids"]
    r = site.run("fts", "rescan", user)
    assert r.rc == 0, r
    assert "mail: %s: index marked for a rescan" % user in r.out
    # The Xapian backend drops the user's index on a rescan.
    assert index_lookup(site, user, w["body"]) == []
    r = site.run("fts", "reindex", user)
    assert r.rc == 0, r
    assert "mail: %s: every folder indexed" % user in r.out
    # Rebuilt by the command itself, before any search.
    assert index_lookup(site, user, w["body"]) == [u["body"]]
    assert index_lookup(site, user, w["attach"]) == [u["attach"]]
    m = imap_connect(site, user, corpus["password"])
    try:
        m.select("INBOX")
        assert imap_search(m, "BODY", w["body"]) == [u["body"]]
    finally:
        m.logout()
    r = site.run("fts", "reindex", "--all")
    assert r.rc == 0 and "mail: every user: every folder indexed" in r.out, r


def test_daily_optimize_in_cron(site):
    """`up` installed the daily `fts optimize --all` (the store runs here and
    search.fts is true)."""
    cron = [p for p in glob.glob("/etc/cron.d/emailng-*") if site.state in open(p).read()]
    assert len(cron) == 1, cron
    assert stat.S_IMODE(os.stat(cron[0]).st_mode) == 0o644
    # The session's site has no ALT storage: optimize is its only job.
    lines = [l for l in open(cron[0]) if not l.startswith("#") and l.strip()]
    assert len(lines) == 1, lines
    fields = lines[0].split()
    assert fields[:6] == ["43", "4", "*", "*", "*", "root"], fields
    assert "--state %s fts optimize --all " % site.state in lines[0], lines


def test_fts_command_errors(site):
    r = site.run("fts", "reindex", "nobody-%s@%s" % (rare_word("x"), DOMAIN))
    assert r.rc == 1 and "no store here holds a mailbox of this user" in r.err, r
    r = site.run("fts", "reindex")
    assert r.rc == 2 and "USER or --all expected" in r.err, r
    r = site.run("fts", "compact", "--all")
    assert r.rc == 2 and "unknown subcommand" in r.err, r


def test_expunged_message_is_no_longer_found(site, corpus):
    """Last: removes the body message."""
    user, w, u = corpus["user"], corpus["words"], corpus["uids"]
    m = imap_connect(site, user, corpus["password"])
    try:
        m.select("INBOX")
        assert imap_search(m, "BODY", w["body"]) == [u["body"]]
        typ, data = m.uid("STORE", str(u["body"]), "+FLAGS.SILENT", r"(\Deleted)")
        assert typ == "OK", data
        typ, data = m.expunge()
        assert typ == "OK", data
        assert imap_search(m, "BODY", w["body"]) == []
        assert imap_search(m, "TEXT", w["body"]) == []
    finally:
        m.logout()
    # The Xapian backend queues expunges; Dovecot leaves expunged UIDs out
    # of every answer meanwhile. `fts optimize` applies them: gone from the
    # index itself.
    assert index_lookup(site, user, w["body"]) == [u["body"]]
    r = site.run("fts", "optimize", user)
    assert r.rc == 0 and "mail: %s: expunged messages removed from the index" % user in r.out, r
    assert index_lookup(site, user, w["body"]) == []
    assert index_lookup(site, user, w["attach"]) == [u["attach"]]
