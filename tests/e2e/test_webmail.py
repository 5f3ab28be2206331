"""C3 (issue 13): webmail. Roundcube under php-fpm behind the site's nginx at
https://mail.example.test/webmail/, driven by a real headless browser
(Debian's chromium + chromium-driver through python3-selenium): log in, read
a message delivered by SMTP, send one (it arrives over IMAP), make a filter
and a vacation reply with the managesieve plugin (they act on the next
delivery), change the password through emailng-passwd (the old one fails
over IMAP at once, the new one works), mark junk and not junk (the sender lands on
the user's deny, then allow list through emailng-junklist, which refuses senders
the user has no mail from), see the quota; a wrong password is refused. The rendered nginx and
PHP configuration pass `nginx -t`, `php-fpm -t` and `php -l`, and the
per-site des_key is in the state directory, not in the configuration.

One browser for the module; each test logs in as its own fresh user."""

import glob
import grp
import http.client
import imaplib
import os
import re
import socket
import stat
import subprocess
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import (CLIENT_ADDR, EMAILNG, HOST, TLS_NAME, imap_connect, imap_find, make_message, msgid, smtp_send,
                      tls_context, wait_for_message)
from test_sieve import _session as sieve_session
from webmail_checks import change_password, chromium, passwd_dialogue, spam_lists, spki_pin, wait_for, wait_lists

BASE = "https://%s/webmail/" % TLS_NAME
WAIT = 30


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    with open(os.path.join(site.state, "tls", "server.crt"), "rb") as f:
        pin = spki_pin(f.read())
    driver = chromium(TLS_NAME, HOST, pin, str(tmp_path_factory.mktemp("chromium")), WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, cond, what, timeout=WAIT):
    return wait_for(driver, cond, what, timeout)


def idle(driver):
    """Waits until the page's own requests are done (Roundcube keeps the
    session in one record: a request still running when the next page
    starts can write back the session without what that page added, e.g.
    a compose ID)."""
    _wait(driver, lambda d: d.execute_script(
        "return document.readyState == 'complete' && (!window.rcmail || !rcmail.busy)"
        " && (!window.jQuery || jQuery.active == 0)"), "the page idle")


def login(driver, user, password):
    """Logs in through the login form (a fresh session: cookies cleared);
    returns True if the mail view opened, False if the form stayed."""
    driver.get(BASE)
    driver.delete_all_cookies()
    driver.get(BASE)
    _wait(driver, lambda d: d.find_elements(By.ID, "rcmloginuser"), "the login form")
    driver.find_element(By.ID, "rcmloginuser").send_keys(user)
    driver.find_element(By.ID, "rcmloginpwd").send_keys(password)
    driver.find_element(By.ID, "rcmloginsubmit").click()
    _wait(driver, lambda d: "_task=mail" in d.current_url or d.find_elements(By.CSS_SELECTOR, "#messagestack div"),
          "the mail view or a login error")
    idle(driver)
    return "_task=mail" in driver.current_url


def inbox_uid(driver, subject, mbox="INBOX"):
    """Opens the folder in the message list and returns the UID of the row
    showing subject (Roundcube's row ids are rcmrow + the UID, encoded)."""
    def row(d):
        d.execute_script("rcmail.command('checkmail')")
        for r in d.find_elements(By.CSS_SELECTOR, "#messagelist tbody tr"):
            if subject in r.text:
                return r.get_attribute("id")
        return None
    driver.get(BASE + "?_task=mail&_mbox=" + mbox)
    rid = _wait(driver, row, "the message %r in the list of %s" % (subject, mbox))
    idle(driver)
    return driver.execute_script("return rcmail.html_identifier_decode(arguments[0])", rid[len("rcmrow"):])


