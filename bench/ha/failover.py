#!/usr/bin/python3
"""bench/ha/failover.py: how long users of a killed store wait.

From `kill -9` of every process of store1's Dovecot to the first
successful IMAP LOGIN + SELECT of alice (a user of pair1) through
mail.example.test, resolved by the test fabric's DNS like a real client
(STARTTLS, certificate checked), with a new attempt every 0.1 s. Each run restarts store1 and waits until
both proxies send pair1 to it again. Prints every run, the median and the
worst, beside the monitor's settings and Dovecot poolmon's 30 s check
interval (the reference: docs/healthd.md).

Run as root from the repository after `make`:
    /usr/bin/python3 bench/ha/failover.py [RUNS] [--state DIR]
Without --state it brings examples/ha-site.yaml up in a temporary state
directory and takes it down at the end; with --state it uses a running one.
"""

import ctypes
import imaplib
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.path.join(REPO, "build", "emailng")
ENV = dict(os.environ, EMAILNG_DATADIR=REPO)
USER = "alice@example.test"
STORE1 = "198.18.0.31"
FABRIC_DNS = "198.18.0.53"
POOLMON_INTERVAL_S = 30
_libc = ctypes.CDLL(None, use_errno=True)


def emailng(state, *args):
    cp = subprocess.run([EMAILNG, "--state", state, *args], capture_output=True, text=True, env=ENV, timeout=600)
    if cp.returncode != 0:
        sys.exit("emailng %s failed:\n%s%s" % (" ".join(args), cp.stdout, cp.stderr))
    return cp.stdout


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    if _libc.setns(fd, 0x40000000) != 0:
        sys.exit("setns %s failed" % path)
    os.close(fd)


def dovecot_tree(state):
    with open(os.path.join(state, "run", "store1", "dovecot", "master.pid")) as f:
        master = int(f.read().split()[0])
    tree, unvisited = [], [master]
    while unvisited:
        p = unvisited.pop()
        tree.append(p)
        for e in os.listdir("/proc"):
            if e.isdigit():
                try:
                    with open("/proc/%s/stat" % e) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == p:
                            unvisited.append(int(e))
                except OSError:
                    pass
    return tree


def pair_on_store1(state):
    for proxy in ("proxy1", "proxy2"):
        with open(os.path.join(state, "data", proxy, "healthd", "pairs")) as f:
            if f.read() != "pair1 %s\n" % STORE1:
                return False
    return True


def resolve_mail():
    """mail.example.test's A records from the fabric's DNS (the client's resolver)."""
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [FABRIC_DNS]
    r.lifetime = 2
    return [a.address for a in r.resolve("mail.example.test", "A")]


def login_select(ca, password):
    m = None
    for address in resolve_mail():        # like a client: the next address if one refuses
        try:
            m = imaplib.IMAP4(address, 143, timeout=2)
            break
        except OSError:
            continue
    if m is None:
        raise OSError("no address of mail.example.test answers")
    m.host = "mail.example.test"          # STARTTLS checks the certificate for this name
    try:
        m.starttls(ssl_context=ssl.create_default_context(cafile=ca))
        m.login(USER, password)
        return m.select("INBOX")[0] == "OK"
    finally:
        try:
            m.logout()
        except Exception:
            pass


def settings(state):
    with open(os.path.join(state, "etc", "proxy1", "healthd", "healthd.yaml")) as f:
        text = f.read()
    return {k: int(re.search(r"^%s: (\d+)" % k, text, re.M).group(1))
            for k in ("interval_ms", "timeout_ms", "fail_grace_ms", "recover_grace_ms")}


def main():
    args = sys.argv[1:]
    state = None
    if "--state" in args:
        i = args.index("--state")
        state = args[i + 1]
        del args[i:i + 2]
    runs = int(args[0]) if args else 5
    own_state = state is None
    if own_state:
        state = tempfile.mkdtemp(prefix="emailng-bench-failover-")
        emailng(state, "up", "--site", os.path.join(REPO, "examples", "ha-site.yaml"))
    prefix = re.search(r"(en[0-9a-f]{8})", subprocess.run([EMAILNG, "--state", state, "status", "--json"],
                       capture_output=True, text=True, env=ENV).stdout).group(1)
    with open(os.path.join(state, "secrets", "demo-passwords")) as f:
        password = dict(line.split() for line in f)[USER]
    ca = os.path.join(state, "tls", "ca.crt")
    root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    times = []
    try:
        for run in range(1, runs + 1):
            deadline = time.time() + 30
            while not pair_on_store1(state):
                if time.time() > deadline:
                    sys.exit("pair1 did not return to store1")
                time.sleep(0.2)
            time.sleep(1)
            setns("/run/netns/%s-client" % prefix)
            tree = dovecot_tree(state)
            t0 = time.monotonic()
            for pid in tree:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            # A new attempt every 0.1 s, each in its own thread (one hung on
            # the dead store must not hide the moment logins work again).
            done, attempts = [], 0

            def attempt():
                try:
                    if login_select(ca, password):
                        done.append(time.monotonic())
                except (OSError, imaplib.IMAP4.error):
                    pass

            threads = []
            while not done:
                if time.monotonic() - t0 > 60:
                    sys.exit("no login within 60 s")
                attempts += 1
                t = threading.Thread(target=attempt, daemon=True)
                t.start()
                threads.append(t)
                time.sleep(0.1)
            for t in threads:
                t.join(15)
            took = min(done) - t0
            times.append(took)
            _libc.setns(root_ns, 0x40000000)
            print("run %d: kill -9 of store1's Dovecot -> alice's LOGIN+SELECT through mail.example.test "
                  "works after %.2f s (%d attempts)" % (run, took, attempts), flush=True)
            cp = subprocess.run(["ip", "netns", "exec", "%s-store1" % prefix, EMAILNG, "--state", state, "--site",
                                 os.path.join(state, "site.yaml"), "--host", "store1", "up"],
                                capture_output=True, text=True, env=ENV)
            if cp.returncode != 0:
                sys.exit("store1 did not come back:\n" + cp.stdout + cp.stderr)
        s = settings(state)
        print("failover over %d runs: median %.2f s, worst %.2f s" % (runs, statistics.median(times), max(times)))
        print("emailng-healthd: probes every %d ms (round deadline %d ms), down after %d ms of failed probes, "
              "back after %d ms of good ones" % (s["interval_ms"], s["timeout_ms"], s["fail_grace_ms"],
                                                 s["recover_grace_ms"]))
        print("reference: Dovecot poolmon checks every %d s (a crash waits up to %d s + its check)"
              % (POOLMON_INTERVAL_S, POOLMON_INTERVAL_S))
    finally:
        _libc.setns(root_ns, 0x40000000)
        if own_state:
            subprocess.run([EMAILNG, "--state", state, "down"], capture_output=True, env=ENV)
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
