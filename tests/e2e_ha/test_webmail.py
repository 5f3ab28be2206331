"""C3 (issue 13) on the full topology: Roundcube runs on both proxies
(webmail.enabled in the test site) and reaches the mail only through the
proxy's own Dovecot (IMAP, ManageSieve) and a relay (submission), like any
client. A real headless browser (chromium + chromium-driver through
python3-selenium, from the client namespace) logs in through proxy1 and
reads a message delivered by the MX; with proxy1 killed (every process of
its namespace, kill -9) the same login works through proxy2, which shows
the same message: only the proxy1 session is lost (sessions and
preferences are each proxy's own SQLite).

The password page works there too: emailng-passwd on the proxy (root)
checks the current password and writes the new hash over LDAPS with the
proxy's client certificate CN=passwd, which the directory lets write
userPassword and nothing else. A change through proxy1's webmail is seen
at once by IMAP through the proxies and by SMTP AUTH at both relays (SASL
goes through the proxies; no Dovecot of the full topology caches).

Junk / Not junk feed the user's deny / allow lists there too:
emailng-junklist on the proxy checks over the doveadm protocol, on the
active store of the user's pair, that the user has mail from the sender,
and writes the list over LDAPS with the same CN=passwd identity."""

import imaplib
import os
import re
import smtplib
import ssl
import stat
import subprocess
import time

import pytest
from selenium.webdriver.common.by import By

from clients import (HOSTS, LogMark, assert_exactly_once, imap_login, kill_host, message, mx_addresses, new_msgid,
                     restart, send_by_mx, tcp_open, wait_delivered)
from conftest import EMAILNG, TLS_NAME
from webmail_checks import change_password, chromium, passwd_dialogue, spam_lists, spki_pin, wait_for, wait_lists

ALICE = "alice@example.test"
BOB = "bob@example.test"
WAIT = 60
DELIVERY_TIMEOUT = 150


def _browser(proxy, profile):
    """Chromium at proxy, trusting the key its HTTPS serves (Chromium knows no site CA)."""
    pin = spki_pin(ssl.get_server_certificate((HOSTS[proxy], 443)).encode())
    return chromium(TLS_NAME, HOSTS[proxy], pin, profile, WAIT)


def _wait(driver, cond, what):
    return wait_for(driver, cond, what, WAIT)


def _login_and_read(driver, password, uid, msgid):
    base = "https://%s/webmail/" % TLS_NAME
    driver.get(base)
    _wait(driver, lambda d: d.find_elements(By.ID, "rcmloginuser"), "the login form")
    driver.find_element(By.ID, "rcmloginuser").send_keys(ALICE)
    driver.find_element(By.ID, "rcmloginpwd").send_keys(password)
    driver.find_element(By.ID, "rcmloginsubmit").click()
    _wait(driver, lambda d: "_task=mail" in d.current_url, "the mail view")
    driver.get(base + "?_task=mail&_mbox=INBOX&_action=show&_uid=%s" % uid)
    # The body is "body of <MSGID>"; Roundcube shows the address in it as a link.
    _wait(driver, lambda d: "body of" in d.page_source and msgid[1:-1] in d.page_source, "the message body")


def _uid(site, msgid):
    m = imap_login(site, ALICE)
    try:
        m.select("INBOX", readonly=True)
        typ, data = m.uid("SEARCH", "HEADER", "Message-ID", msgid)
        assert typ == "OK" and data[0], data
        return data[0].split()[-1].decode()
    finally:
        m.logout()


def test_webmail_through_proxy2_with_proxy1_killed(ha, tmp_path):
    """C3: log in and read a delivered message through proxy1's webmail; kill proxy1; the
    same through proxy2 (its own nginx, php-fpm and Dovecot), then proxy1 comes back."""
    msgid = new_msgid("webmail")
    send_by_mx([ALICE], msgid)
    wait_delivered(ha, ALICE, [msgid], DELIVERY_TIMEOUT)
    uid = _uid(ha, msgid)
    password = ha.password(ALICE)

    first = _browser("proxy1", str(tmp_path / "p1"))
    try:
        _login_and_read(first, password, uid, msgid)
    finally:
        first.quit()

    assert kill_host(ha, "proxy1") > 0
    try:
        assert not tcp_open(HOSTS["proxy1"], 443)
        second = _browser("proxy2", str(tmp_path / "p2"))
        try:
            started = time.monotonic()
            _login_and_read(second, password, uid, msgid)
            print("login and read through proxy2 with proxy1 down: %.1f s" % (time.monotonic() - started))
        finally:
            second.quit()
    finally:
        restart(ha)
    assert tcp_open(HOSTS["proxy1"], 443)


