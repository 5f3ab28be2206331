#!/usr/bin/python3
"""bench/ha/failover.py: how long users of a failed store wait, and that
a loaded store is not switched away.

Failover: from the failure of store1 to the first successful IMAP LOGIN +
SELECT of alice (a user of pair1) through mail.example.test, resolved by
the test fabric's DNS like a real client (STARTTLS, certificate checked),
with a new attempt every 0.1 s. Two failures:
  kill  kill -9 of every process of store1's Dovecot (its kernel answers
        connects with a reset). Measured in the same run with the
        monitors' fast_fail off (the probe rounds and fail_grace_ms only:
        the behaviour before) and on (the default: held connections and
        refusals, docs/healthd.md).
  cut   store1's cable pulled (scripts/fabric.sh cut: timeouts, no resets).
After each run store1 comes back and both proxies send pair1 to it again.
Prints every run, the median and the p90 (nearest rank) of each.

No false failovers: store1 under mail and IMAP load for --load-minutes
(default 5) with
  busy  one busy loop per CPU, pinned (taskset), in store1's namespace:
        the store's host at 100 % CPU (and so is this machine);
  slow  4 fsync-heavy writers (dd oflag=dsync, 64 KiB blocks) in store1's
        data folder: every fsync of the store waits behind them on the
        same ext4 journal (the figure printed is a 4 KiB O_DSYNC write
        before and during);
and prints "false failovers: N" (pair1 leaving store1 or store1 going down
in either proxy's monitor log), with the load's successes and failures.

Run as root from the repository after `make`:
    /usr/bin/python3 bench/ha/failover.py [RUNS] [--state DIR] [--cut-runs N]
        [--load-minutes M] [--only kill,cut,busy,slow]
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
import smtplib
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.path.join(REPO, "build", "emailng")
HEALTHD = os.path.join(REPO, "build", "emailng-healthd")
FABRIC = os.path.join(REPO, "scripts", "fabric.sh")
PROXIES = ("proxy1", "proxy2")
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


def p90(values):
    v = sorted(values)
    return v[max(0, -(-9 * len(v) // 10) - 1)]


def healthd_pid(state, proxy):
    try:
        with open(os.path.join(state, "run", proxy, "healthd", "healthd.pid")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def restart_healthd(state, prefix, fast_fail):
    """Both proxies' monitors again with fast_fail on or off (a copy of the
    rendered configuration with that one key changed), started like emailng
    starts them; with fast_fail on, the rendered file itself."""
    for proxy in PROXIES:
        conf = os.path.join(state, "etc", proxy, "healthd", "healthd.yaml")
        if not fast_fail:
            alt = conf.replace("healthd.yaml", "healthd-bench-nofastfail.yaml")
            with open(conf) as f:
                text = re.sub(r"^fast_fail: .*\n", "", f.read(), flags=re.M)
            with open(alt, "w") as g:
                g.write(text + "\nfast_fail: no\n")
            conf = alt
        pid = healthd_pid(state, proxy)
        if pid:
            os.kill(pid, 15)
            deadline = time.time() + 10
            while os.path.exists("/proc/%d" % pid) and time.time() < deadline:
                time.sleep(0.05)
        log = open(os.path.join(state, "log", proxy, "healthd.log"), "a")
        subprocess.Popen(["ip", "netns", "exec", "%s-%s" % (prefix, proxy), HEALTHD, "-c", conf],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.time() + 10
        while healthd_pid(state, proxy) in (0, pid):
            if time.time() > deadline:
                sys.exit("emailng-healthd on %s did not start (see %s)" % (proxy, log.name))
            time.sleep(0.05)
    time.sleep(2)                         # a first round, and the held connections


def wait_pair_on_store1(state, timeout=60):
    deadline = time.time() + timeout
    while not pair_on_store1(state):
        if time.time() > deadline:
            sys.exit("pair1 did not return to store1")
        time.sleep(0.2)


class Bench:
    def __init__(self, state, prefix, password, ca):
        self.state, self.prefix, self.password, self.ca = state, prefix, password, ca
        self.root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)

    def client_ns(self):
        setns("/run/netns/%s-client" % self.prefix)

    def root(self):
        _libc.setns(self.root_ns, 0x40000000)

    def until_login_works(self, t0):
        """A new attempt every 0.1 s, each in its own thread (one hung on
        the dead store must not hide the moment logins work again)."""
        done, attempts, threads = [], 0, []

        def attempt():
            try:
                if login_select(self.ca, self.password):
                    done.append(time.monotonic())
            except (OSError, imaplib.IMAP4.error):
                pass

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
        return min(done) - t0, attempts

    def store1_up(self):
        cp = subprocess.run(["ip", "netns", "exec", "%s-store1" % self.prefix, EMAILNG, "--state", self.state,
                             "--site", os.path.join(self.state, "site.yaml"), "--host", "store1", "up"],
                            capture_output=True, text=True, env=ENV)
        if cp.returncode != 0:
            sys.exit("store1 did not come back:\n" + cp.stdout + cp.stderr)

    def kill_runs(self, runs, label):
        times = []
        for run in range(1, runs + 1):
            wait_pair_on_store1(self.state)
            time.sleep(1)
            self.client_ns()
            tree = dovecot_tree(self.state)
            t0 = time.monotonic()
            for pid in tree:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            took, attempts = self.until_login_works(t0)
            self.root()
            times.append(took)
            print("kill run %d (%s): kill -9 of store1's Dovecot -> alice's LOGIN+SELECT through "
                  "mail.example.test works after %.2f s (%d attempts)" % (run, label, took, attempts), flush=True)
            self.store1_up()
        return times

    def cut_runs(self, runs):
        times = []
        for run in range(1, runs + 1):
            wait_pair_on_store1(self.state)
            time.sleep(1)
            self.client_ns()
            t0 = time.monotonic()
            subprocess.run(["sh", FABRIC, "cut", self.prefix, "store1"], check=True, capture_output=True)
            took, attempts = self.until_login_works(t0)
            self.root()
            subprocess.run(["sh", FABRIC, "heal", self.prefix, "store1"], check=True, capture_output=True)
            times.append(took)
            print("cut run %d: store1's cable pulled -> alice's LOGIN+SELECT works after %.2f s (%d attempts)"
                  % (run, took, attempts), flush=True)
        return times

    def monitor_log_sizes(self):
        return {p: os.path.getsize(os.path.join(self.state, "log", p, "healthd.log")) for p in PROXIES}

    def monitor_events(self, since):
        """store1's state changes and pair1's switches in both monitors' logs since `since`."""
        ev = {"suspect": 0, "down": 0, "switch": 0, "lines": []}
        for p in PROXIES:
            with open(os.path.join(self.state, "log", p, "healthd.log")) as f:
                f.seek(since[p])
                for line in f:
                    if "store %s " % STORE1 in line and "-> suspect" in line:
                        ev["suspect"] += 1
                        ev["lines"].append("%s: %s" % (p, line.strip()))
                    if "store %s " % STORE1 in line and "-> down" in line:
                        ev["down"] += 1
                        ev["lines"].append("%s: %s" % (p, line.strip()))
                    if "pair pair1: active" in line:
                        ev["switch"] += 1
                        ev["lines"].append("%s: %s" % (p, line.strip()))
        return ev

    def load(self, stop, stats):
        """Mail to alice through the MX every 0.5 s and alice's IMAP LOGIN +
        SELECT + LOGOUT through mail.example.test back to back (the caller is
        in the client namespace; threads share it)."""
        def mail():
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    relay = ("198.18.0.11", "198.18.0.12")[n % 2]
                    with smtplib.SMTP(relay, 25, local_hostname="client.outside.test", timeout=30) as s:
                        s.sendmail("someone@outside.test", [USER],
                                   "From: someone@outside.test\r\nTo: %s\r\nSubject: load %d\r\n"
                                   "Message-ID: <bench-load-%d-%f@outside.test>\r\n\r\nload\r\n"
                                   % (USER, n, n, time.time()))
                    stats["mail_ok"] += 1
                except (OSError, smtplib.SMTPException):
                    stats["mail_fail"] += 1
                stop.wait(0.5)

        def imap():
            while not stop.is_set():
                try:
                    if login_select(self.ca, self.password):
                        stats["imap_ok"] += 1
                    else:
                        stats["imap_fail"] += 1
                except (OSError, imaplib.IMAP4.error):
                    stats["imap_fail"] += 1
                stop.wait(0.2)

        return [threading.Thread(target=f, daemon=True) for f in (mail, imap, imap)]

    def dsync_write_ms(self):
        path = os.path.join(self.state, "data", "store1", "bench-fsync-probe")
        t = time.monotonic()
        subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=4k", "count=1", "oflag=dsync"],
                       capture_output=True, check=True)
        os.unlink(path)
        return (time.monotonic() - t) * 1000

    def no_failover_run(self, kind, minutes):
        wait_pair_on_store1(self.state)
        time.sleep(1)
        ns = "%s-store1" % self.prefix
        hogs = []
        before_ms = self.dsync_write_ms()
        if kind == "busy":
            for cpu in range(os.cpu_count() or 1):
                hogs.append(subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(cpu),
                                              "sh", "-c", "while :; do :; done"], start_new_session=True))
            what = "%d busy loops (one pinned to each CPU) in store1's namespace" % len(hogs)
        else:
            for i in range(4):
                path = os.path.join(self.state, "data", "store1", "bench-fsync-hog.%d" % i)
                hogs.append(subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c",
                                              "while :; do dd if=/dev/zero of=%s bs=64k count=16 oflag=dsync "
                                              "2>/dev/null; done" % path], start_new_session=True))
            what = "4 fsync-heavy writers (dd oflag=dsync) in store1's data folder"
        since = self.monitor_log_sizes()
        stats = dict(mail_ok=0, mail_fail=0, imap_ok=0, imap_fail=0)
        stop = threading.Event()
        self.client_ns()
        threads = self.load(stop, stats)
        for t in threads:
            t.start()
        self.root()
        time.sleep(5)
        during_ms = self.dsync_write_ms()
        end = time.time() + minutes * 60 - 5
        while time.time() < end:
            time.sleep(min(30, max(0, end - time.time())))
        stop.set()
        for t in threads:
            t.join(60)
        for h in hogs:
            try:
                os.killpg(h.pid, 9)
            except ProcessLookupError:
                pass
            h.wait()
        for i in range(4):
            try:
                os.unlink(os.path.join(self.state, "data", "store1", "bench-fsync-hog.%d" % i))
            except FileNotFoundError:
                pass
        ev = self.monitor_events(since)
        false = ev["down"] + ev["switch"]
        print("%s store (%s, %.0f min, mail and IMAP load): false failovers: %d "
              "(store1 down %d, pair1 switches %d, suspect %d; pair1 on store1 at the end: %s)"
              % (kind, what, minutes, false, ev["down"], ev["switch"], ev["suspect"],
                 "yes" if pair_on_store1(self.state) else "NO"), flush=True)
        print("  load: %d messages accepted (%d failed), %d IMAP LOGIN+SELECT (%d failed); "
              "4 KiB O_DSYNC write %.0f ms before, %.0f ms during"
              % (stats["mail_ok"], stats["mail_fail"], stats["imap_ok"], stats["imap_fail"], before_ms,
                 during_ms), flush=True)
        for line in ev["lines"]:
            print("  " + line)
        return false