def test_rendered_configuration_checks(site):
    """C3: the rendered nginx.conf (with webmail.conf) passes `nginx -t`, php-fpm's passes
    `php-fpm8.2 -t`, every rendered PHP file passes `php -l`; display_errors is off."""
    etc = os.path.join(site.state, "etc", "mail")
    log = os.path.join(site.state, "log", "mail", "nginx-error.log")
    r = subprocess.run(["nginx", "-t", "-c", os.path.join(etc, "nginx", "nginx.conf"), "-e", log],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "include %s" % os.path.join(etc, "nginx", "webmail.conf") in open(os.path.join(etc, "nginx", "nginx.conf")).read()
    rc_dir = os.path.join(etc, "roundcube")
    r = subprocess.run(["php-fpm8.2", "-t", "--fpm-config", os.path.join(rc_dir, "php-fpm.conf"),
                        "-c", os.path.join(rc_dir, "php.ini")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    php_files = sorted(glob.glob(os.path.join(rc_dir, "*.php")))
    assert [os.path.basename(p) for p in php_files] == ["config.inc.php", "dbsetup.php", "defaults.inc.php"]
    for path in php_files:
        r = subprocess.run(["php", "-l", path], capture_output=True, text=True)
        assert r.returncode == 0 and "No syntax errors" in r.stdout, (path, r.stdout, r.stderr)
    r = subprocess.run(["php", "-c", os.path.join(rc_dir, "php.ini"), "-r", "echo ini_get('display_errors');"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout in ("", "0"), r


def test_des_key_per_site_not_in_configuration(site):
    """C3: des_key is generated into STATE/secrets (root only, 32 characters) and its copy
    for the workers is root:www-data 0440; no rendered file holds it."""
    secret = os.path.join(site.state, "secrets", "webmail-des-key")
    st = os.stat(secret)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    key = open(secret).read()
    assert re.fullmatch(r"\S{32}", key), "des_key is not 32 characters"
    copy = os.path.join(site.state, "run", "mail", "roundcube", "des_key")
    cst = os.stat(copy)
    assert stat.S_IMODE(cst.st_mode) == 0o440 and cst.st_uid == 0
    assert open(copy).read() == key
    for path in glob.glob(os.path.join(site.state, "etc", "mail", "**", "*"), recursive=True):
        if os.path.isfile(path):
            assert key not in open(path, errors="replace").read(), path


def test_wrong_password_refused(site, browser):
    """C3: a wrong password leaves the browser on the login form with an error; no mail view."""
    user, _ = site.new_user(prefix="wmbad")
    assert not login(browser, user, "not-the-password")
    assert browser.find_elements(By.ID, "rcmloginuser")
    assert "Login failed" in browser.page_source


def test_read_send_and_quota(site, browser, bob):
    """C3: a message delivered by SMTP is shown; a message sent from the compose form
    arrives in the recipient's INBOX over IMAP (and in the sender's Sent); the quota
    widget shows the IMAP quota's limit."""
    user, pw = site.new_user(quota="50M", prefix="wm")
    mid = msgid()
    subject = "webmail read %s" % mid[1:9]
    message, _ = make_message("bob@example.test", user, mid, subject=subject,
                              body=b"The body the browser must show " + mid.encode() + b"\r\n")
    smtp_send("bob@example.test", [user], message)
    wait_for_message(site, user, mid, password=pw)

    started = time.monotonic()
    assert login(browser, user, pw)
    login_seconds = time.monotonic() - started
    uid = inbox_uid(browser, subject)
    browser.get(BASE + "?_task=mail&_mbox=INBOX&_action=show&_uid=" + uid)
    _wait(browser, lambda d: "The body the browser must show" in d.page_source, "the message body")
    assert mid[1:-1] in browser.page_source

    # Quota: the widget's title says "used / limit (percent)", the limit as IMAP gives it.
    browser.get(BASE + "?_task=mail&_mbox=INBOX")
    title = _wait(browser, lambda d: d.find_element(By.ID, "rcmquotadisplay").get_attribute("title"),
                  "the quota widget")
    assert re.search(r"/ 50(\.0)? MB", title), title

    # Compose and send to bob.
    sent_subject = "webmail sent %s" % msgid()[1:9]
    idle(browser)
    browser.get(BASE + "?_task=mail&_action=compose")
    to = _wait(browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".recipient-input input")
                                   if e.is_displayed()], "the compose form")[0]
    to.send_keys(bob[0] + ",")
    browser.find_element(By.ID, "compose-subject").send_keys(sent_subject)
    browser.find_element(By.ID, "composebody").send_keys("Sent from the webmail test.")
    browser.find_element(By.XPATH, "//button[contains(@class,'send')] | //a[contains(@class,'send')]").click()
    _wait(browser, lambda d: "_action=compose" not in d.current_url, "the end of compose (message sent)")

    m = imap_connect(site, *bob)
    try:
        deadline = time.monotonic() + 30
        while True:
            m.select("INBOX")
            typ, data = m.search(None, "SUBJECT", '"%s"' % sent_subject)
            if data and data[0]:
                break
            assert time.monotonic() < deadline, "the webmail's message did not reach bob"
            time.sleep(0.5)
        typ, got = m.fetch(data[0].split()[-1], "(BODY.PEEK[HEADER.FIELDS (FROM)])")
        assert user.encode() in got[0][1], got
    finally:
        m.logout()
    m = imap_connect(site, user, pw)
    try:
        m.select("Sent")
        typ, data = m.search(None, "SUBJECT", '"%s"' % sent_subject)
        assert data and data[0], "no copy in Sent"
    finally:
        m.logout()
    assert login_seconds < 15, login_seconds


def test_filter_and_vacation(site, browser, bob):
    """C3: a filter (Subject contains TAG -> file into Projects) and a vacation reply made in
    the managesieve plugin's forms are the user's active Sieve script over ManageSieve, and
    act on the next delivery: the tagged message lands in Projects, the other one gets bob
    the vacation reply."""
    user, pw = site.new_user(prefix="wmsieve")
    m = imap_connect(site, user, pw)
    try:
        assert m.create("Projects")[0] == "OK"
        assert m.subscribe("Projects")[0] == "OK"
    finally:
        m.logout()
    assert login(browser, user, pw)
    tag = "[wm-%s]" % msgid()[1:7]

    # The filter form (the frame Settings > Filters > Create opens).
    browser.get(BASE + "?_task=settings&_action=plugin.managesieve-action&_framed=1")
    _wait(browser, lambda d: d.find_elements(By.ID, "_name"), "the filter form")
    browser.find_element(By.ID, "_name").send_keys("projects")
    Select(browser.find_element(By.ID, "header0")).select_by_value("subject")
    Select(browser.find_element(By.ID, "rule_op0")).select_by_value("contains")
    browser.find_element(By.CSS_SELECTOR, "input[name='_rule_target[0][]']").send_keys(tag)
    Select(browser.find_element(By.ID, "action_type0")).select_by_value("fileinto")
    Select(browser.find_element(By.ID, "action_mailbox0")).select_by_value("Projects")
    browser.find_element(By.XPATH, "//button[normalize-space()='Save']").click()
    _wait(browser, lambda d: "successfully" in d.page_source.lower() or "saved" in d.page_source.lower(),
          "the filter saved")

    # The vacation page (Settings > Out of Office).
    vacation_subject = "Away %s" % msgid()[1:9]
    browser.get(BASE + "?_task=settings&_action=plugin.managesieve-vacation")
    _wait(browser, lambda d: d.find_elements(By.ID, "vacation_subject"), "the vacation form")
    browser.find_element(By.ID, "vacation_subject").send_keys(vacation_subject)
    browser.find_element(By.ID, "vacation_reason").send_keys("I am away; this is the webmail test.")
    Select(browser.find_element(By.ID, "vacation_status")).select_by_value("on")
    browser.find_element(By.XPATH, "//button[normalize-space()='Save']").click()
    _wait(browser, lambda d: "successfully" in d.page_source.lower(), "the vacation saved")

    # What ManageSieve shows: the plugin's script, active, with both rules.
    ms = sieve_session(site, user, pw)
    try:
        r, names = ms.listscripts()
        assert r.status == "OK" and ("roundcube", True) in names, (r, names)
        r, text = ms.getscript("roundcube")
        assert r.status == "OK", r
    finally:
        ms.logout()
    assert tag in text and "fileinto" in text and "vacation" in text and vacation_subject in text, text

    tagged, plain = msgid(), msgid()
    smtp_send("bob@example.test", [user], make_message("bob@example.test", user, tagged, subject=tag + " plan")[0])
    wait_for_message(site, user, tagged, mailbox="Projects", password=pw)
    m = imap_connect(site, user, pw)
    try:
        assert imap_find(m, tagged, "INBOX") == [], "the filtered message is also in INBOX"
    finally:
        m.logout()
    smtp_send("bob@example.test", [user], make_message("bob@example.test", user, plain, subject="hello")[0])
    wait_for_message(site, user, plain, password=pw)
    m = imap_connect(site, *bob)
    try:
        deadline = time.monotonic() + 30
        while True:
            m.select("INBOX")
            typ, data = m.search(None, "SUBJECT", '"%s"' % vacation_subject)
            if data and data[0]:
                break
            assert time.monotonic() < deadline, "no vacation reply reached bob"
            time.sleep(0.5)
    finally:
        m.logout()


def _passwd_dialogue(site, lines):
    """emailng-passwd's poppassd dialogue over its socket; returns its answers."""
    return passwd_dialogue(os.path.join(site.state, "run", "mail", "roundcube", "passwd.sock"), lines)


def _imap_login_ok(site, user, password):
    try:
        imap_connect(site, user, password).logout()
        return True
    except imaplib.IMAP4.error:
        return False


def test_password_change(site, browser):
    """C3: the password page (plugin password, driver poppassd to emailng-passwd) changes the
    user's own password: over IMAP the old one fails at once and the new one works, and
    the webmail takes the new one. emailng-passwd's socket is root's and www-data's only,
    and it refuses a wrong current password (and keeps the password)."""
    user, old = site.new_user(prefix="wmpw")
    sock = os.stat(os.path.join(site.state, "run", "mail", "roundcube", "passwd.sock"))
    assert stat.S_IMODE(sock.st_mode) == 0o660 and sock.st_uid == 0
    assert sock.st_gid == grp.getgrnam("www-data").gr_gid

    answers = _passwd_dialogue(site, ["user " + user, "pass wrong-" + old, "newpass Never-set-12345"])
    assert answers[0].startswith("200") and answers[1].startswith("300") and answers[2].startswith("500"), answers
    assert len(answers) == 3, answers
    assert _imap_login_ok(site, user, old)

    new = "New-" + old
    assert login(browser, user, old)
    change_password(browser, BASE, old, new, WAIT)

    # No waiting for Dovecot's auth cache: emailng-passwd flushed the user's entry.
    assert not _imap_login_ok(site, user, old), "the old password still works over IMAP"
    assert _imap_login_ok(site, user, new), "the new password does not work over IMAP"
    assert login(browser, user, new)


def _https(site, path, method="GET", body=None, headers=None):
    """(status, headers) of one request from CLIENT_ADDR, TLS verified for TLS_NAME."""
    ctx = tls_context(site)
    conn = http.client.HTTPSConnection(TLS_NAME, 443, timeout=30, context=ctx)
    raw = socket.create_connection((HOST, 443), 30, source_address=(CLIENT_ADDR, 0))
    conn.sock = ctx.wrap_socket(raw, server_hostname=TLS_NAME)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def test_http_surface_and_login_throttle(site):
    """C3: "/" redirects to /webmail/; only Roundcube's entry point runs and only its static
    files are served (other PHP, configuration, SQL, installer: 404); the session cookie is
    Secure, HttpOnly, SameSite=Strict on /webmail/; login POSTs from one address beyond 20 a
    minute (burst 10) get 429 from nginx, while pages still load."""
    status, headers = _https(site, "/")
    assert status == 302 and headers["location"].endswith("/webmail/"), (status, headers)
    status, headers = _https(site, "/webmail/")
    assert status == 200
    cookie = headers.get("set-cookie", "")
    assert "emailng_webmail=" in cookie and "path=/webmail/" in cookie and "secure" in cookie.lower() \
        and "httponly" in cookie.lower() and "samesite=strict" in cookie.lower(), cookie
    assert _https(site, "/webmail/skins/elastic/styles/styles.min.css")[0] == 200
    for path in ("/webmail/plugins/password/password.php", "/webmail/plugins/password/config.inc.php",
                 "/webmail/program/include/iniset.php", "/webmail/installer/", "/webmail/config/config.inc.php",
                 "/webmail/SQL/sqlite.initial.sql", "/webmail/.htaccess", "/webmail/logs/errors.log",
                 "/webmail/index.php/../../config.inc.php"):
        assert _https(site, path)[0] == 404, path

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    statuses = [_https(site, "/webmail/?_task=login", "POST", "_user=nobody%40example.test&_pass=x", form)[0]
                for _ in range(14)]
    assert 429 not in statuses[:10], statuses
    assert statuses[-1] == 429, statuses
    assert _https(site, "/webmail/")[0] == 200


def _toolbar_click(driver, css_class):
    """Clicks the visible toolbar button of that class (e.g. junk, archive)."""
    def button(d):
        for b in d.find_elements(By.CSS_SELECTOR, "#toolbar-menu a.%s, .toolbar a.%s" % (css_class, css_class)):
            if b.is_displayed() and "disabled" not in (b.get_attribute("class") or ""):
                return b
        return None
    _wait(driver, button, "an enabled %s button" % css_class).click()


def _mailbox_of(site, user, pw, mid, mailboxes):
    m = imap_connect(site, user, pw)
    try:
        return [mb for mb in mailboxes if imap_find(m, mid, mb)]
    finally:
        m.logout()


def _spam_lists(site, user):
    """`emailng user spam USER` (no change): {"allow": [...], "deny": [...]}."""
    return spam_lists(site.run("user", "spam", user, check=True).out)


def _wait_lists(site, user, want):
    wait_lists(lambda: _spam_lists(site, user), user, want, WAIT)


def test_junk_and_archive(site, browser):
    """C3: the Junk button (markasjunk) moves the open message to Junk with the $Junk keyword and
    puts its sender on the user's deny list (`emailng user spam`, through emailng-junklist);
    "Not junk" in Junk moves it back to INBOX and puts the sender on the allow list instead.
    The Archive button moves another one to Archive (made on first use)."""
    user, pw = site.new_user(prefix="wmjunk")
    sender = "Junk.Sender@example.test"
    mids = [msgid(), msgid()]
    for n, mid in enumerate(mids):
        smtp_send(sender, [user],
                  make_message(sender, user, mid, subject="webmail %s %d" % ("junk archive".split()[n], n))[0])
        wait_for_message(site, user, mid, password=pw)
    assert _spam_lists(site, user) == {"allow": [], "deny": []}
    assert login(browser, user, pw)
    for n, (mid, button, target) in enumerate(zip(mids, ("junk", "archive"), ("Junk", "Archive"))):
        uid = inbox_uid(browser, "webmail %s %d" % (button, n))
        browser.get(BASE + "?_task=mail&_mbox=INBOX&_action=show&_uid=" + uid)
        _toolbar_click(browser, button)
        deadline = time.monotonic() + WAIT
        while _mailbox_of(site, user, pw, mid, ["INBOX", target]) != [target]:
            assert time.monotonic() < deadline, "%s not moved to %s" % (mid, target)
            time.sleep(0.5)
    m = imap_connect(site, user, pw)
    try:
        m.select("Junk", readonly=True)
        typ, data = m.uid("SEARCH", "KEYWORD", "$Junk")
        assert typ == "OK" and len(data[0].split()) == 1, data
    finally:
        m.logout()
    _wait_lists(site, user, {"allow": [], "deny": ["junk.sender@example.test"]})

    uid = inbox_uid(browser, "webmail junk 0", mbox="Junk")
    browser.get(BASE + "?_task=mail&_mbox=Junk&_action=show&_uid=" + uid)
    _toolbar_click(browser, "notjunk")
    deadline = time.monotonic() + WAIT
    while _mailbox_of(site, user, pw, mids[0], ["INBOX", "Junk"]) != ["INBOX"]:
        assert time.monotonic() < deadline, "%s not moved back to INBOX" % mids[0]
        time.sleep(0.5)
    _wait_lists(site, user, {"allow": ["junk.sender@example.test"], "deny": []})
    log = open(os.path.join(site.state, "log", "mail", "junklist.log")).read()
    assert re.search(r'user="%s" verdict="spam" sender="junk.sender@example.test" result="added"' % re.escape(user),
                     log), log[-2000:]
    assert re.search(r'user="%s" verdict="ham" sender="junk.sender@example.test" result="added"' % re.escape(user),
                     log), log[-2000:]


def _junklist_request(site, line):
    path = os.path.join(site.state, "run", "mail", "roundcube", "junklist.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    try:
        s.sendall(line)
        return s.makefile("rb").readline().decode().strip()
    finally:
        s.close()


def test_junklist_refuses(site):
    """C3: emailng-junklist's socket is root's and www-data's only; it writes no list for a
    sender the user holds no mail from (whoever controls the web tier cannot fill anyone's
    lists at will), nor for a malformed or overlong request; the lists stay empty."""
    sock = os.stat(os.path.join(site.state, "run", "mail", "roundcube", "junklist.sock"))
    assert stat.S_IMODE(sock.st_mode) == 0o660 and sock.st_uid == 0 \
        and sock.st_gid == grp.getgrnam("www-data").gr_gid, oct(sock.st_mode)
    user, pw = site.new_user(prefix="wmjl")
    mid = msgid()
    smtp_send("real.sender@example.test", [user], make_message("real.sender@example.test", user, mid)[0])
    wait_for_message(site, user, mid, password=pw)
    for line, why in ((b"spam %s stranger@example.test\n" % user.encode(), "no message from that sender"),
                      (b"ham %s stranger@example.test\n" % user.encode(), "no message from that sender"),
                      (b"spam nobody-here@example.test real.sender@example.test\n", "no message from that sender"),
                      (b"spam %s (mail=*)@example.test\n" % user.encode(), "sender"),
                      (b"deny %s real.sender@example.test\n" % user.encode(), "unknown verdict"),
                      (b"spam %s " % user.encode() + b"a" * 600 + b"@example.test\n", "expected one line")):
        answer = _junklist_request(site, line)
        assert answer.startswith("500 ") and why in answer, (line[:80], answer)
    assert _spam_lists(site, user) == {"allow": [], "deny": []}
    # www-data's own view: the report mode Roundcube runs, for a sender the user has mail from.
    r = subprocess.run(["setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups",
                        os.path.join(os.path.dirname(EMAILNG), "emailng-junklist"), "--report", "--socket",
                        os.path.join(site.state, "run", "mail", "roundcube", "junklist.sock"),
                        "spam", user, "Real.Sender@example.test"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "added to the deny list" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert _spam_lists(site, user) == {"allow": [], "deny": ["real.sender@example.test"]}


def _https_page(site, path, body, headers):
    """(status, body text) of one POST from the browser's own address (HOST: Roundcube's
    ip_check binds a session to its client's address), TLS verified for TLS_NAME."""
    ctx = tls_context(site)
    conn = http.client.HTTPSConnection(TLS_NAME, 443, timeout=30, context=ctx)
    raw = socket.create_connection((HOST, 443), 30, source_address=(HOST, 0))
    conn.sock = ctx.wrap_socket(raw, server_hostname=TLS_NAME)
    try:
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def _folders(site, user, password):
    m = imap_connect(site, user, password)
    try:
        typ, listed = m.list()
        assert typ == "OK", listed
        return b"\n".join(listed).decode()
    finally:
        m.logout()


def test_action_without_request_token_is_refused(site, browser):
    """C3, CSRF: after a valid login, a POST of a Roundcube action (settings/save-folder, which
    creates a folder) carrying the session cookies but not Roundcube's request token (`_token`,
    nor its X-Roundcube-Request header) is refused and creates nothing; the same POST with the
    session's token creates the folder (so it is the token that was missing, nothing else)."""
    user, password = site.new_user(prefix="wmcsrf")
    assert login(browser, user, password)
    token = browser.execute_script("return rcmail.env.request_token")
    assert token, "no request token in the page"
    cookies = "; ".join("%s=%s" % (c["name"], c["value"]) for c in browser.get_cookies())
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies}
    path = "/webmail/?_task=settings&_action=save-folder"
    for body in ("_name=CsrfForged&_parent=&_mbox=", "_name=CsrfForged&_parent=&_mbox=&_token=not-the-token"):
        status, page = _https_page(site, path, body, headers)
        # Roundcube's error page for its CSRF check (rcmail::request_security_check: 403).
        assert '"server_error":403' in page and "request check failed" in page.lower(), (body, status, page[:2000])
    assert "CsrfForged" not in _folders(site, user, password)
    # Control: the same request with the session's token does create the folder.
    status, page = _https_page(site, path, "_name=CsrfHonest&_parent=&_mbox=&_token=" + token, headers)
    assert status == 200 and '"server_error"' not in page, (status, page[:2000])
    assert "CsrfHonest" in _folders(site, user, password)
    assert "CsrfForged" not in _folders(site, user, password)
