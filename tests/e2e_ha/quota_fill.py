"""Quota warnings (issue 13, U2) on the full topology: helpers shared by
tests/e2e_ha/test_quota_warning.py and tests/e2e_pairs/test_quota_pairs.py.

A user with a small quota is filled by IMAP APPEND through the proxies
(the quota counts every save). The notices are counted by Subject in the
user's INBOX on each store itself (doveadm in the store's namespace, its
own configuration), so "one notice per threshold on both stores" is read,
not assumed; usage as a client sees it comes from GETQUOTAROOT."""

import collections
import imaplib
import os
import re
import ssl
import subprocess

from clients import netns
from conftest import TLS_NAME, resolve
from quota_filler import NOTICE, append_filler, poll


def add_user(site, local, password, quota, *options):
    site.emailng("user", "add", local, "--quota", quota, "--password-stdin", *options,
                 input="%s\n%s\n" % (password, password))


def login(site, user, password):
    """STARTTLS + LOGIN at the first address of the proxies' name."""
    m = imaplib.IMAP4(resolve(TLS_NAME, "A")[0].address, 143, timeout=30)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
    m.login(user, password)
    return m


def append(site, user, password, size, n):
    append_filler(lambda: login(site, user, password), size, n)


def storage_kib(site, user, password):
    """(used, limit) in KiB from GETQUOTAROOT INBOX through the proxies."""
    m = login(site, user, password)
    try:
        typ, data = m.getquotaroot("INBOX")
        assert typ == "OK", data
        found = re.search(rb"STORAGE (\d+) (\d+)", b" ".join(x for x in data[1] if isinstance(x, bytes)))
        assert found, data
        return int(found.group(1)), int(found.group(2))
    finally:
        m.logout()


def store_subjects(site, store, user, mailbox="INBOX"):
    """Counter of the Subjects in the user's mailbox on one store itself."""
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", netns(site, store), "doveadm", "-c", conf, "-f", "flow",
                         "fetch", "-u", user, "hdr.subject", "mailbox", mailbox],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return collections.Counter(m.strip() for m in re.findall(r"hdr\.subject=(?:Subject: )?(.*)", cp.stdout))


def notices(site, store, user):
    """{80: count, 95: count} of quota notices in the user's INBOX on store."""
    subjects = store_subjects(site, store, user)
    return {pct: subjects[NOTICE % pct] for pct in (80, 95)}


def wait_notices(site, stores, user, want, timeout=60):
    """Waits until every store shows want; returns {store: notices}."""
    return poll(lambda: {s: notices(site, s, user) for s in stores},
                lambda got: all(g == want for g in got.values()), timeout, 0.5)


def warning_log_lines(site, store, user):
    """The store's quota-warning.log lines about the user (one per notice it delivered)."""
    path = os.path.join(site.state, "log", store, "quota-warning.log")
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [line for line in f if user in line]