def summary(name, times):
    print("%s over %d runs: median %.2f s, p90 %.2f s, worst %.2f s"
          % (name, len(times), statistics.median(times), p90(times), max(times)), flush=True)


def main():
    args = sys.argv[1:]
    opts = {"--state": None, "--cut-runs": "3", "--load-minutes": "5", "--only": "kill,cut,busy,slow"}
    for k in list(opts):
        if k in args:
            i = args.index(k)
            opts[k] = args[i + 1]
            del args[i:i + 2]
    state = opts["--state"]
    runs = int(args[0]) if args else 5
    only = opts["--only"].split(",")
    own_state = state is None
    if own_state:
        state = tempfile.mkdtemp(prefix="emailng-bench-failover-")
        emailng(state, "up", "--site", os.path.join(REPO, "examples", "ha-site.yaml"))
    prefix = re.search(r"(en[0-9a-f]{8})", subprocess.run([EMAILNG, "--state", state, "status", "--json"],
                       capture_output=True, text=True, env=ENV).stdout).group(1)
    with open(os.path.join(state, "secrets", "demo-passwords")) as f:
        password = dict(line.split() for line in f)[USER]
    b = Bench(state, prefix, password, os.path.join(state, "tls", "ca.crt"))
    results, false_total = [], 0
    try:
        if "kill" in only:
            restart_healthd(state, prefix, fast_fail=False)
            results.append(("kill -9, fast_fail off (before)", b.kill_runs(runs, "fast_fail off")))
            restart_healthd(state, prefix, fast_fail=True)
            results.append(("kill -9, fast_fail on (after)", b.kill_runs(runs, "fast_fail on")))
        if "cut" in only:
            results.append(("cut cable", b.cut_runs(int(opts["--cut-runs"]))))
        for name, times in results:
            summary(name, times)
        for kind in ("busy", "slow"):
            if kind in only:
                false_total += b.no_failover_run(kind, float(opts["--load-minutes"]))
        s = settings(state)
        print("emailng-healthd: probes every %d ms (round deadline %d ms), down after %d ms of failed probes "
              "or %s, back after %d ms of good ones"
              % (s["interval_ms"], s["timeout_ms"], s["fail_grace_ms"],
                 "refusals confirmed over refused_confirm_ms (fast_fail)", s["recover_grace_ms"]))
        print("reference: Dovecot poolmon checks every %d s (a crash waits up to %d s + its check)"
              % (POOLMON_INTERVAL_S, POOLMON_INTERVAL_S))
    finally:
        b.root()
        if own_state:
            subprocess.run([EMAILNG, "--state", state, "down"], capture_output=True, env=ENV)
            shutil.rmtree(state, ignore_errors=True)
    sys.exit(1 if false_total else 0)


if __name__ == "__main__":
    main()
