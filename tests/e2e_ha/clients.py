"""What the outside world does to the full topology, for the failure tests.

A sender on the internet follows the MX records (lowest preference first,
the next one when a relay does not answer or answers 4xx); a mail client
connects to mail.example.test and tries each of its addresses. Messages are
counted by Message-ID in the user's INBOX, so "exactly once" is checked,
not assumed. Host faults are made the way they happen: every process of a
host killed (kill -9 of everything in its network namespace), or packets
dropped between groups of hosts (scripts/fabric.sh partition).
"""

import collections
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time
import uuid

from conftest import DATADIR, DOMAIN, HOSTS, TLS_NAME, resolve

FABRIC = os.path.join(DATADIR, "scripts", "fabric.sh")


# ---- sending -----------------------------------------------------------------

def new_msgid(tag="t"):
    return "<%s.%s@outside.test>" % (tag, uuid.uuid4())


def message(rcpts, msgid, subject="failure test", sender="someone@outside.test"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nbody of %s\r\n"
            % (sender, ", ".join(rcpts), subject, msgid, msgid))


def mx_addresses():
    """The relays' addresses in MX preference order, from the fabric's DNS."""
    out = []
    for mx in sorted(resolve(DOMAIN, "MX"), key=lambda r: r.preference):
        out += [a.address for a in resolve(str(mx.exchange), "A")]
    return out


def send_to(address, rcpts, msgid, timeout=30):
    """One SMTP delivery to one relay; raises on any failure."""
    with smtplib.SMTP(address, 25, local_hostname="client.outside.test", timeout=timeout) as s:
        s.ehlo()
        refused = s.sendmail("someone@outside.test", rcpts, message(rcpts, msgid))
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


def send_by_mx(rcpts, msgid, timeout=15):
    """Deliver as an MTA on the internet does: each MX in turn until one
    takes the message. Returns the address that accepted it."""
    errors = []
    for address in mx_addresses():
        try:
            send_to(address, rcpts, msgid, timeout=timeout)
            return address
        except (OSError, smtplib.SMTPException) as e:
            errors.append("%s: %r" % (address, e))
    raise AssertionError("no MX accepted %s: %s" % (msgid, "; ".join(errors)))


# ---- reading -----------------------------------------------------------------

def imap_login(site, user, address=None):
    """STARTTLS + LOGIN at mail.example.test (each address in turn, as a
    client does), or at one given address. Returns the connection."""
    addresses = [address] if address else [a.address for a in resolve(TLS_NAME, "A")]
    last = None
    for a in addresses:
        try:
            m = imaplib.IMAP4(a, 143, timeout=15)
        except OSError as e:
            last = e
            continue
        m.host = TLS_NAME
        try:
            m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
            m.login(user, site.password(user))
            return m
        except Exception:
            try:
                m.shutdown()
            except Exception:
                pass
            raise
    raise OSError("no address of %s answered: %r" % (TLS_NAME, last))


def message_ids(site, user, mailbox="INBOX"):
    """Counter of the Message-IDs in the mailbox."""
    m = imap_login(site, user)
    try:
        typ, _ = m.select(mailbox, readonly=True)
        assert typ == "OK", mailbox
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        ids = collections.Counter()
        if typ != "OK":
            return ids
        for item in data:
            if isinstance(item, tuple):
                found = re.search(rb"<[^>]+>", item[1])
                if found:
                    ids[found.group(0).decode()] += 1
        return ids
    finally:
        try:
            m.logout()
        except Exception:
            pass


def wait_delivered(site, user, msgids, timeout):
    """Waits until every msgid is in the user's INBOX; returns the counts
    (each must then be exactly 1: asserted by the caller's check)."""
    deadline = time.time() + timeout
    ids = collections.Counter()
    while time.time() < deadline:
        try:
            ids = message_ids(site, user)
        except (OSError, imaplib.IMAP4.error):
            ids = collections.Counter()
        if all(ids[i] >= 1 for i in msgids):
            return ids
        time.sleep(1)
    return ids


def wait_same(read, expected, timeout, interval=2.0):
    """Reads again (e.g. a store's copy that replication brings) until it
    equals expected or timeout seconds passed; returns the last reading
    for the caller to assert on."""
    deadline = time.monotonic() + timeout
    while True:
        seen = read()
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(interval)


def assert_exactly_once(ids, msgids, what=""):
    missing = [i for i in msgids if ids[i] == 0]
    twice = {i: ids[i] for i in msgids if ids[i] > 1}
    assert not missing and not twice, "%s: %d of %d missing %s; duplicated %s" % (
        what, len(missing), len(msgids), missing[:5], twice)


