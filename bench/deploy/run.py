#!/usr/bin/python3
"""bench/deploy/run.py: deploying the full topology to separate hosts and
rolling an upgrade through it under load (issue 12, A4).

In one run, on hosts of its own (scripts/hosts.sh, prefix --prefix,
default bdp; the site and hosts of tests/e2e_deploy, made by the same
code: tests/e2e_deploy/deploysite.py):

  1. first deploy   `emailng deploy` of examples/ha-site.yaml from the
                    control host onto seven bare host namespaces (own /etc,
                    /var/lib/emailng ..., sshd; nothing of EmailNG's there).
                    The content filter is off as in the tests (amavisd,
                    ClamAV and SpamAssassin on the stores cost minutes per
                    deploy on a loaded machine); --filter deploys it on.
  2. second run     the same command again: its time and the changed=
                    count of every host (0 expected).
  3. rolling upgrade `emailng deploy --upgrade --build DIR`, DIR a copy of
                    this build under another name (each host then runs other
                    files, so every daemon of ours restarts; the hosts share
                    /usr and dpkg with the machine, so no package upgrade),
                    under load from the client namespace:
                      mx          a message to alice every 0.2 s by MX
                                  (relay1 or relay2, the other when one refuses)
                      submission  a message to alice every 0.5 s on 587
                                  (STARTTLS, SASL login of bob) through a relay
                      imap-login  an IMAP login + SELECT every 0.5 s through
                                  proxy1, else proxy2
                      imap-idle   2 sessions (one starting on each proxy) that
                                  log in, SELECT and IDLE; every 1 s DONE and
                                  IDLE again; a lost session logs in again
                                  through its proxy, else the other
                      pop3        a POP3 login + STAT every 1 s through proxy1,
                                  else proxy2
                    Printed: the roll's total time, each host's time (from
                    its "draining" record to its "done" record in the
                    control host's STATE/ansible/upgrade/HOST.yml, read every
                    0.2 s), and per kind of client the longest gap between
                    two successful operations, attributed to the host
                    whose roll overlaps the gap most.
  4. baseline       the same load with no roll for the same time, beside it
                    in the same run: its longest gaps.

The bench's site has no send limits (policy.limits user and client
msgs_per_hour and rcpts_per_day 0: the load sends thousands of messages an
hour) and the submissions come from 16 addresses of the client in turn
(Postfix lets an address log in 10 times a minute on submission).

Then every message taken (both phases) is looked for by Message-ID in
alice's INBOX on store1 and on store2 (each store's doveadm reading its own
disk): delivered once (exactly once on each store), duplicated (more than
once on either), lost (on neither), on one store only; refused (neither
relay took it at SMTP) and bounced ("status=bounced" in the relays' and
stores' Postfix logs). Aim: 0 / 0 / 0.

Run as root from the repository after `make` (`make bench-deploy`; not part
of `make test`); takes 15-25 minutes on a loaded 2-core machine:
    /usr/bin/python3 bench/deploy/run.py [--prefix bdp] [--filter] [--keep]
"""

import argparse
import datetime
import os
import poplib
import re
import ssl
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e_deploy"))

import deploysite  # noqa: E402
from deploysite import (DOMAIN, HOSTS, MAIL_LOGS, ROLES, IdleLoad, ImapLoad, MxLoad, SubmissionLoad,  # noqa: E402
                        add_submission_sources, in_netns, log_lines_since, log_sizes, recap)

USER = "alice@" + DOMAIN          # receives everything; the IMAP, IDLE and POP3 clients are hers
SUBMITTER = "bob@" + DOMAIN       # submission's SASL login
KINDS = ("mx", "submission", "imap-login", "imap-idle", "pop3")
WHY = "bench/deploy/run.py"
SETTLE_S = 5                      # load before and after the roll


# ---- the client beside deploysite's MxLoad, SubmissionLoad, ImapLoad, IdleLoad --