# ---- sending with relay1 down ------------------------------------------------------

def _sent_message_id(site, user, subject):
    """The Message-ID Roundcube gave the message with SUBJECT (its copy in Sent)."""
    m = imap_login(site, user)
    try:
        m.select("Sent", readonly=True)
        typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
        assert typ == "OK" and len(data[0].split()) == 1, ("no single copy in Sent", data)
        typ, got = m.fetch(data[0].split()[0], "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        return re.search(rb"<[^>]+>", got[0][1]).group(0).decode()
    finally:
        m.logout()


def test_webmail_sends_through_relay2_with_relay1_killed(ha, tmp_path):
    """C3 without a single point of failure: with relay1 killed (every process, kill -9),
    a message sent from proxy1's webmail goes out through relay2 (Roundcube's
    smtp_connect hook takes the first relay that accepts a connection) and arrives at
    bob exactly once, counted by the Message-ID Roundcube gave it; relay1 then comes back."""
    subject = "webmail via relay2 %s" % new_msgid()[1:13]
    mark = LogMark(ha, [("relay2", "postfix.log"), ("proxy1", "roundcube/errors.log")])
    assert kill_host(ha, "relay1") > 0
    try:
        assert not tcp_open(HOSTS["relay1"], 465)
        driver = _browser("proxy1", str(tmp_path / "send"))
        try:
            base = "https://%s/webmail/" % TLS_NAME
            driver.get(base)
            _wait(driver, lambda d: d.find_elements(By.ID, "rcmloginuser"), "the login form")
            driver.find_element(By.ID, "rcmloginuser").send_keys(ALICE)
            driver.find_element(By.ID, "rcmloginpwd").send_keys(ha.password(ALICE))
            driver.find_element(By.ID, "rcmloginsubmit").click()
            _wait(driver, lambda d: "_task=mail" in d.current_url, "the mail view")
            driver.get(base + "?_task=mail&_action=compose")
            to = _wait(driver, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".recipient-input input")
                                          if e.is_displayed()], "the compose form")[0]
            to.send_keys(BOB + ",")
            driver.find_element(By.ID, "compose-subject").send_keys(subject)
            driver.find_element(By.ID, "composebody").send_keys("Sent from the webmail with relay1 down.")
            started = time.monotonic()
            driver.find_element(By.XPATH, "//button[contains(@class,'send')] | //a[contains(@class,'send')]").click()
            _wait(driver, lambda d: "_action=compose" not in d.current_url, "the end of compose (message sent)")
            print("webmail send with relay1 down: %.1f s" % (time.monotonic() - started))
        finally:
            driver.quit()
        msgid = _sent_message_id(ha, ALICE, subject)
        assert_exactly_once(wait_delivered(ha, BOB, [msgid], DELIVERY_TIMEOUT), [msgid], "webmail via relay2")
        # It went through relay2, after relay1 was found down.
        assert re.search(r"postfix/submissions/smtpd\[\d+\]: \w+: client=[^\[\s]*\[%s\].*"
                         r"sasl_username=%s" % (re.escape(HOSTS["proxy1"]), re.escape(ALICE)),
                         mark.since("relay2")), mark.since("relay2")[-3000:]
        errors = mark.since("proxy1", "roundcube/errors.log")
        assert "submission relay relay1.example.test (%s) did not answer" % HOSTS["relay1"] in errors, errors
    finally:
        restart(ha)
    assert tcp_open(HOSTS["relay1"], 465)


# ---- password change through a proxy's webmail ----------------------------------

def _passwd_dialogue(site, proxy, lines):
    """emailng-passwd's poppassd dialogue over PROXY's socket (a path: reachable from any
    network namespace, as root); returns its answers."""
    return passwd_dialogue(os.path.join(site.state, "run", proxy, "roundcube", "passwd.sock"), lines)