# ---- faults ------------------------------------------------------------------

def netns(site, host):
    return "%s-%s" % (site.prefix, host)


def kill_host(site, host):
    """kill -9 of every process of the host (all of its network namespace):
    the host has crashed. Returns the number of processes killed."""
    pids = subprocess.run(["ip", "netns", "pids", netns(site, host)], capture_output=True,
                          text=True, check=True).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), 9)
        except ProcessLookupError:
            pass
    # Until every one is gone from the process table (reaped, not a zombie
    # whose pid a daemon's pid-file check would still find alive).
    deadline = time.time() + 10
    left = [int(p) for p in pids]
    while left and time.time() < deadline:
        time.sleep(0.1)
        left = [p for p in left if os.path.exists("/proc/%d" % p)]
    assert not left, "processes of %s still there after kill -9: %s" % (host, left)
    return len(pids)


def restart(site):
    """What the administrator runs: `emailng up` starts whatever is down."""
    site.emailng("up")


def fabric(site, *args):
    subprocess.run(["sh", FABRIC, args[0], site.prefix, *args[1:]], check=True,
                   capture_output=True, text=True, timeout=60)


INSIDE = "proxy1,proxy2,store1,store2,dir1"


def queue_size(site, host):
    """Messages in a host's Postfix queue, from `emailng status --json`."""
    import json
    st = json.loads(site.emailng("status", "--json", "--host", host, check=False).stdout)
    for h in st["hosts"]:
        for s in h["services"]:
            if s["name"] == "postfix" and s.get("queue") is not None:
                return s["queue"]
    return None


# ---- logs --------------------------------------------------------------------

MAIL_LOGS = [(h, "postfix.log") for h in ("relay1", "relay2", "store1", "store2")]


class LogMark:
    """Offsets of the MTAs' logs now, to read only what is written later."""

    def __init__(self, site, logs=MAIL_LOGS):
        self.site = site
        self.offsets = {}
        for host, name in logs:
            path = site.local_path(host, "log", host, name)
            self.offsets[(host, name)] = os.path.getsize(path) if os.path.exists(path) else 0

    def since(self, host, name="postfix.log"):
        path = self.site.local_path(host, "log", host, name)
        with open(path, errors="replace") as f:
            f.seek(self.offsets.get((host, name), 0))
            return f.read()

    def bounces(self):
        """Every 'status=bounced' line of the MTAs since the mark."""
        return [line for host, name in MAIL_LOGS for line in self.since(host, name).splitlines()
                if "status=bounced" in line]


def tcp_open(address, port, timeout=2):
    try:
        socket.create_connection((address, port), timeout=timeout).close()
        return True
    except OSError:
        return False


__all__ = ["HOSTS", "new_msgid", "send_by_mx", "send_to", "imap_login", "message_ids",
           "wait_delivered", "assert_exactly_once", "kill_host", "restart", "fabric", "INSIDE",
           "LogMark", "queue_size", "tcp_open"]


# ---- the store pair ----------------------------------------------------------

def active_store(site, proxy, pair="pair1"):
    """The store a proxy sends the pair's users to (emailng-healthd's table
    that the proxy's Dovecot reads)."""
    path = site.local_path(proxy, "data", proxy, "healthd", "pairs.passwd")
    with open(path) as f:
        for line in f:
            if line.startswith(pair + ":"):
                found = re.search(r"host=([0-9.]+)", line)
                return found.group(1) if found else None
    return None


def wait_active(site, store_address, timeout, pair="pair1"):
    """Waits until both proxies send the pair to store_address; returns the
    seconds it took or None."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if all(active_store(site, p, pair) == store_address for p in ("proxy1", "proxy2")):
            return time.time() - t0
        time.sleep(0.2)
    return None


def store_message_ids(site, store, user, mailbox="INBOX"):
    """Counter of Message-IDs in a user's mailbox read on one store itself
    (doveadm in the store's namespace, its own configuration)."""
    conf = site.host_path(store, "etc", store, "dovecot", "dovecot.conf")
    cp = site.netns(store, "doveadm", "-c", conf, "-f", "tab", "fetch", "-u", user, "hdr.message-id",
                    "mailbox", mailbox)
    assert cp.returncode == 0, cp.stderr
    return collections.Counter(re.findall(r"<[^>]+>", cp.stdout))
