#!/usr/bin/env python3
"""Delivered messages per second through the whole small-site pipeline
(SMTP in -> clamav-milter -> queue -> amavisd (ClamAV + SpamAssassin) ->
reinjection -> LMTP -> Sieve -> mdbox), beside the same run with filtering
off, on the same machine in one run. Load: Postfix's smtp-source.

Usage (root): bench/filter/run.py [--messages N] [--sessions S] [--size BYTES]
Each mode gets its own network namespace and state directory; nothing is left
behind. Figures: messages/s from the first connection to the last message in
the mailbox (counted with doveadm), the ratio, and the resident memory of the
filtering daemons (emailng status --json).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))


def site_yaml(filter_on, processes=3):
    with open(os.path.join(REPO, "examples", "small-site.yaml")) as f:
        text = f.read()
    # The example documents every key; only the filter switch and amavisd's
    # process count differ between runs.
    text = text.replace("  enabled: true                 # amavisd-new",
                        "  enabled: %s                 # amavisd-new" % ("true" if filter_on else "false"), 1)
    return text.replace("  processes: 3 ", "  processes: %d " % processes, 1)


def run(ns, *argv, check=True, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], check=check, text=True,
                          capture_output=True, **kw)


def mailbox_count(ns, state, user):
    conf = os.path.join(state, "etc", "mail", "dovecot", "dovecot.conf")
    total = 0
    for box in ("INBOX", "Junk"):
        r = run(ns, "doveadm", "-c", conf, "mailbox", "status", "-u", user, "messages", box, check=False)
        # "INBOX messages=5"
        if r.returncode == 0 and "messages=" in r.stdout:
            total += int(r.stdout.split("messages=")[1].split()[0])
    return total


def one_mode(filter_on, messages, sessions, size, processes=3):
    ns = "emailng-bench-%s-%d" % ("on" if filter_on else "off", os.getpid())
    state = tempfile.mkdtemp(prefix="emailng-bench-")
    os.chmod(state, 0o755)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        site = os.path.join(state, "bench-site.yaml")
        with open(site, "w") as f:
            f.write(site_yaml(filter_on, processes))
        env = dict(os.environ, EMAILNG_DATADIR=REPO)
        r = subprocess.run(["ip", "netns", "exec", ns, EMAILNG, "up", "--site", site, "--state", state],
                           env=env, text=True, capture_output=True)
        if r.returncode != 0:
            raise SystemExit("emailng up failed:\n%s%s" % (r.stdout, r.stderr))
        user = "alice@example.test"
        t0 = time.monotonic()
        run(ns, "smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
            "-f", "bench@outside.test", "-t", user, "-S", "bench message", "127.0.0.1:25")
        accepted = time.monotonic() - t0
        deadline = time.monotonic() + 600
        while mailbox_count(ns, state, user) < messages:
            if time.monotonic() > deadline:
                raise SystemExit("only %d of %d messages delivered after 600 s"
                                 % (mailbox_count(ns, state, user), messages))
            time.sleep(0.2)
        delivered = time.monotonic() - t0
        st = json.loads(subprocess.run(["ip", "netns", "exec", ns, EMAILNG, "status", "--json", "--state", state],
                                       env=env, text=True, capture_output=True).stdout)
        rss = {s["name"]: s["rss_kb"] for h in st["hosts"] for s in h["services"]}
        return dict(accepted_s=accepted, delivered_s=delivered, rate=messages / delivered, rss=rss)
    finally:
        # Stop the daemons before their namespace goes, whatever happened.
        subprocess.run(["ip", "netns", "exec", ns, EMAILNG, "down", "--state", state],
                       env=dict(os.environ, EMAILNG_DATADIR=REPO), capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--processes", default="3",
                    help="amavisd process counts to compare, e.g. 1,2,3 (the site default is 3)")
    a = ap.parse_args()
    counts = [int(x) for x in a.processes.split(",")]
    print("bench/filter: %d messages of %d bytes, %d parallel SMTP sessions, %d cores"
          % (a.messages, a.size, a.sessions, os.cpu_count()))
    off = one_mode(False, a.messages, a.sessions, a.size)
    runs = [("filtering off (baseline)", off)]
    for n in counts:
        runs.append(("filtering on, amavisd x%d" % n, one_mode(True, a.messages, a.sessions, a.size, n)))
    for name, r in runs:
        line = "%-28s accepted in %6.2f s, delivered in %6.2f s: %7.1f msg/s" % (
            name, r["accepted_s"], r["delivered_s"], r["rate"])
        if r is not off:
            line += "  (ratio to baseline %.3f)" % (r["rate"] / off["rate"])
        print(line)
    for name, r in runs[1:]:
        print("resident memory, %s (KiB, daemon + children):" % name)
        for svc, kb in sorted(r["rss"].items()):
            print("  %-14s %8d" % (svc, kb))


if __name__ == "__main__":
    main()
