#!/usr/bin/env python3
"""Delivered messages per second through the full topology beside the small
site, in one run on the same machine, with the same load.

Full topology (examples/ha-site.yaml in the test fabric): client namespace
-> MX relay1 (198.18.0.11:25) -> store1's Postfix -> LMTP through a proxy
-> store1's Dovecot (Sieve, mdbox). Small site (examples/small-site.yaml in
its own network namespace and state directory, as tests/e2e runs it):
127.0.0.1:25 -> LMTP -> Dovecot, one host. Load: Postfix's smtp-source
(MESSAGES messages of SIZE bytes over SESSIONS parallel sessions) to
alice@example.test, a fresh mailbox in a fresh state directory; a message
counts as delivered when it is in alice's INBOX or Junk (doveadm mailbox
status on the store), and the rate is messages / (first connection -> last
message stored). Each profile runs with the content filter off and, with
--filter, also on (ClamAV with the built-in test signatures when
/var/lib/clamav is empty, as on both sites).

Usage (root, after make): python3 bench/ha/throughput.py [--messages N]
    [--sessions S] [--size BYTES] [--filter]
Nothing is left behind: every state directory and namespace is removed.
"""

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
ENV = dict(os.environ, EMAILNG_DATADIR=os.environ.get("EMAILNG_DATADIR", REPO))
USER = "alice@example.test"
DELIVERY_TIMEOUT = 900


def netns(ns, *argv, check=True):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], check=check, text=True, capture_output=True,
                          env=ENV)


def mailbox_count(ns, conf):
    total = 0
    for box in ("INBOX", "Junk"):
        r = netns(ns, "doveadm", "-c", conf, "mailbox", "status", "-u", USER, "messages", box, check=False)
        m = re.search(r"messages=(\d+)", r.stdout)
        if r.returncode == 0 and m:
            total += int(m.group(1))
    return total


def load(client_ns, server, store_ns, conf, a):
    """smtp-source from client_ns to server; seconds until all are accepted
    and until all are stored."""
    t0 = time.monotonic()
    netns(client_ns, "smtp-source", "-s", str(a.sessions), "-m", str(a.messages), "-l", str(a.size),
          "-f", "bench@outside.test", "-t", USER, "-S", "bench message", server)
    accepted = time.monotonic() - t0
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        n = mailbox_count(store_ns, conf)
        if n >= a.messages:
            break
        if time.monotonic() > deadline:
            raise SystemExit("only %d of %d messages stored after %d s" % (n, a.messages, DELIVERY_TIMEOUT))
        time.sleep(0.2)
    delivered = time.monotonic() - t0
    if n != a.messages:
        raise SystemExit("%d messages stored, %d sent" % (n, a.messages))
    return accepted, delivered


def small_site(filter_on, a):
    with open(os.path.join(REPO, "examples", "small-site.yaml")) as f:
        text = f.read()
    switch = "  enabled: true                 # amavisd-new"
    assert switch in text, "examples/small-site.yaml: filter switch changed"
    text = text.replace(switch, switch.replace("true", "true " if filter_on else "false"), 1)
    ns = "emailng-tput-%d" % os.getpid()
    state = tempfile.mkdtemp(prefix="emailng-bench-small-")
    os.chmod(state, 0o755)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        site = os.path.join(state, "bench-site.yaml")
        with open(site, "w") as f:
            f.write(text)
        r = netns(ns, EMAILNG, "--state", state, "up", "--site", site, check=False)
        if r.returncode != 0:
            raise SystemExit("small site: emailng up failed:\n%s%s" % (r.stdout, r.stderr))
        return load(ns, "127.0.0.1:25", ns, os.path.join(state, "etc", "mail", "dovecot", "dovecot.conf"), a)
    finally:
        netns(ns, EMAILNG, "--state", state, "down", check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


def full_topology(filter_on, a):
    with open(os.path.join(REPO, "examples", "ha-site.yaml")) as f:
        text = f.read()
    switch = "filter:\n  enabled: true\n"
    assert switch in text, "examples/ha-site.yaml: filter switch changed"
    text = text.replace(switch, "filter:\n  enabled: %s\n" % ("true" if filter_on else "false"), 1)
    state = tempfile.mkdtemp(prefix="emailng-bench-full-")
    os.chmod(state, 0o755)
    site = os.path.join(state, "bench-site.yaml")
    with open(site, "w") as f:
        f.write(text)
    try:
        r = subprocess.run([EMAILNG, "--state", state, "up", "--site", site], text=True, capture_output=True,
                           env=ENV)
        if r.returncode != 0:
            raise SystemExit("full topology: emailng up failed:\n%s%s" % (r.stdout, r.stderr))
        prefix = re.search(r"test fabric (en[0-9a-f]{8})", r.stdout).group(1)
        return load(prefix + "-client", "198.18.0.11:25", prefix + "-store1",
                    os.path.join(state, "etc", "store1", "dovecot", "dovecot.conf"), a)
    finally:
        subprocess.run([EMAILNG, "--state", state, "down"], capture_output=True, env=ENV)
        shutil.rmtree(state, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--filter", action="store_true", help="also run both profiles with the content filter on")
    a = ap.parse_args()
    print("bench/ha/throughput: %d messages of %d bytes, %d parallel SMTP sessions, %d cores"
          % (a.messages, a.size, a.sessions, os.cpu_count()))
    modes = [False, True] if a.filter else [False]
    rows = []
    for filter_on in modes:
        small = small_site(filter_on, a)
        full = full_topology(filter_on, a)
        rows.append((filter_on, small, full))
    print("%-12s %-34s %-34s %s" % ("filter", "small site (1 host)", "full topology (7 hosts)", "full/small"))
    for filter_on, small, full in rows:
        cell = lambda r: "%6.1f msg/s (accepted %5.1f s, stored %5.1f s)" % (a.messages / r[1], r[0], r[1])
        print("%-12s %-34s %-34s %.2f" % ("on" if filter_on else "off", cell(small), cell(full),
                                          small[1] / full[1]))


if __name__ == "__main__":
    main()
