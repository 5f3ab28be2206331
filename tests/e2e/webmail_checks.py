"""C3: the webmail checks shared by the small site's tests
(tests/e2e/test_webmail.py) and, through a symbolic link, the full
topology's (tests/e2e_ha/test_webmail.py): a real headless Chromium
(python3-selenium, chromium-driver) pinned to the key the site's HTTPS
serves, waiting on the page, emailng-passwd's poppassd dialogue, and the
user's allow / deny lists as `emailng user spam` prints them."""

import base64
import hashlib
import socket
import subprocess
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def spki_pin(pem):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate (bytes):
    Chromium trusts exactly that key (its own store knows no site CA)."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem, capture_output=True,
                         check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True,
                         check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def chromium(name, address, pin, profile, page_load_timeout):
    """A headless Chromium that finds name at address and trusts the key pin."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--host-resolver-rules=MAP %s %s" % (name, address),
                "--ignore-certificate-errors-spki-list=" + pin, "--user-data-dir=" + profile):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(page_load_timeout)
    return driver


def wait_for(driver, cond, what, timeout):
    """cond's first true value within timeout, else an error with the page."""
    try:
        return WebDriverWait(driver, timeout).until(cond)
    except TimeoutException:
        raise AssertionError("browser: %s not within %ss; at %s\n%s" % (
            what, timeout, driver.current_url, driver.page_source[:3000]))


def change_password(driver, base, current, new, timeout):
    """Changes the logged-in user's password on Roundcube's password page
    (base: the webmail's URL); returns once it says the password is saved."""
    driver.get(base + "?_task=settings&_action=plugin.password")
    wait_for(driver, lambda d: d.find_elements(By.NAME, "_curpasswd"), "the password form", timeout)
    driver.find_element(By.NAME, "_curpasswd").send_keys(current)
    driver.find_element(By.NAME, "_newpasswd").send_keys(new)
    driver.find_element(By.NAME, "_confpasswd").send_keys(new)
    driver.find_element(By.XPATH, "//button[normalize-space()='Save']").click()
    wait_for(driver, lambda d: "Successfully saved" in d.page_source, "the password saved", timeout)


def passwd_dialogue(path, lines):
    """emailng-passwd's poppassd dialogue over its socket at path; returns its
    answers (the greeting, then one per line sent until one is refused)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    f = s.makefile("rb")
    answers = [f.readline().decode().strip()]
    try:
        for line in lines:
            s.sendall(line.encode() + b"\r\n")
            answers.append(f.readline().decode().strip())
            if not answers[-1].startswith(("2", "3")):
                break
    finally:
        s.close()
    return answers


def spam_lists(printed):
    """`emailng user spam USER`'s output as {"allow": [...], "deny": [...]}."""
    lists = {}
    for line in printed.splitlines():
        label, _, rest = line.partition(": ")
        if label in ("allow", "deny"):
            lists[label] = [] if rest == "none" else rest.split(", ")
    return lists


def wait_lists(read_lists, user, want, timeout):
    """Until read_lists() (user's lists) is want, at most timeout seconds."""
    deadline = time.monotonic() + timeout
    while (got := read_lists()) != want:
        assert time.monotonic() < deadline, "lists of %s: %r, expected %r" % (user, got, want)
        time.sleep(0.5)
