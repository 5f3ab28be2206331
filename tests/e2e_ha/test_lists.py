"""Mailing lists (U4) in the full topology: the relays' emailng-policyd
decides who may post (from the table `emailng list` exports), a store
expands the list (emailng-list-deliver), and the list keeps working with one
relay or one store down; every member gets each post exactly once (counted
by Message-ID), with the list's List-Id."""

import smtplib
import ssl
import time

import pytest

from clients import (HOSTS, assert_exactly_once, imap_login, kill_host, new_msgid, restart, send_by_mx, send_to,
                     wait_active, wait_delivered)
from conftest import TLS_NAME, status

ALICE = "alice@example.test"
BOB = "bob@example.test"
DELIVERY_TIMEOUT = 150      # relays retry every 30 s after a failure


def _make_list(ha, name, policy):
    lst = "%s-%d@example.test" % (name, int(time.time() * 1000) % 10**9)
    ha.emailng("list", "create", lst, "--policy", policy, "--owner", ALICE)
    ha.emailng("list", "add", lst, ALICE, BOB)
    return lst


def _delivered_once(ha, msgid, what):
    for user in (ALICE, BOB):
        assert_exactly_once(wait_delivered(ha, user, [msgid], DELIVERY_TIMEOUT), [msgid], "%s: %s" % (what, user))


def _list_id(ha, user, msgid):
    m = imap_login(ha, user)
    try:
        m.select("INBOX", readonly=True)
        typ, data = m.uid("SEARCH", "HEADER", "Message-ID", '"%s"' % msgid)
        assert typ == "OK" and data[0], data
        typ, data = m.uid("FETCH", data[0].split()[-1], "(BODY.PEEK[HEADER.FIELDS (LIST-ID)])")
        return b"".join(p[1] for p in data if isinstance(p, tuple)).decode().strip()
    finally:
        m.logout()


def _wait_all_up(ha, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = status(ha)
        if st.get("all_up"):
            return
        time.sleep(3)
    raise AssertionError("not every service is up %ds after `emailng up`" % timeout)


def test_internal_list_refuses_outside_mail_at_the_relays(ha):
    """U4: each relay refuses mail from the internet to an internal list at RCPT (550 5.7.1)."""
    lst = _make_list(ha, "staff", "internal")
    for relay in ("relay1", "relay2"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            send_to(HOSTS[relay], [lst], new_msgid("internal"))
        code, text = e.value.recipients[lst]
        assert code == 550 and text.startswith(b"5.7.1"), (relay, code, text)


def _rcpt(relay, sender, lst, port=25, login=None, ca=None):
    """MAIL FROM sender, RCPT TO lst on a relay (unauthenticated on 25, or
    logged in on 587); (code, text) of the RCPT, nothing sent."""
    with smtplib.SMTP(HOSTS[relay], port, local_hostname="client.outside.test", timeout=30) as s:
        s.ehlo()
        if login:
            s._host = TLS_NAME          # the relays' certificates carry the public name too
            s.starttls(context=ssl.create_default_context(cafile=ca))
            s.ehlo()
            s.login(*login)
        code, text = s.mail(sender)
        assert code == 250, (relay, code, text)
        code, text = s.rcpt(lst)
        s.rset()
        return code, text


def test_internal_list_refuses_spoofed_internal_sender_at_the_relays(ha):
    """U4: an unauthenticated client on port 25 of each relay claiming an internal address (alice's)
    is refused at RCPT for an internal list (550 5.7.1); alice logged in on submission is accepted."""
    lst = _make_list(ha, "staff", "internal")
    for relay in ("relay1", "relay2"):
        code, text = _rcpt(relay, ALICE, lst)
        assert code == 550 and text.startswith(b"5.7.1"), (relay, code, text)
        code, text = _rcpt(relay, ALICE, lst, port=587, login=(ALICE, ha.password(ALICE)), ca=ha.ca)
        assert code == 250, (relay, code, text)


def test_open_list_works_with_one_relay_or_one_store_down(ha):
    """U4, A1-A4: an open list delivers to each member once, with its List-Id; with relay1 killed the
    MX relay2 takes the post; with store1 (pair1's active store) killed, store2 expands and delivers."""
    lst = _make_list(ha, "proj", "open")
    local, domain = lst.split("@")
    first = new_msgid("list")
    send_by_mx([lst], first)
    _delivered_once(ha, first, "all up")
    assert _list_id(ha, BOB, first) == "List-Id: <%s.%s>" % (local, domain)

    assert kill_host(ha, "relay1") > 0
    try:
        relay_down = new_msgid("list-relay1-down")
        assert send_by_mx([lst], relay_down) == HOSTS["relay2"]
        _delivered_once(ha, relay_down, "relay1 down")
    finally:
        restart(ha)
    _wait_all_up(ha)

    assert wait_active(ha, HOSTS["store1"], 60) is not None, "pair1 is not on store1 to begin with"
    assert kill_host(ha, "store1") > 0
    try:
        store_down = new_msgid("list-store1-down")
        send_by_mx([lst], store_down)
        _delivered_once(ha, store_down, "store1 down")
    finally:
        restart(ha)
    _wait_all_up(ha)
    for user in (ALICE, BOB):
        assert_exactly_once(wait_delivered(ha, user, [first, relay_down, store_down], DELIVERY_TIMEOUT),
                            [first, relay_down, store_down], "after the stores are back: %s" % user)
    # The later tests of the suite start with pair1 on store1.
    assert wait_active(ha, HOSTS["store1"], 120) is not None, "pair1 did not come back to store1"
