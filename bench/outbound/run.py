#!/usr/bin/env python3
"""Outbound delivered messages per second (issue 11): submission on 587
(STARTTLS, AUTH) -> EmailNG's one-host site (fromcheck, amavisd, DKIM
signing) -> an outside MTA that EmailNG does not configure (Postfix with
OpenDKIM verify, OpenDMARC, policyd-spf), in the test fabric of
tests/e2e_internet/world.py. Each mode is a world of its own, one after
the other, in the same run:

  dkim-on     the site as shipped (DKIM signing on)
  dkim-off    the same with `dkim: {enabled: false}` (the baseline)
  forwarded   mail to an alias with an outside member, on port 25 from the
              internet: SRS rewriting + DKIM (where the site does both)

Usage (root): bench/outbound/run.py [--messages N] [--sessions S] [--modes dkim-on,dkim-off,forwarded]
Figures: messages/s from the first connection to the last message in the
outside Maildir, the ratio to dkim-off, the memory (PSS) of the daemons
this issue added (emailng status --json), and `up` time of each mode.
"""

import argparse
import json
import os
import smtplib
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e_internet"))

import world as internet  # noqa: E402

# The send limits (100 messages an hour per user) would stop a bench.
NO_LIMITS = "policy:\n  limits:\n    user: {msgs_per_hour: 0, rcpts_per_msg: 0, rcpts_per_day: 0}\n"
MODES = {
    "dkim-on": "",
    "dkim-off": "dkim:\n  enabled: false\n",
    "forwarded": "",
}
ADDED_DAEMONS = ("opendkim", "opendmarc", "postsrsd", "mta-sts", "lego")


def count(w, user):
    return len([m for m in w.mta.messages(user)])


def send_submission(w, n, sessions):
    per = [n // sessions + (1 if i < n % sessions else 0) for i in range(sessions)]
    errors = []

    def worker(k):
        try:
            address = "alice@%s" % internet.DOMAIN
            with internet.PublicNameSMTP(internet.MAIL, 587, timeout=120) as s:
                s.starttls(context=w.tls_context())
                s.login(address, w.passwords[address])
                for i in range(k):
                    _, msg = internet.make_message(address, "bob@outside.test", subject="bench %d" % i,
                                                   body="x" * 4000 + "\n")
                    s.sendmail(address, ["bob@outside.test"], msg)
        except Exception as e:  # reported below: a bench that lost messages has no figure
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("sending failed: %s" % errors[:3])


def send_forwarded(w, n, sessions):
    """From the internet (port 25) to an alias whose member is outside."""
    per = [n // sessions + (1 if i < n % sessions else 0) for i in range(sessions)]
    errors = []

    def worker(k):
        try:
            with smtplib.SMTP(internet.MAIL, 25, local_hostname="client.client.test", timeout=120) as s:
                for i in range(k):
                    _, msg = internet.make_message("sender@client.test", "fwd@example.test",
                                                   subject="bench fwd %d" % i, body="x" * 4000 + "\n")
                    s.sendmail("sender@client.test", ["fwd@example.test"], msg)
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("sending failed: %s" % errors[:3])


def one_mode(mode, messages, sessions):
    t_up = time.monotonic()
    with internet.start_world(site_extra=NO_LIMITS + MODES[mode]) as w:
        up_seconds = time.monotonic() - t_up
        user = "bob"
        if mode == "forwarded":
            user = "carol"
            w.emailng("alias", "add", "fwd@example.test", "carol@outside.test")
        before = count(w, user)
        t0 = time.monotonic()
        (send_forwarded if mode == "forwarded" else send_submission)(w, messages, sessions)
        deadline = time.monotonic() + 900
        while count(w, user) - before < messages:
            if time.monotonic() > deadline:
                raise SystemExit("%s: only %d of %d delivered after 900 s"
                                 % (mode, count(w, user) - before, messages))
            time.sleep(0.2)
        seconds = time.monotonic() - t0
        status = json.loads(w.emailng("status", "--json").stdout)
        memory = {s["name"]: s["pss_kb"] for h in status["hosts"] for s in h["services"]
                  if any(s["name"].startswith(d) for d in ADDED_DAEMONS)}
        return {"mode": mode, "messages": messages, "seconds": seconds, "rate": messages / seconds,
                "up_seconds": up_seconds, "memory_kib": memory}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--modes", default="dkim-on,dkim-off,forwarded")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds; the median of each mode is shown")
    args = ap.parse_args()
    modes = args.modes.split(",")
    runs = {m: [] for m in modes}
    for _ in range(args.rounds):
        for m in modes:
            runs[m].append(one_mode(m, args.messages, args.sessions))
    results = []
    for m in modes:
        ordered = sorted(runs[m], key=lambda r: r["rate"])
        median = dict(ordered[len(ordered) // 2])
        median["all_rates"] = [round(r["rate"], 1) for r in runs[m]]
        results.append(median)
    base = next((r for r in results if r["mode"] == "dkim-off"), None)
    print("outbound bench: %d messages of ~4 KiB, %d sessions, %d cores, %d round(s), medians"
          % (args.messages, args.sessions, os.cpu_count(), args.rounds))
    for r in results:
        ratio = " (%.2f of dkim-off)" % (r["rate"] / base["rate"]) if base else ""
        print("  %-10s %7.1f msg/s%s  %.1f s for all; up %.1f s; added daemons PSS KiB: %s; rounds: %s"
              % (r["mode"], r["rate"], ratio, r["seconds"], r["up_seconds"], r["memory_kib"] or "-",
                 r["all_rates"]))


if __name__ == "__main__":
    main()
