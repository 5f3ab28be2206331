"""The small site's IMAP sessions and imap-hibernate, as `ps` shows them:
shared by the tests of hibernation, many sessions and certificate reloads."""

import os
import re
import time

HIBERNATE_WAIT = 20.0      # a session is in imap-hibernate within this after IDLE


def dovecot_processes():
    """{pid: title} of the Dovecot processes in this network namespace (the
    site's host; other sites may run beside it). Their titles start with the
    instance name, "dovecot-emailng-mail/imap [...]" (verbose_proctitle)."""
    me = os.readlink("/proc/self/ns/net")
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/net" % pid) != me:
                continue
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmd.startswith("dovecot-emailng-mail/"):
            out[int(pid)] = cmd[len("dovecot-emailng-mail/"):]
    return out


def hibernation_state(user):
    """(imap processes serving user, sessions imap-hibernate's titles report)."""
    procs = dovecot_processes().values()
    serving = [c for c in procs if c.startswith("imap ") and user in c]
    held = 0
    for c in procs:
        if c.startswith("imap-hibernate"):
            found = re.search(r"\[(\d+) connections?\]", c)
            held += int(found.group(1)) if found else 0
    return serving, held


def wait_hibernated(user, timeout=HIBERNATE_WAIT):
    """Waits until no imap process serves user (its IDLE sessions are in imap-hibernate); True if so. For a
    test whose sessions block in IDLE (imaplib) and need no pumping meanwhile."""
    deadline = time.monotonic() + timeout
    while hibernation_state(user)[0]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True
