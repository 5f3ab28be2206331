"""The first mail flow across the hosts of the full topology (issue 4).

client (198.18.0.100) -> MX lookup in the fabric's DNS -> relay1 (MX 10)
-> store's internal Postfix -> LMTP
through a proxy -> the user's active store; the user reads it over IMAP
at mail.example.test (both proxies), the certificate checked for that name. Requirements: A1, A2 (every role on its own hosts),
S2 (MX on the relays, mail for us to the stores' MTAs), S3 (unknown
recipients refused at the relay, which has no directory access).
"""

import imaplib
import os
import smtplib
import socket
import ssl
import time
import uuid

from conftest import DOMAIN, HOSTS, TLS_NAME, resolve, status

DELIVERY_TIMEOUT = 60.0


def _mx_address():
    """What a sender on the internet does: the MX of lowest preference, its address."""
    mx = sorted(resolve(DOMAIN, "MX"), key=lambda r: r.preference)[0]
    return resolve(str(mx.exchange), "A")[0].address


def _send(address, rcpts, msgid):
    with smtplib.SMTP(address, 25, local_hostname="client.outside.test", timeout=30) as s:
        s.ehlo()
        body = ("From: someone@outside.test\r\nTo: %s\r\nSubject: across hosts\r\nMessage-ID: %s\r\n\r\n"
                "hello from the internet\r\n" % (", ".join(rcpts), msgid))
        return s.sendmail("someone@outside.test", rcpts, body)


def _imap_find(site, address, user, msgid):
    m = imaplib.IMAP4(address, 143, timeout=30)
    m.host = TLS_NAME           # STARTTLS verifies the certificate for the public name
    try:
        m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
        m.login(user, site.password(user))
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "HEADER", "Message-ID", msgid)
        return data[0].split() if typ == "OK" else []
    finally:
        try:
            m.logout()
        except Exception:
            pass


def test_every_host_and_service_up(ha):
    st = status(ha)
    names = [h["name"] for h in st["hosts"]]
    assert sorted(names) == sorted(HOSTS), names
    assert st["all_up"], st
    services = {h["name"]: sorted(s["name"] for s in h["services"]) for h in st["hosts"]}
    # metricsd everywhere, the Postfix exporter beside every Postfix
    # (Prometheus endpoints, admin manual 4d)
    assert services["dir1"] == ["metricsd", "slapd"]
    assert services["store1"] == ["dovecot", "metricsd", "postfix", "postfix-exporter", "syncwatch"]
    # fail2ban where users log in (X2): the proxies and the relays; the
    # webmail beside nginx (the fixture turns webmail on): php-fpm, and its
    # root helpers for password changes and the Junk buttons; nginx's
    # FastCGI responder for Outlook's autodiscover POST; tablemaker: the
    # relays' tables for relays on hosts of their own (section 5 of
    # docs/architecture.md; on this fabric the relays run no tablepull)
    assert services["proxy2"] == ["autodiscover", "dovecot", "fail2ban", "healthd", "junklist", "metricsd", "nginx",
                                  "passwd", "php-fpm", "tablemaker"]
    # dovecot: the auth service only; unbound: the caching resolver (S8);
    # the content filter (filter.enabled)
    # fromcheck: the submission milter (header From:/Sender: against the login)
    # opendkim: DKIM signing and verification; opendmarc: the MX's DMARC
    # milter (dmarc.mode enforce by default) (issue 11); postsrsd: SRS for
    # forwarded mail (srs.enabled); mta-sts: MTA-STS policies for the
    # outbound smtp client (outbound.mta_sts), behind tlspolicy (DANE
    # before MTA-STS: the relays do DANE)
    assert services["relay1"] == ["amavisd", "clamav-milter", "clamd", "dovecot", "fail2ban", "fromcheck",
                                  "metricsd", "mta-sts", "opendkim", "opendmarc", "policyd", "postfix",
                                  "postfix-exporter", "postsrsd", "tlspolicy", "unbound"]
    assert st["fabric"]["dns"]["state"] == "up", st   # the test fabric's nsd


def test_proxy_certificate_names_the_public_host(ha):
    ctx = ssl.create_default_context(cafile=ha.ca)
    with socket.create_connection((HOSTS["proxy1"], 993), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=TLS_NAME) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_unknown_recipient_refused_at_the_relay(ha):
    with smtplib.SMTP(HOSTS["relay1"], 25, local_hostname="client.outside.test", timeout=30) as s:
        s.ehlo()
        s.mail("someone@outside.test")
        code, msg = s.rcpt("nobody@example.test")
        assert code == 550, msg
        assert b"5.1.1" in msg


