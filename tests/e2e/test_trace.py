"""`emailng trace QUERY` against the real daemons of the small site (issue 14, O2).

Its OWN instance (own network namespace, own state directory) with the
filter on before the queue (clamav-milter at DATA, amavisd after it) and
a signature database built with sigtool (EICAR), as in
test_filter_pipeline.py. Each test sends real mail, waits until it is
delivered or refused, and then reads the trace that the daemons' logs give:
the MX's acceptance, policyd's decisions, amavisd's scan with its score,
the reinjection, the LMTP delivery and Dovecot's folder (INBOX, or Junk by
the global Sieve script), a virus refused at DATA, an unknown Message-ID
(exit 1) and hostile queries (exit 2, nothing echoed raw).
"""

import json
import os
import shutil
import tempfile
import time

import pytest

from conftest import own_site, make_message, msgid, smtp_send, wait_for_message
from test_filter_pipeline import EICAR, GTUBE, build_signatures, filter_log_tail, refused_at_data

SITE = """\
site: {name: trace-e2e}
domains: [example.test]
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
demo_users: true
filter:
  enabled: true
  before_queue: true
  virus_action: quarantine
  spam_junk_level: 5.0
  signatures: %s
"""


@pytest.fixture(scope="module")
def tsite():
    def text(state):
        sigs = os.path.join(state, "signatures")
        os.mkdir(sigs)
        build_signatures(sigs)
        return SITE % sigs
    with own_site("trace", text, tail=filter_log_tail) as s:
        yield s


def trace_json(site, *args):
    r = site.run("trace", *args, "--json")
    assert r.rc == 0, repr(r)
    return json.loads(r.out)


def wait_trace(site, query, predicate, timeout=20):
    """The JSON trace once predicate(events) holds: the last daemon writes its line a moment
    after the client saw the message."""
    deadline = time.monotonic() + timeout
    while True:
        r = site.run("trace", query, "--json")
        doc = json.loads(r.out) if r.rc == 0 else {"messages": []}
        events = [e for m in doc["messages"] for e in m["events"]]
        if predicate(events) or time.monotonic() > deadline:
            assert r.rc == 0, repr(r)
            return doc
        time.sleep(0.5)


def kinds(events):
    return [(e["daemon"], e["event"]) for e in events]


def folder_of(events):
    return [e.get("folder") for e in events if e["event"] == "delivered" and e["daemon"].startswith("dovecot")]


def test_clean_message_full_timeline(tsite):
    mid = msgid()
    msg, _ = make_message("outside@sender.test", "alice@example.test", mid)
    smtp_send("outside@sender.test", ["alice@example.test"], msg)
    wait_for_message(tsite, "alice@example.test", mid)
    doc = wait_trace(tsite, mid, lambda ev: folder_of(ev))
    assert len(doc["messages"]) == 1, doc
    m = doc["messages"][0]
    assert m["message_id"] == mid and m["sender"] == "outside@sender.test"
    assert "alice@example.test" in m["recipients"]
    ev = m["events"]
    k = kinds(ev)
    # MX acceptance, policy, scan, back from the filter, LMTP, Dovecot's folder
    assert ("postfix/smtpd", "accepted") in k, k
    assert ("emailng-policyd", "policy") in k, k
    assert ("amavisd", "scanned") in k, k
    assert ("postfix/reinject/smtpd", "accepted") in k, k
    assert ("postfix/amavis/lmtp", "handed") in k, k          # to amavisd over its LMTP socket
    assert ("postfix/lmtp", "delivered") in k, k
    assert folder_of(ev) == ["INBOX"], ev
    first = [e for e in ev if e["event"] == "accepted"][0]
    assert first["host"] == "mail" and first["daemon"] == "postfix/smtpd" and first["queue_id"]
    assert ev.index(first) < ev.index([e for e in ev if e["event"] == "scanned"][0])
    scanned = [e for e in ev if e["event"] == "scanned"][0]
    assert scanned["verdict"] == "CLEAN" and float(scanned["score"]) < 5.0, scanned
    handed = [e for e in ev if e["event"] == "handed"][0]
    assert handed["next_queue_id"] and any(
        e["event"] == "accepted" and e["queue_id"] == handed["next_queue_id"] for e in ev), ev
    times = [e["time"] for e in ev]
    assert times == sorted(times), times

    # the same message by its first queue id, by sender, by recipient; text and JSON agree
    by_qid = trace_json(tsite, first["queue_id"])
    assert [x["message_id"] for x in by_qid["messages"]] == [mid]
    by_sender = trace_json(tsite, "outside@sender.test")
    assert mid in [x["message_id"] for x in by_sender["messages"]]
    by_rcpt = trace_json(tsite, "ALICE@example.test")
    assert mid in [x["message_id"] for x in by_rcpt["messages"]]
    text = tsite.run("trace", mid)
    assert text.rc == 0, repr(text)
    assert mid in text.out and first["queue_id"] in text.out and "INBOX" in text.out, text.out
    assert "scanned" in text.out and "CLEAN" in text.out, text.out

    # the time window: within the last hour yes, in the year 2000 no
    assert trace_json(tsite, mid, "--since", "1h")["messages"]
    old = tsite.run("trace", mid, "--until", "2000-01-01 00:00")
    assert old.rc == 1 and "no trace of" in old.err, repr(old)


