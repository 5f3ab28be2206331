"""Many IMAP sessions through a proxy to a store (issue 14, requirement C4).

320 TLS IMAP sessions at proxy1:993 from 20 client addresses (added to the
client namespace for this test only, so the other tests' address
198.18.0.100 keeps its per-user+address counts), alice and bob 8 each per
address (mail_max_userip_connections is 10: the store counts per real
client address, which the proxy passes on), each LOGIN + SELECT INBOX +
IDLE. On Debian's defaults both ends stop at 100: the proxy's imap-login
carries every session in a process of its own (process_limit 100), and so
does the store's for the TLS connection from the proxy. Then: the next login
works; every session has left its imap process on the store for
imap-hibernate (imap_hibernate_timeout 5s); the proxy's and the store's
Dovecot are reloaded (SIGHUP, what a certificate renewal does) and the
sessions stay past the 6 s after which Dovecot ends the old configuration's
processes (shutdown_clients = no); a message by MX wakes and reaches every
IDLE session of alice (160 hibernated sessions of one user woken at once);
DONE from all 320 together (a wake-up of every hibernated session) is
answered in each, none was dropped, and neither Dovecot log names a limit
nor a failed unhibernation.
"""

import os
import re
import signal
import time

import ssl
import subprocess

import pytest

from clients import imap_login, new_msgid, send_by_mx
from conftest import HOSTS, TLS_NAME
from imap_load import Load, Session

ADDRESSES = ["198.18.0.%d" % n for n in range(110, 130)]
USERS = ("alice@example.test", "bob@example.test")
PER_USER_ADDRESS = 8
SESSIONS = len(ADDRESSES) * len(USERS) * PER_USER_ADDRESS
IN_FLIGHT = 32
OPEN_TIMEOUT = 180.0
DELIVERY_TIMEOUT = 60.0    # by MX: relay, filter, store Postfix, proxy LMTP, store
RELOAD_SETTLE = 8.0    # seconds after the reloads: Dovecot ends the old processes after 6
LIMIT_WORDS = ("process_limit", "client_limit", "Inotify instance limit", "Inotify watch limit", "fd limit",
               "Maximum number of connections", "Failed to unhibernate client")
HIBERNATE_WAIT = 30.0    # every session in imap-hibernate within this (the timeout is 5 s)


def hibernated(ha, host):
    """Sessions that host's imap-hibernate processes hold (their titles, verbose_proctitle: "...imap-hibernate
    [N connections]"), and its imap processes, among the processes in host's network namespace."""
    ns = os.stat("/run/netns/%s-%s" % (ha.prefix, host)).st_ino
    held = imap = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat("/proc/%s/ns/net" % pid).st_ino != ns:
                continue
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = title.split("/", 1)[1] if title.startswith("dovecot-emailng-") and "/" in title else ""
        if name.startswith("imap-hibernate"):
            found = re.search(r"\[(\d+) connections?\]", name)
            held += int(found.group(1)) if found else 0
        elif name.startswith("imap "):
            imap += 1
    return held, imap


@pytest.fixture
def client_addresses(ha):
    ns = ["ip", "netns", "exec", "%s-client" % ha.prefix]
    added = []
    try:
        for address in ADDRESSES:
            cp = subprocess.run(ns + ["ip", "addr", "add", address + "/24", "dev", "eth0"],
                                capture_output=True, text=True, timeout=30)
            assert cp.returncode == 0, cp.stderr
            added.append(address)
        yield
    finally:
        for address in added:
            subprocess.run(ns + ["ip", "addr", "del", address + "/24", "dev", "eth0"],
                           capture_output=True, text=True, timeout=30)


def reload_dovecot(ha, host):
    with open(os.path.join(ha.state, "run", host, "dovecot", "master.pid")) as f:
        os.kill(int(f.read()), signal.SIGHUP)


def test_320_idle_sessions_through_a_proxy(ha, client_addresses):
    """C4: 320 TLS IMAP IDLE sessions through proxy1 to the store of pair1; none dropped by the limits nor by a
    reload of the proxy's and the store's Dovecot, push reaches them."""
    logs = {h: len(ha.log(h, "dovecot.log")) for h in ("proxy1", "store1", "store2")}
    ctx = ssl.create_default_context(cafile=ha.ca)
    plan = [(a, u) for a in ADDRESSES for u in USERS for _ in range(PER_USER_ADDRESS)]
    load = Load()
    try:
        opened = load.open(plan, lambda p: Session(ctx, HOSTS["proxy1"], TLS_NAME, p[0], p[1], ha.password(p[1])),
                           IN_FLIGHT, OPEN_TIMEOUT)
        failed = [s.error or s.state for s in load.sessions if s.state != "idle"]
        assert not failed and len(load.sessions) == SESSIONS, "%d of %d sessions did not reach IDLE in %.0fs: %s" % (
            len(failed) + SESSIONS - len(load.sessions), SESSIONS, OPEN_TIMEOUT, failed[:5])
        print("\n%d sessions through proxy1 in IDLE after %.1f s" % (SESSIONS, opened))

        m = imap_login(ha, "alice@example.test", HOSTS["proxy1"])
        try:
            assert m.select("INBOX")[0] == "OK"
        finally:
            m.logout()

        # The store holds them in imap-hibernate (other tests' sessions may be there too).
        counts = []
        load.pump(lambda: counts.append(hibernated(ha, "store1")) or counts[-1][0] >= SESSIONS,
                  time.monotonic() + HIBERNATE_WAIT)
        assert counts[-1][0] >= SESSIONS, "store1 after %.0f s: %d sessions in imap-hibernate, %d imap processes" % (
            HIBERNATE_WAIT, *counts[-1])

        # A reload of both ends (the store of pair1 that serves them: store1).
        for host in ("proxy1", "store1"):
            reload_dovecot(ha, host)
        load.pump(lambda: False, time.monotonic() + RELOAD_SETTLE)
        for host in ("proxy1", "store1"):
            assert "SIGHUP received - reloading configuration" in ha.log(host, "dovecot.log")[logs[host]:], host
        closed = [s for s in load.sessions if s.state != "idle"]
        assert not closed, "%d sessions closed by the reloads, e.g. %s" % (
            len(closed), [s.error or s.state for s in closed[:5]])

        send_by_mx(["alice@example.test"], new_msgid("sessions"))
        watchers = [s for s in load.sessions if s.user == "alice@example.test"]
        late = load.wait_pushed(watchers, DELIVERY_TIMEOUT)
        assert not late, "%d of %d IDLE sessions of alice saw no EXISTS within %.0fs" % (
            len(late), len(watchers), DELIVERY_TIMEOUT)

        dropped = load.end_idle()
        assert not dropped, "%d sessions dropped, e.g. %s" % (len(dropped), [s.error or s.state for s in dropped[:5]])
        for host, since in logs.items():
            named = [x for x in ha.log(host, "dovecot.log")[since:].splitlines() if any(w in x for w in LIMIT_WORDS)]
            assert not named, "%s dovecot.log names a limit: %s" % (host, named[:5])
    finally:
        load.close()
