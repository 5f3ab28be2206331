"""The fault campaign (issue 4): mail flows without pause from the internet
(by MX) and from an authenticated user (submission at the relays) while
four faults follow one another: store1 killed, relay1 killed, proxy1
killed, the relays cut off from the inside for 60 s; each host is brought
back with `emailng up` before the next fault. Afterwards every message that
was accepted with 250 is in its recipient's INBOX exactly once (counted by
Message-ID) and nothing bounced. A message refused (no MX answered, or the
relay said 4xx) is the sender's to retry and is not counted.
"""

import smtplib
import ssl
import threading
import time

from clients import (HOSTS, INSIDE, LogMark, fabric, kill_host, message_ids, new_msgid, restart, send_by_mx,
                     wait_active)
from conftest import TLS_NAME, status

ALICE = "alice@example.test"
BOB = "bob@example.test"
SETTLE_TIMEOUT = 300


class Sender(threading.Thread):
    """Sends one message every `pause` seconds until stopped; remembers
    the Message-IDs accepted with 250, per recipient."""

    def __init__(self, send, pause):
        super().__init__(daemon=True)
        self.send = send
        self.pause = pause
        self.accepted = []
        self.refused = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            msgid = new_msgid("campaign")
            try:
                self.send(msgid)
                self.accepted.append(msgid)
            except (OSError, smtplib.SMTPException, AssertionError):
                self.refused += 1
            self.stop.wait(self.pause)


def _by_mx(msgid):
    send_by_mx([ALICE], msgid, timeout=10)


def _submission(site):
    def send(msgid):
        # Relays in turn, as a client with two submission servers configured.
        errors = []
        for relay in ("relay1", "relay2"):
            try:
                with smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=10) as s:
                    s.ehlo()
                    s._host = TLS_NAME
                    s.starttls(context=ssl.create_default_context(cafile=site.ca))
                    s.ehlo()
                    s.login(BOB, site.password(BOB))
                    body = ("From: %s\r\nTo: %s\r\nSubject: campaign\r\nMessage-ID: %s\r\n\r\nx\r\n"
                            % (BOB, ALICE + ", " + BOB, msgid))
                    refused = s.sendmail(BOB, [ALICE, BOB], body)
                    assert not refused, refused
                    return
            except (OSError, smtplib.SMTPException) as e:
                errors.append(e)
        raise smtplib.SMTPException("no relay took the submission: %r" % errors)
    return send


def test_mail_flows_through_four_faults_and_every_accepted_message_arrives_once(ha):
    mark = LogMark(ha)
    log = []
    internet = Sender(_by_mx, 0.3)
    submitted = Sender(_submission(ha), 0.7)
    internet.start()
    submitted.start()
    try:
        time.sleep(3)
        # 1. store1 dies: its users move to store2, then come back.
        log.append("kill store1 at %d accepted" % len(internet.accepted))
        kill_host(ha, "store1")
        time.sleep(15)
        restart(ha)
        assert wait_active(ha, HOSTS["store1"], 120) is not None, "pair1 did not return to store1"
        # 2. relay1 dies: the MX falls back to relay2.
        log.append("kill relay1 at %d accepted" % len(internet.accepted))
        kill_host(ha, "relay1")
        time.sleep(10)
        restart(ha)
        # 3. proxy1 dies: LMTP and SASL go to proxy2.
        log.append("kill proxy1 at %d accepted" % len(internet.accepted))
        kill_host(ha, "proxy1")
        time.sleep(10)
        restart(ha)
        # 4. The relays lose the inside for 60 s.
        log.append("cut relays at %d accepted" % len(internet.accepted))
        fabric(ha, "partition", "relay1,relay2", INSIDE)
        try:
            time.sleep(60)
        finally:
            fabric(ha, "unpartition")
        time.sleep(3)
    finally:
        internet.stop.set()
        submitted.stop.set()
        internet.join(60)
        submitted.join(60)
        restart(ha)
    print("; ".join(log))
    print("accepted: %d by MX (%d refused), %d submitted (%d refused)"
          % (len(internet.accepted), internet.refused, len(submitted.accepted), submitted.refused))
    assert len(internet.accepted) > 100 and len(submitted.accepted) > 30

    expected = {ALICE: internet.accepted + submitted.accepted, BOB: submitted.accepted}
    started = time.time()
    while True:
        counts = {user: message_ids(ha, user) for user in expected}
        missing = {user: [m for m in ids if counts[user][m] == 0] for user, ids in expected.items()}
        if not any(missing.values()) or time.time() - started > SETTLE_TIMEOUT:
            break
        time.sleep(3)
    print("all delivered %.0f s after the last fault" % (time.time() - started))
    for user, ids in expected.items():
        missing = [m for m in ids if counts[user][m] == 0]
        twice = {m: counts[user][m] for m in ids if counts[user][m] > 1}
        assert not missing, "%s: %d of %d accepted messages missing, e.g. %s" % (
            user, len(missing), len(ids), missing[:3])
        assert not twice, "%s: delivered more than once: %s" % (user, twice)
    assert mark.bounces() == []
    st = status(ha)
    assert st["all_up"], st
