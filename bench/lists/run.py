#!/usr/bin/env python3
"""List delivery to 2,000 members (U4; issue 13 "Tests and measure"):
messages/s into the mailboxes through a mailing list, beside the same 2,000
recipients in one direct SMTP message.

Usage (root): bench/lists/run.py [--members 2000] [--rounds 3]

A small site of its own (`emailng up --site` in its own network namespace
and state directory, removed at the end) with filtering off (the content
filter runs once per message either way and is measured by bench/pipeline),
and the unauthenticated send limits lifted so that the direct message may
name 2,000 recipients. The members are made with one ldapadd (2,000 `user
add` would measure the CLI), then one open list gets them all.

Each round, after a warm-up that creates every mailbox:
  list    one message from port 25 to the list: border policy (the list's
          quota check over its members), the list's pipe
          (emailng-list-deliver), reinjection, expansion, LMTP
  direct  one message from port 25 to the 2,000 addresses (two SMTP
          transactions of 1,000 in one session: Postfix's
          smtpd_recipient_limit), expansion-free, LMTP
and the time from the first SMTP connection to the last of the 2,000 LMTP
deliveries in Postfix's log (status=sent). Printed: per path the median
deliveries/s over the rounds, and the ratio list/direct.
"""

import argparse
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
DOMAIN = "example.test"

SITE = """\
site: {name: bench-lists}
domains: [example.test]
directory: {base: "dc=example,dc=test"}
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
tls: {names: [mail.example.test, localhost, 127.0.0.1]}
quota: {default: 1G, grace: 10%}
limits: {message_size: 25M}
demo_users: true
filter: {enabled: false}
policy:
  limits:
    client: {msgs_per_hour: 0, rcpts_per_msg: 0, rcpts_per_day: 0}
"""


def sh(*argv, check=True, **kw):
    r = subprocess.run(argv, text=True, capture_output=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit("%s failed (%d):\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def emailng(ns, state, *args):
    return sh("ip", "netns", "exec", ns, EMAILNG, "--state", state, *args,
              env=dict(os.environ, EMAILNG_DATADIR=REPO))


def add_members(state, n):
    uri = "ldapi://" + urllib.parse.quote(os.path.join(state, "run", "mail", "ldapi"), safe="")
    entries = []
    members = []
    for i in range(n):
        local = "m%04d" % i
        addr = "%s@%s" % (local, DOMAIN)
        members.append(addr)
        entries.append("dn: mail=%s,ou=users,dc=example,dc=test\n"
                       "objectClass: inetOrgPerson\nobjectClass: emailngMailUser\n"
                       "mail: %s\nuid: %s\ncn: %s\nsn: %s\nemailngAccountStatus: active\n"
                       "emailngEnabledService: lmtp\nemailngEnabledService: imap\n" % (addr, addr, addr, local, local))
    sh("ldapadd", "-Q", "-Y", "EXTERNAL", "-H", uri, input="\n".join(entries))
    return members


class Log:
    """Counts Postfix's LMTP deliveries (status=sent) after a mark."""

    def __init__(self, state):
        self.path = os.path.join(state, "log", "mail", "postfix.log")

    def mark(self):
        self.offset = os.path.getsize(self.path)

    def delivered(self):
        with open(self.path, errors="replace") as f:
            f.seek(self.offset)
            return sum(1 for line in f if "/lmtp[" in line and "status=sent" in line)


def wait_delivered(log, n, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = log.delivered()
        if got >= n:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit("only %d of %d delivered after %ds" % (log.delivered(), n, timeout))


def message(to, tag):
    return ("From: <bench@outside.test>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s.%f@outside.test>\r\n\r\n"
            % (to, tag, tag, time.time()) + "x" * 70 + "\r\n") * 1


def send_list(lst):
    with smtplib.SMTP("127.0.0.1", 25, local_hostname="client.outside.test", timeout=300) as s:
        assert s.sendmail("bench@outside.test", [lst], message(lst, "list")) == {}


def send_direct(members):
    text = message("undisclosed-recipients:;", "direct")
    with smtplib.SMTP("127.0.0.1", 25, local_hostname="client.outside.test", timeout=300) as s:
        for i in range(0, len(members), 1000):
            assert s.sendmail("bench@outside.test", members[i:i + 1000], text) == {}


def run_in_ns(ns):
    """Re-run this script inside the namespace (the SMTP clients must be there)."""
    fd = os.open("/run/netns/%s" % ns, os.O_RDONLY)
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespace)")
    ns = "emailng-bench-lists-%d" % os.getpid()
    state = tempfile.mkdtemp(prefix="emailng-bench-lists-")
    os.chmod(state, 0o755)
    site = os.path.join(state, "site.yaml")
    with open(site, "w") as f:
        f.write(SITE)
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        emailng(ns, state, "up", "--site", site)
        members = add_members(state, a.members)
        lst = "bench@%s" % DOMAIN
        emailng(ns, state, "list", "create", lst, "--policy", "open", "--owner", "alice@%s" % DOMAIN)
        emailng(ns, state, "list", "add", lst, *members)
        run_in_ns(ns)
        log = Log(state)
        log.mark()
        send_list(lst)                  # warm-up: every mailbox is created
        wait_delivered(log, a.members)
        rates = {"list": [], "direct": []}
        for r in range(a.rounds):
            for path in ("list", "direct"):
                time.sleep(2)
                log.mark()
                t0 = time.monotonic()
                send_list(lst) if path == "list" else send_direct(members)
                t1 = wait_delivered(log, a.members)
                rates[path].append(a.members / (t1 - t0))
                print("round %d %-6s %7.1f deliveries/s (%.2f s)" % (r + 1, path, rates[path][-1], t1 - t0),
                      flush=True)
        ml, md = statistics.median(rates["list"]), statistics.median(rates["direct"])
        print("\n%d members, %d rounds, load average %.2f" % (a.members, a.rounds, os.getloadavg()[0]))
        print("list    %7.1f deliveries/s (median)" % ml)
        print("direct  %7.1f deliveries/s (median)" % md)
        print("list/direct %.2f" % (ml / md))
    finally:
        subprocess.run(["ip", "netns", "exec", ns, EMAILNG, "--state", state, "down"],
                       env=dict(os.environ, EMAILNG_DATADIR=REPO), capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