def test_dns_publishes_mx_mail_and_spf(ha):
    mx = sorted((r.preference, str(r.exchange)) for r in resolve(DOMAIN, "MX"))
    assert mx == [(10, "relay1.example.test."), (20, "relay2.example.test.")]
    assert sorted(r.address for r in resolve(TLS_NAME, "A")) == [HOSTS["proxy1"], HOSTS["proxy2"]]
    spf = [b"".join(r.strings) for r in resolve(DOMAIN, "TXT")]
    assert b"v=spf1 ip4:198.18.0.11 ip4:198.18.0.12 -all" in spf


def test_mail_via_mx_lands_on_store1_read_through_both_proxies(ha):
    msgid = "<%s@outside.test>" % uuid.uuid4()
    assert _mx_address() == HOSTS["relay1"]
    assert _send(_mx_address(), ["alice@example.test"], msgid) == {}
    mail = resolve(TLS_NAME, "A")[0].address
    deadline = time.time() + DELIVERY_TIMEOUT
    found = []
    while time.time() < deadline and not found:
        found = _imap_find(ha, mail, "alice@example.test", msgid)
        if not found:
            time.sleep(1)
    assert found, "not delivered within %d s; relay1 log:\n%s" % (DELIVERY_TIMEOUT,
                                                                  ha.log("relay1", "postfix.log")[-3000:])
    # The same mailbox through each proxy.
    for proxy in ("proxy1", "proxy2"):
        assert _imap_find(ha, HOSTS[proxy], "alice@example.test", msgid), proxy
    # Routed through the store's Postfix and a proxy's LMTP to store1 (pair1's first store).
    assert msgid in ha.log("store1", "dovecot.log")
    assert "relay=198.18.0.2" in ha.log("store1", "postfix.log") or "relay=198.18.0.2" in ha.log("store2", "postfix.log")


def test_user_added_is_accepted_at_the_relays_within_10_s(ha):
    ha.emailng("user", "add", "carol", "--password-stdin", input="carol-pass-1234\ncarol-pass-1234\n")
    t0 = time.time()
    accepted = {}
    while time.time() - t0 < 10 and len(accepted) < 2:
        for relay in ("relay1", "relay2"):
            with smtplib.SMTP(HOSTS[relay], 25, local_hostname="client.outside.test", timeout=10) as s:
                s.ehlo()
                s.mail("someone@outside.test")
                code, _ = s.rcpt("carol@example.test")
                if code == 250:
                    accepted[relay] = time.time() - t0
        time.sleep(0.5)
    assert set(accepted) == {"relay1", "relay2"}, accepted


def _relay_reloads(site, relay):
    """How often the relay's Postfix master has reloaded."""
    with open(os.path.join(site.state, "log", relay, "postfix.log")) as f:
        return sum(1 for line in f if "postfix/master" in line and "reload -- version" in line)


def test_relays_see_table_changes_without_a_reload(ha):
    # A reload while a relay delivers leaves those messages to the new
    # queue manager, which retries them minutes later. The tables are LMDB:
    # neither `up` nor a new user reloads the relays' Postfix, and an smtpd
    # already in a session sees the new recipient at its next lookup.
    relays = ("relay1", "relay2")
    before = {r: _relay_reloads(ha, r) for r in relays}
    ha.emailng("up")
    name = "reload%s" % uuid.uuid4().hex[:6]
    rcpt = "%s@%s" % (name, DOMAIN)
    sessions = {}
    try:
        for relay in relays:
            s = sessions[relay] = smtplib.SMTP(HOSTS[relay], 25, local_hostname="client.outside.test", timeout=30)
            s.ehlo()
            assert s.mail("someone@outside.test")[0] == 250
            code, text = s.rcpt(rcpt)
            assert code == 550 and b"5.1.1" in text, (relay, code, text)
        ha.emailng("user", "add", rcpt, "--password-stdin", input="Reload-test-pass-1\n" * 2)
        added = time.monotonic()
        for relay in relays:
            while True:
                code, text = sessions[relay].rcpt(rcpt)
                if code == 250:
                    break
                assert time.monotonic() - added < 10, "%s: %s not accepted in the open session" % (relay, rcpt)
                time.sleep(0.2)
        for s in sessions.values():
            s.quit()
        time.sleep(2)       # Postfix's log lines arrive through its postlogd
        assert {r: _relay_reloads(ha, r) for r in relays} == before
        for relay in relays:
            assert os.path.exists(os.path.join(ha.state, "data", relay, "postfix", "relay-recipients.lmdb"))
    finally:
        for s in sessions.values():
            s.close()
        ha.emailng("user", "del", rcpt)