def test_spam_filed_to_junk_by_sieve(tsite):
    mid = msgid()
    spam, _ = make_message("spammer@sender.test", "bob@example.test", mid, body=GTUBE + b"\r\n")
    smtp_send("spammer@sender.test", ["bob@example.test"], spam)
    wait_for_message(tsite, "bob@example.test", mid, mailbox="Junk")
    doc = wait_trace(tsite, mid, lambda ev: folder_of(ev))
    ev = doc["messages"][0]["events"]
    scanned = [e for e in ev if e["event"] == "scanned"]
    assert scanned and scanned[0]["verdict"].startswith("SPAM") and float(scanned[0]["score"]) >= 100, ev
    assert folder_of(ev) == ["Junk"], ev
    sieve = [e for e in ev if e["event"] == "delivered" and e["daemon"].startswith("dovecot")][0]
    assert sieve["recipient"] == "bob@example.test" and "sieve" in sieve["detail"], sieve


def test_virus_refused_at_data(tsite):
    mid = msgid()
    msg, _ = make_message("outside@sender.test", "alice@example.test", mid, body=EICAR + b"\r\n")
    code, text = refused_at_data(msg)
    assert code == 550, (code, text)
    doc = wait_trace(tsite, mid, lambda ev: any(e["event"] == "refused" for e in ev))
    assert len(doc["messages"]) == 1, doc
    ev = doc["messages"][0]["events"]
    refused = [e for e in ev if e["event"] == "refused"]
    assert refused and refused[0]["stage"] == "END-OF-MESSAGE", ev
    assert "EICAR" in refused[0]["reply"] and refused[0]["reply"].startswith("5"), refused
    assert not any(e["event"] in ("delivered", "scanned") for e in ev), ev
    text = tsite.run("trace", mid)
    assert text.rc == 0 and "refused" in text.out and "EICAR" in text.out, text.out


def test_unknown_message_id_no_trace(tsite):
    mid = msgid()
    r = tsite.run("trace", mid)
    assert r.rc == 1 and r.out == "" and "no trace of \"%s\"" % mid in r.err, repr(r)
    r = tsite.run("trace", mid, "--json")
    assert r.rc == 1, repr(r)


def test_hostile_and_bad_queries(tsite):
    r = tsite.run("trace", "alice\x1b[31m@example.test\r\nforged: line")
    assert r.rc == 2 and "\x1b" not in r.err and "\r" not in r.err, repr(r)
    assert "control character" in r.err, repr(r)
    r = tsite.run("trace", "<" + "a" * 10240 + "@x>")
    assert r.rc == 2 and len(r.err) < 400 and "too long" in r.err, repr(r)
    for args in ((), ("a", "b"), ("x", "--since"), ("x", "--since", "yesterday-ish"),
                 ("x", "--since", "2030-01-01", "--until", "2020-01-01"), ("x", "--bogus")):
        r = tsite.run("trace", *args)
        assert r.rc == 2 and r.err.startswith("emailng: trace") or r.err.startswith("emailng:"), repr(r)
        assert r.rc == 2, repr(r)
    r = tsite.run("trace", "x@y", "--logs", "/nonexistent/logs")
    assert r.rc == 1 and "/nonexistent/logs" in r.err, repr(r)


def test_logs_dir_of_copied_logs(tsite):
    """--logs DIR reads logs copied from the hosts (DIR/HOST/*.log), as on real hosts."""
    mid = msgid()
    msg, _ = make_message("copy@sender.test", "alice@example.test", mid)
    smtp_send("copy@sender.test", ["alice@example.test"], msg)
    wait_for_message(tsite, "alice@example.test", mid)
    wait_trace(tsite, mid, lambda ev: folder_of(ev))
    copy = tempfile.mkdtemp(prefix="emailng-trace-logs-")
    try:
        shutil.copytree(os.path.join(tsite.state, "log", "mail"), os.path.join(copy, "mx1"))
        r = tsite.run("trace", mid, "--json", "--logs", copy, state=False)
        assert r.rc == 0, repr(r)
        ev = json.loads(r.out)["messages"][0]["events"]
        assert {e["host"] for e in ev} == {"mx1"} and folder_of(ev) == ["INBOX"], ev
    finally:
        shutil.rmtree(copy, ignore_errors=True)