class Pop3Load(threading.Thread):
    """A POP3 login (995) and STAT every INTERVAL s through proxy1, else proxy2."""

    def __init__(self, prefix, ca, user, password, interval=1.0):
        super().__init__(daemon=True)
        self.prefix, self.ca, self.user, self.password = prefix, ca, user, password
        self.interval = interval
        self.stop = threading.Event()
        self.times = []
        self.failures = []

    def run(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        with in_netns(self.prefix + "-client"):
            while not self.stop.is_set():
                errors = []
                for proxy in ("proxy1", "proxy2"):
                    try:
                        p = poplib.POP3_SSL(HOSTS[proxy], 995, context=ctx, timeout=20)
                        try:
                            p.user(self.user)
                            p.pass_(self.password)
                            p.stat()
                        finally:
                            try:
                                p.quit()
                            except Exception:
                                pass
                        self.times.append(time.monotonic())
                        errors = None
                        break
                    except Exception as e:       # any failure: the next proxy, as a client does
                        errors.append("%s: %r" % (proxy, e))
                if errors:
                    self.failures.append((time.monotonic(), errors))
                self.stop.wait(self.interval)


class Load:
    """Every client of one phase, started and stopped together."""

    def __init__(self, d, passwords):
        p, ca = d.prefix, d.ca
        self.clients = {
            "mx": [MxLoad(p, USER, 0.2)],
            "submission": [SubmissionLoad(p, ca, SUBMITTER, passwords[SUBMITTER], USER, 0.5)],
            "imap-login": [ImapLoad(p, ca, USER, passwords[USER], 0.5)],
            "imap-idle": [IdleLoad(p, ca, USER, passwords[USER], "proxy1"),
                          IdleLoad(p, ca, USER, passwords[USER], "proxy2")],
            "pop3": [Pop3Load(p, ca, USER, passwords[USER], 1.0)],
        }
        self.started = self.stopped = None

    def start(self):
        self.started = time.monotonic()
        for cs in self.clients.values():
            for c in cs:
                c.start()

    def stop(self):
        self.stopped = time.monotonic()
        for cs in self.clients.values():
            for c in cs:
                c.stop.set()
        for cs in self.clients.values():
            for c in cs:
                c.join(90)

    def gaps(self, kind):
        """(start, end) of every gap between two successes of one client
        of KIND, the phase's start to the first success and the last one
        to the phase's end included (a client failing from the start or
        to the end shows)."""
        out = []
        for c in self.clients[kind]:
            times = [self.started] + [t for t in c.times if t <= self.stopped] + [self.stopped]
            out += list(zip(times, times[1:]))
        return out

    def longest(self, kind):
        return max((b - a for a, b in self.gaps(kind)), default=float("nan"))

    def successes(self, kind):
        return sum(len(c.times) for c in self.clients[kind])

    def failures(self, kind):
        return sum(len(c.failures) for c in self.clients[kind])

    def accepted(self):
        return self.clients["mx"][0].accepted + self.clients["submission"][0].accepted


# ---- the roll's timeline ------------------------------------------------------

class RecordWatcher(threading.Thread):
    """Reads the control host's STATE/ansible/upgrade/HOST.yml every 0.2 s:
    {host: {step: time (monotonic)}}, each step's time as the record says."""

    def __init__(self, control):
        super().__init__(daemon=True)
        self.folder = os.path.join(control, "ansible", "upgrade")
        self.stop = threading.Event()
        self.steps = {}

    def _read(self):
        wall_to_mono = time.monotonic() - time.time()
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return
        for name in names:
            if not name.endswith(".yml") or name == "run.yml":
                continue
            try:
                with open(os.path.join(self.folder, name)) as f:
                    fields = dict(re.findall(r"^(\w+): (.*)$", f.read(), re.M))
                when = datetime.datetime.fromisoformat(fields["time"].strip('"').rstrip("Z"))
            except (OSError, KeyError, ValueError):
                continue          # being written: the next read
            step = fields.get("step", "").strip('"')
            stamp = when.replace(tzinfo=datetime.timezone.utc).timestamp() + wall_to_mono
            self.steps.setdefault(name[:-4], {}).setdefault(step, stamp)

    def run(self):
        while not self.stop.is_set():
            self._read()
            self.stop.wait(0.2)
        self._read()

    def windows(self):
        """{host: (start, end)}: its first record seen to its "done"."""
        out = {}
        for host, steps in self.steps.items():
            if "done" in steps:
                out[host] = (min(steps.values()), steps["done"])
        return out


def attribute(gap, windows):
    """The host whose roll overlaps the gap most, or "-" (none does)."""
    a, b = gap
    best, best_overlap = "-", 0.0
    for host, (s, e) in windows.items():
        overlap = min(b, e) - max(a, s)
        if overlap > best_overlap:
            best, best_overlap = host, overlap
    return best


# ---- counting ------------------------------------------------------------------

def count_on_stores(d, ids, wait_s=240):
    """{store: Counter} once every id is on both stores, or after WAIT_S."""
    deadline = time.monotonic() + wait_s
    while True:
        counts = {s: d.store_message_ids(s, USER) for s in ("store1", "store2")}
        if all(counts[s][i] >= 1 for s in counts for i in ids) or time.monotonic() > deadline:
            break
        time.sleep(5)
    time.sleep(5)                  # a duplicate would follow within moments
    return {s: d.store_message_ids(s, USER) for s in ("store1", "store2")}


def tally(ids, counts):
    once = dup = lost = one_store = 0
    for i in ids:
        c1, c2 = counts["store1"][i], counts["store2"][i]
        if c1 > 1 or c2 > 1:
            dup += 1
        elif c1 == 1 and c2 == 1:
            once += 1
        elif c1 == 0 and c2 == 0:
            lost += 1
        else:
            one_store += 1
    return once, dup, lost, one_store


# ---- the run -------------------------------------------------------------------

def deploy_checked(d, what, *args):
    cp, elapsed = d.deploy(*args)
    if cp.returncode != 0:
        sys.stdout.write(cp.stdout[-6000:] + cp.stderr)
        raise SystemExit("bench/deploy: %s failed (exit %d); logs in %s" % (what, cp.returncode, d.root))
    return cp, elapsed


def changed_summary(cp):
    hosts = recap(cp.stdout)
    return sum(v[1] for v in hosts.values()), ", ".join("%s %d" % (h, v[1]) for h, v in sorted(hosts.items()))


def run_phase(d, passwords, body):
    load = Load(d, passwords)
    load.start()
    time.sleep(SETTLE_S)
    result = body()
    time.sleep(SETTLE_S)
    load.stop()
    return load, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", default="bdp", help="the hosts' namespace prefix (default bdp)")
    ap.add_argument("--filter", action="store_true",
                    help="deploy with the content filter on (amavisd, ClamAV, SpamAssassin on the stores)")
    ap.add_argument("--keep", action="store_true", help="keep the folder (control state, hosts' files, logs)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/deploy: run as root (namespaces, sshd)")

    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    print("bench/deploy: examples/ha-site.yaml on 7 separate hosts (prefix %s), content filter %s%s; "
          "load average %s" % (args.prefix, "ON" if args.filter else "off",
                               "" if args.filter else " (as in tests/e2e_deploy; --filter turns it on)",
                               load_before), flush=True)
    t0 = time.monotonic()
    d = deploysite.bring_up(args.prefix, filter_enabled=args.filter, site_extra=deploysite.NO_SEND_LIMITS)
    print("hosts.sh up (7 hosts + control + client):   %6.1f s" % (time.monotonic() - t0), flush=True)
    try:
        d.name_the_proxies()
        cp, first = deploy_checked(d, "the first deploy")
        total, _ = changed_summary(cp)
        print("1. first deploy from bare hosts:            %6.1f s   (changed=%d in all)" % (first, total),
              flush=True)
        cp, second = deploy_checked(d, "the second deploy")
        total, per_host = changed_summary(cp)
        print("2. second run:                              %6.1f s   changed=%d (%s)" % (second, total, per_host),
              flush=True)

        add_submission_sources(args.prefix)
        d.upgrade_group_vars(WHY)
        build = d.make_build("emailng-next")
        passwords = {u: d.password(u) for u in (USER, SUBMITTER)}
        marks = log_sizes(d)
        watcher = RecordWatcher(d.control)

        def roll():
            watcher.start()
            started = time.monotonic()
            cp, elapsed = d.deploy("--upgrade", "--build", build)
            watcher.stop.set()
            watcher.join(10)
            return cp, elapsed, started

        rolled, (cp, roll_s, roll_started) = run_phase(d, passwords, roll)
        if cp.returncode != 0:
            sys.stdout.write(cp.stdout[-6000:] + cp.stderr)
            raise SystemExit("bench/deploy: the rolling upgrade failed (exit %d); logs in %s" % (cp.returncode,
                                                                                                 d.root))
        roll_marks_end = log_sizes(d)
        phase_s = rolled.stopped - rolled.started
        print("   (baseline: the same load, no roll, %.0f s)" % phase_s, flush=True)
        baseline, _ = run_phase(d, passwords, lambda: time.sleep(max(0.0, phase_s - 2 * SETTLE_S)))

        with open("/proc/loadavg") as f:
            load_after = " ".join(f.read().split()[:3])
        windows = watcher.windows()
        print("3. rolling upgrade (--upgrade --build, a copy of this build), under load: %.1f s in all"
              % roll_s)
        order = sorted(windows, key=lambda h: windows[h][0])
        print("   %-7s %-9s %7s   %s" % ("host", "role", "roll s", "longest gap while it rolled, s: "
                                         + "  ".join(KINDS)))
        for host in order:
            s, e = windows[host]
            cells = []
            for kind in KINDS:
                mine = [b - a for a, b in rolled.gaps(kind) if attribute((a, b), windows) == host]
                cells.append("%.1f" % max(mine) if mine else "-")
            print("   %-7s %-9s %7.1f   %s" % (host, ROLES[host], e - s, "  ".join(cells)))
        missing = sorted(set(HOSTS) - set(windows))
        if missing:
            print("   no roll record seen for: %s" % ", ".join(missing))
        print("   outside any host's roll (ping, the control host's records): %.1f s" %
              (roll_s - sum(e - s for s, e in windows.values())))

        print("4. longest client-visible interruption (longest gap between two successes), roll beside baseline:")
        print("   %-11s %8s %-18s %9s %9s   %s" % ("client", "roll s", "(while rolling)", "baseline", "ops roll",
                                                  "failed attempts (idle: sessions lost) roll / baseline"))
        for kind in KINDS:
            gaps = rolled.gaps(kind)
            worst = max(gaps, key=lambda g: g[1] - g[0]) if gaps else None
            host = attribute(worst, windows) if worst else "-"
            print("   %-11s %8.1f %-18s %9.1f %9d   %d / %d" % (
                kind, rolled.longest(kind), "(%s)" % host, baseline.longest(kind), rolled.successes(kind),
                rolled.failures(kind), baseline.failures(kind)))
        idle = rolled.clients["imap-idle"]
        print("   imap-idle sessions opened during the roll: %d (2 at its start); EXISTS seen: %d" %
              (sum(c.sessions for c in idle), sum(c.exists for c in idle)))

        ids_roll, ids_base = rolled.accepted(), baseline.accepted()
        counts = count_on_stores(d, ids_roll + ids_base)
        bounced_roll = log_lines_since(d, marks, "status=bounced")
        bounced_all = log_lines_since(d, {h: 0 for h in MAIL_LOGS}, "status=bounced")
        print("5. messages by Message-ID in %s's INBOX on store1 and store2:" % USER)
        print("   %-9s %8s %8s %10s %5s %10s %8s %8s" % ("phase", "accepted", "once", "duplicated", "lost",
                                                       "one store", "refused", "bounced"))
        for name, load, ids, bounced in (
                ("roll", rolled, ids_roll, len(bounced_roll) - len(log_lines_since(d, roll_marks_end,
                                                                                   "status=bounced"))),
                ("baseline", baseline, ids_base, len(log_lines_since(d, roll_marks_end, "status=bounced")))):
            once, dup, lost, one_store = tally(ids, counts)
            refused = load.failures("mx") + load.failures("submission")
            print("   %-9s %8d %8d %10d %5d %10d %8d %8d" % (name, len(ids), once, dup, lost, one_store, refused,
                                                          bounced))
        for line in bounced_all[:5]:
            print("   bounced: " + line)
        print("load average before %s, after %s (2 cores)" % (load_before, load_after))
        print("bench/deploy: %.0f s in all" % (time.monotonic() - t0))
    finally:
        deploysite.tear_down(d, keep=args.keep)


if __name__ == "__main__":
    main()
