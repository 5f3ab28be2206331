"""C3 (issue 13) on the full topology: Roundcube runs on both proxies
(webmail.enabled in the test site) and reaches the mail only through the
proxy's own Dovecot (IMAP, ManageSieve) and a relay (submission), like any
client. A real headless browser (chromium + chromium-driver through
python3-selenium, from the client namespace) logs in through proxy1 and
reads a message delivered by the MX; with proxy1 killed (every process of
its namespace, kill -9) the same login works through proxy2, which shows
the same message: only the proxy1 session is lost (sessions and
preferences are each proxy's own SQLite)."""

import base64
import hashlib
import ssl
import subprocess
import time

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from clients import HOSTS, imap_login, kill_host, new_msgid, restart, send_by_mx, tcp_open, wait_delivered
from conftest import TLS_NAME

ALICE = "alice@example.test"
WAIT = 60
DELIVERY_TIMEOUT = 150


def _spki_pin(address):
    """The pin of the key a proxy's HTTPS serves (Chromium knows no site CA)."""
    pem = ssl.get_server_certificate((address, 443)).encode()
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem, capture_output=True,
                         check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True,
                         check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _browser(proxy, profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--host-resolver-rules=MAP %s %s" % (TLS_NAME, HOSTS[proxy]),
                "--ignore-certificate-errors-spki-list=" + _spki_pin(HOSTS[proxy]),
                "--user-data-dir=" + profile):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


def _wait(driver, cond, what):
    try:
        return WebDriverWait(driver, WAIT).until(cond)
    except TimeoutException:
        raise AssertionError("browser: %s not within %ss; at %s\n%s" % (
            what, WAIT, driver.current_url, driver.page_source[:3000]))


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
