#!/usr/bin/python3
"""bench/pairs/move_rate.py: how fast `emailng user move` moves a mailbox
between store pairs (issue 15, A2).

A user on pair1 gets N messages (default 10,000, about 3 KB each)
APPENDed through the proxies; then `emailng user move USER pair2` runs
while nobody works on the mailbox, and the figures it prints are shown:
the copy (messages/s, MB/s: dsync from pair1's active store to pair2's)
and the whole move (copy, switch, final sync, waiting until both stores
of pair2 hold everything, removal on pair1).

Run as root from the repository after `make`:
    /usr/bin/python3 bench/pairs/move_rate.py [N] [--state DIR]
Without --state it brings up the site of tests/e2e_pairs (examples/
ha-site.yaml with store3/store4 as pair2, the relays' test signatures)
in a temporary state directory and takes it down at the end; with
--state it uses a running site that has pair1 and pair2.
"""

import argparse
import importlib.util
import imaplib
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.path.join(REPO, "build", "emailng")
ENV = dict(os.environ, EMAILNG_DATADIR=REPO)
PASSWORD = "bench-move-Secret-1"


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fabric_prefix(state):
    """The fabric's name for a state directory (src/emailng/fabric.c: FNV-1a)."""
    h = 2166136261
    for b in state.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return "en%08x" % h


def emailng(state, *args, input=None):
    cp = subprocess.run([EMAILNG, "--state", state, *args], input=input, capture_output=True, text=True,
                        timeout=3600, env=ENV)
    if cp.returncode != 0:
        sys.exit("emailng %s failed:\n%s%s" % (" ".join(args), cp.stdout, cp.stderr))
    return cp.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=10000)
    ap.add_argument("--state")
    a = ap.parse_args()
    ha = load("e2e_ha_conftest", os.path.join(REPO, "tests", "e2e_ha", "conftest.py"))
    pairs = load("e2e_pairs_conftest", os.path.join(REPO, "tests", "e2e_pairs", "conftest.py"))
    state = a.state
    own = state is None
    if own:
        state = tempfile.mkdtemp(prefix="emailng-bench-pairs-")
        os.chmod(state, 0o755)
        one = ha.site_file(state)
        emailng(state, "up", "--site", pairs.two_pairs_file(state, one))
    try:
        fabric = fabric_prefix(state)
        local = "bench%s" % uuid.uuid4().hex[:6]
        user = "%s@%s" % (local, ha.DOMAIN)
        emailng(state, "user", "add", local, "--pair", "pair1", "--password-stdin", input=PASSWORD + "\n")
        # The client side: the fabric's client namespace.
        ns = os.open("/run/netns/%s-client" % fabric, os.O_RDONLY)
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        ha._setns(ns)
        t0 = time.time()
        m = imaplib.IMAP4(ha.HOSTS["proxy1"], 143, timeout=60)
        m.host = ha.TLS_NAME
        m.starttls(ssl_context=ssl.create_default_context(cafile=os.path.join(state, "tls", "ca.crt")))
        m.login(user, PASSWORD)
        body = "x" * 2900 + "\r\n"
        for i in range(a.n):
            msg = ("From: someone@outside.test\r\nTo: %s\r\nSubject: bench %d\r\nMessage-ID: <bench.%d.%s@outside.test>"
                   "\r\n\r\n%s" % (user, i, i, uuid.uuid4().hex, body))
            typ, _ = m.append("INBOX", None, None, msg.encode())
            if typ != "OK":
                sys.exit("APPEND %d failed" % i)
        m.logout()
        ha._setns(home)
        print("appended %d messages in %.1f s" % (a.n, time.time() - t0))
        t0 = time.time()
        out = emailng(state, "user", "move", user, "pair2")
        print(out, end="")
        print("move of %d messages: %.1f s in all" % (a.n, time.time() - t0))
    finally:
        if own:
            subprocess.run([EMAILNG, "--state", state, "down"], capture_output=True, env=ENV)
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
