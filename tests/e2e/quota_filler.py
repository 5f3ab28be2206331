"""Quota warnings (issue 13, U2): filling a mailbox and waiting for the
notices, shared by the small site's tests (tests/e2e/test_quota_warning.py)
and, through a symbolic link, the full topology's helpers
(tests/e2e_ha/quota_fill.py, which tests/e2e_pairs uses too). The quota
counts every save, so the mailbox is filled by IMAP APPEND over whatever
logged-in connection the caller's `login()` opens."""

import time

NOTICE = "Your mailbox is %d%% full"


def filler(n, size):
    """Message n, about size bytes, with a Message-ID of its own."""
    head = ("From: carol@outside.test\r\nTo: someone@example.test\r\nSubject: filler %d\r\n"
            "Message-ID: <filler-%d-%d@quota.test>\r\n\r\n" % (n, n, time.time_ns()))
    line = "x" * 78 + "\r\n"
    return (head + line * ((size - len(head)) // len(line))).encode()


def append_filler(login, size, n):
    """APPENDs filler(n, size) to INBOX over login() (an IMAP4 logged in as the user)."""
    m = login()
    try:
        typ, data = m.append("INBOX", None, None, filler(n, size))
        assert typ == "OK", data
    finally:
        m.logout()


def poll(read, done, timeout, interval):
    """read() until done(reading) or timeout seconds passed; returns the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(interval)
