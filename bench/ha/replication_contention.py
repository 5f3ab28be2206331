#!/usr/bin/python3
"""bench/ha/replication_contention.py: replication when both stores change
the same users at once, the case where Dovecot 2.3.19 can hang a sync.

Four writers (alice and bob, on store1 and on store2) each save a message
with a new Message-ID and set \\Seen on the whole INBOX, then pause PAUSE
seconds, for SECONDS seconds. Meanwhile every second both replicators'
`dsync-status` is read: how long each (store, user) sync was in progress.
After the writers stop: the time until both stores hold exactly the same
Message-IDs for both users, and whether every message written is there
exactly once. emailng-syncwatch's interventions (STATE/log/STORE/
syncwatch.log) are counted, with how long each hung sync had waited.

The reference it runs beside: with --without-syncwatch the watch is
stopped on both stores first, so a hung sync lasts until Dovecot's own
fixed dsync-server I/O timeout (600 s); the run then waits up to 700 s
for convergence. Without the flag that reference is printed as Dovecot's
constant, not measured.

Run as root from the repository after `make`:
    /usr/bin/python3 bench/ha/replication_contention.py [SECONDS] [--pause S]
        [--without-syncwatch] [--state DIR]
Without --state it brings examples/ha-site.yaml up in a temporary state
directory and takes it down at the end.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.path.join(REPO, "build", "emailng")
ENV = dict(os.environ, EMAILNG_DATADIR=REPO)
USERS = ("alice@example.test", "bob@example.test")
STORES = ("store1", "store2")
DOVECOT_HANG_LIMIT_S = 600      # DSYNC_DEFAULT_IO_STREAM_TIMEOUT_SECS in 2.3.19


def emailng(state, *args):
    cp = subprocess.run([EMAILNG, "--state", state, *args], capture_output=True, text=True, env=ENV, timeout=600)
    if cp.returncode != 0:
        sys.exit("emailng %s failed:\n%s%s" % (" ".join(args), cp.stdout, cp.stderr))
    return cp.stdout


class Site:
    def __init__(self, state):
        self.state = state
        self.prefix = re.search(r"(en[0-9a-f]{8})", emailng(state, "status", "--json")).group(1)

    def doveadm(self, store, *args, input=None):
        conf = os.path.join(self.state, "etc", store, "dovecot", "dovecot.conf")
        return subprocess.run(["ip", "netns", "exec", "%s-%s" % (self.prefix, store), "doveadm", "-c", conf, *args],
                              input=input, capture_output=True, text=True, timeout=120)

    def message_ids(self, store, user):
        out = self.doveadm(store, "-f", "flow", "fetch", "-u", user, "hdr.message-id", "mailbox", "INBOX", "all").stdout
        return [line.split("=", 1)[1].strip() for line in out.splitlines() if "=" in line]

    def syncwatch_log(self, store):
        path = os.path.join(self.state, "log", store, "syncwatch.log")
        return open(path).read() if os.path.exists(path) else ""


def stop_syncwatch(site):
    for store in STORES:
        pid_file = os.path.join(site.state, "run", store, "syncwatch", "syncwatch.pid")
        try:
            with open(pid_file) as f:
                os.kill(int(f.read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def main():
    args = sys.argv[1:]
    seconds, pause, state, without = 300.0, 0.05, None, False
    while args:
        a = args.pop(0)
        if a == "--pause":
            pause = float(args.pop(0))
        elif a == "--state":
            state = args.pop(0)
        elif a == "--without-syncwatch":
            without = True
        else:
            seconds = float(a)
    own = state is None
    if own:
        state = tempfile.mkdtemp(prefix="emailng-bench-contention-")
        emailng(state, "up", "--site", os.path.join(REPO, "examples", "ha-site.yaml"))
    site = Site(state)
    try:
        if without:
            stop_syncwatch(site)
        log_before = {s: len(site.syncwatch_log(s)) for s in STORES}
        written = {u: set() for u in USERS}
        lock = threading.Lock()
        stop = threading.Event()

        def writer(store, user):
            n = 0
            while not stop.is_set():
                n += 1
                msgid = "<contention-%s-%d-%.6f@bench.example.test>" % (store, n, time.time())
                msg = "From: bench@example.test\r\nSubject: contention\r\nMessage-ID: %s\r\n\r\nbody\r\n" % msgid
                if site.doveadm(store, "save", "-u", user, input=msg).returncode == 0:
                    with lock:
                        written[user].add(msgid)
                site.doveadm(store, "flags", "add", "-u", user, "\\Seen", "mailbox", "INBOX", "all")
                stop.wait(pause)

        threads = [threading.Thread(target=writer, args=(s, u)) for s in STORES for u in USERS]
        for t in threads:
            t.start()
        running, durations = {}, []
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            now, seen = time.monotonic(), set()
            for store in STORES:
                for line in site.doveadm(store, "replicator", "dsync-status").stdout.splitlines()[1:]:
                    p = line.split()
                    if p and "@" in p[0] and "Waiting" in line:
                        seen.add((store, p[0]))
                        running.setdefault((store, p[0]), now)
            for key in [k for k in running if k not in seen]:
                durations.append(now - running.pop(key))
            time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
        durations += [time.monotonic() - v for v in running.values()]
        t_stop = time.monotonic()
        limit = DOVECOT_HANG_LIMIT_S + 100 if without else 300
        converged = None
        while time.monotonic() - t_stop < limit:
            ids = {(s, u): site.message_ids(s, u) for s in STORES for u in USERS}
            if all(sorted(ids[("store1", u)]) == sorted(ids[("store2", u)]) for u in USERS):
                converged = time.monotonic() - t_stop
                break
            time.sleep(1)
        ids = {(s, u): site.message_ids(s, u) for s in STORES for u in USERS}
        ends = []
        for s in STORES:
            ends += re.findall(r'action="end" pid="\d+" waited_s="(\d+)"', site.syncwatch_log(s)[log_before[s]:])

        print("replication under contention: %.0f s of writes, a save + \\Seen on INBOX per writer every %.2f s, "
              "4 writers (alice, bob x store1, store2)" % (seconds, pause))
        for u in USERS:
            lost = {s: len(written[u] - set(ids[(s, u)])) for s in STORES}
            dup = {s: len(ids[(s, u)]) - len(set(ids[(s, u)])) for s in STORES}
            print("  %-20s written %5d; on store1 %5d, store2 %5d; missing %s; duplicated %s"
                  % (u, len(written[u]), len(set(ids[("store1", u)])), len(set(ids[("store2", u)])), lost, dup))
        durations.sort()
        print("  syncs seen during the writes: %d; over 10 s: %d; longest %.1f s (one still running counts until "
              "the writes stopped)" % (len(durations), sum(d > 10 for d in durations),
                                       durations[-1] if durations else 0))
        print("  hung syncs ended by emailng-syncwatch: %d%s" % (len(ends), (" (waited %s s)" % ", ".join(ends))
                                                                if ends else ""))
        print("  converged %s after the writes stopped" % ("%.1f s" % converged if converged is not None
                                                          else "NOT within %d s" % limit))
        if without:
            print("  (this run: emailng-syncwatch stopped on both stores; the reference)")
        else:
            print("  reference: without emailng-syncwatch a hung sync lasts until Dovecot 2.3.19's fixed "
                  "dsync-server I/O timeout, %d s (run with --without-syncwatch to measure)" % DOVECOT_HANG_LIMIT_S)
    finally:
        if own:
            subprocess.run([EMAILNG, "--state", state, "down"], capture_output=True, env=ENV)
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