def _imap_ok(site, proxy, user, password):
    """LOGIN through one proxy (STARTTLS, site CA)."""
    m = imaplib.IMAP4(HOSTS[proxy], 143, timeout=30)
    m.host = TLS_NAME
    try:
        m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
        m.login(user, password)
        m.logout()
        return True
    except imaplib.IMAP4.error:
        m.shutdown()
        return False


def _smtp_auth_ok(site, relay, user, password):
    """AUTH on a relay's submission port (587, STARTTLS): the relay asks the proxies."""
    with smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=30) as s:
        s.ehlo()
        s._host = "%s.example.test" % relay
        s.starttls(context=ssl.create_default_context(cafile=site.ca))
        s.ehlo()
        try:
            s.login(user, password)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def _change_in_browser(driver, current, new):
    change_password(driver, "https://%s/webmail/" % TLS_NAME, current, new, WAIT)


def test_password_change_through_proxy_webmail(ha, tmp_path):
    """C3 on several hosts: proxy1's emailng-passwd refuses a wrong current password (the
    password stays); bob changes his on proxy1's password page; then over IMAP through
    both proxies the old one fails and the new one works, and both relays' SMTP AUTH take
    the new one and refuse the old. proxy2's emailng-passwd changes it back. The proxies'
    CN=passwd key is root's only, and that identity cannot write another attribute."""
    old = ha.password(BOB)
    new = "Webmail-HA-" + old
    key = os.stat(os.path.join(ha.state, "tls", "proxy1", "client-passwd.key"))
    assert key.st_uid == 0 and stat.S_IMODE(key.st_mode) & 0o077 == 0, oct(key.st_mode)
    try:
        answers = _passwd_dialogue(ha, "proxy1", ["user " + BOB, "pass wrong-" + old, "newpass Never-set-12345"])
        # Refused by the check against the directory's hash (not for want of a connection).
        assert answers[1:] == ["300 current password please", "500 the current password is not right"], answers
        assert _imap_ok(ha, "proxy1", BOB, old), "a refused change changed the password"

        driver = _browser("proxy1", str(tmp_path / "pw"))
        try:
            driver.get("https://%s/webmail/" % TLS_NAME)
            _wait(driver, lambda d: d.find_elements(By.ID, "rcmloginuser"), "the login form")
            driver.find_element(By.ID, "rcmloginuser").send_keys(BOB)
            driver.find_element(By.ID, "rcmloginpwd").send_keys(old)
            driver.find_element(By.ID, "rcmloginsubmit").click()
            _wait(driver, lambda d: "_task=mail" in d.current_url, "the mail view")
            started = time.monotonic()
            _change_in_browser(driver, old, new)
            print("password change through proxy1's webmail: %.1f s" % (time.monotonic() - started))
        finally:
            driver.quit()

        for proxy in ("proxy1", "proxy2"):
            assert not _imap_ok(ha, proxy, BOB, old), "the old password still works over IMAP at " + proxy
            assert _imap_ok(ha, proxy, BOB, new), "the new password does not work over IMAP at " + proxy
        for relay in ("relay1", "relay2"):
            assert _smtp_auth_ok(ha, relay, BOB, new), "%s's SMTP AUTH refuses the new password" % relay
            assert not _smtp_auth_ok(ha, relay, BOB, old), "%s's SMTP AUTH takes the old password" % relay

        # The certificate's identity writes userPassword only: not the account status.
        ldif = "dn: mail=%s,ou=users,dc=example,dc=test\nchangetype: modify\nreplace: emailngAccountStatus\n" \
               "emailngAccountStatus: disabled\n" % BOB
        tls = os.path.join(ha.state, "tls")
        cp = ha.netns("proxy1", "env", "LDAPTLS_CACERT=" + os.path.join(tls, "ca.crt"),
                      "LDAPTLS_CERT=" + os.path.join(tls, "proxy1", "client-passwd.crt"),
                      "LDAPTLS_KEY=" + os.path.join(tls, "proxy1", "client-passwd.key"), "LDAPTLS_REQCERT=demand",
                      "ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", "ldaps://%s/" % HOSTS["dir1"], input=ldif)
        assert cp.returncode == 50, (cp.returncode, cp.stdout, cp.stderr)     # insufficientAccessRights

        answers = _passwd_dialogue(ha, "proxy2", ["user " + BOB, "pass " + new, "newpass " + old])
        assert answers[-1].startswith("200"), answers
        assert _imap_ok(ha, "proxy2", BOB, old) and not _imap_ok(ha, "proxy2", BOB, new)
    finally:
        if not _imap_ok(ha, "proxy1", BOB, old):
            ha.emailng("user", "passwd", BOB, "--password-stdin", input=old + "\n" + old + "\n")


# ---- Junk / Not junk through a proxy's webmail -------------------------------

JUNK_SENDER = "Junk.Sender@outside.test"


def _spam_lists(site, user):
    """`emailng user spam USER`: {"allow": [...], "deny": [...]}."""
    return spam_lists(site.emailng("user", "spam", user).stdout)


def _wait_lists(site, user, want):
    wait_lists(lambda: _spam_lists(site, user), user, want, WAIT)


def _junk_report(site, proxy, verdict, user, sender):
    """What Roundcube runs as www-data: emailng-junklist's report mode on PROXY's socket."""
    return subprocess.run(["setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups",
                           os.path.join(os.path.dirname(EMAILNG), "emailng-junklist"), "--report", "--socket",
                           os.path.join(site.state, "run", proxy, "roundcube", "junklist.sock"),
                           verdict, user, sender], capture_output=True, text=True, timeout=60)


def test_junk_feeds_lists_through_proxy_webmail(ha, tmp_path):
    """C3 on several hosts: the Junk button in proxy1's webmail puts the message's sender on
    alice's deny list; "not junk" reported through proxy2's emailng-junklist moves it to the
    allow list; a sender alice has no mail from is refused (the check reached the store)."""
    msgid = new_msgid("webmail-junk")
    with smtplib.SMTP(mx_addresses()[0], 25, local_hostname="client.outside.test", timeout=30) as s:
        s.ehlo()
        assert not s.sendmail(JUNK_SENDER, [ALICE], message([ALICE], msgid, subject="webmail junk",
                                                          sender=JUNK_SENDER))
    wait_delivered(ha, ALICE, [msgid], DELIVERY_TIMEOUT)
    uid = _uid(ha, msgid)
    sender = JUNK_SENDER.lower()
    assert _spam_lists(ha, ALICE) == {"allow": [], "deny": []}
    try:
        driver = _browser("proxy1", str(tmp_path / "junk"))
        try:
            _login_and_read(driver, ha.password(ALICE), uid, msgid)
            def junk_button(d):
                for b in d.find_elements(By.CSS_SELECTOR, "#toolbar-menu a.junk, .toolbar a.junk"):
                    if b.is_displayed() and "disabled" not in (b.get_attribute("class") or ""):
                        return b
                return None
            started = time.monotonic()
            _wait(driver, junk_button, "an enabled Junk button").click()
            _wait_lists(ha, ALICE, {"allow": [], "deny": [sender]})
            print("Junk in proxy1's webmail to the deny list: %.1f s" % (time.monotonic() - started))
        finally:
            driver.quit()
        r = _junk_report(ha, "proxy2", "ham", ALICE, JUNK_SENDER)
        assert r.returncode == 0 and "added to the allow list" in r.stdout, (r.returncode, r.stdout, r.stderr)
        assert _spam_lists(ha, ALICE) == {"allow": [sender], "deny": []}
        r = _junk_report(ha, "proxy2", "spam", ALICE, "stranger@outside.test")
        assert r.returncode == 1 and "no message from that sender" in r.stdout, (r.returncode, r.stdout, r.stderr)
        assert _spam_lists(ha, ALICE) == {"allow": [sender], "deny": []}
        log = ha.log("proxy1", "junklist.log")
        assert re.search(r'user="%s" verdict="spam" sender="%s" result="added"' % (ALICE, sender), log), log[-2000:]
    finally:
        ha.emailng("user", "spam", ALICE, "--unallow", sender, "--undeny", sender, check=False)
