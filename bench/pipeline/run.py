#!/usr/bin/env python3
"""Pipeline throughput: EmailNG's small site beside a raw Postfix -> LMTP ->
Dovecot mdbox, side by side in one run (issue 14, "Pipeline throughput").

Usage (root): bench/pipeline/run.py [--rounds 3] [--messages 1000]
              [--sessions 4] [--size 4096] [--modes raw,off,on]

Modes, each in its own network namespace and directory, all started before
the first round and stopped at the end (nothing is shared with a running
EmailNG, nothing is left behind):
  raw  Debian's Postfix and Dovecot configured by hand here: Postfix accepts
       on 127.0.0.1:25 for one inline mailbox and delivers over LMTP to
       Dovecot (passwd-file userdb, mdbox); no quota, no Sieve, no LDAP, no
       policy service, no filter. What a minimal Postfix + Dovecot does.
  off  `emailng up` of examples/small-site.yaml with filter.enabled false.
  on   the same with filtering on (amavisd, ClamAV, SpamAssassin).
  off+nocache, off+rcptquota
       "off" with one tuning of templates/dovecot/dovecot.conf undone in the
       rendered copy (UNDO below): what that tuning gains.

Each round sends --messages messages of --size bytes to alice@example.test
from Postfix's smtp-source with --sessions parallel SMTP sessions (a new
connection per message, smtp-source's default) and ends when Postfix has
logged the last LMTP delivery to Dovecot (status=sent); rounds alternate the
modes (raw, off, on, raw, off, on, ...) so that other load on the machine
hits all of them alike. Printed per mode, as medians over the rounds:
  - msg/s from the first connection to the last delivery, and the ratio to raw;
  - server CPU per message in ms, per daemon: the user+system time of every
    process of the mode's namespace (children reaped by a daemon counted in
    it through cutime/cstime), grouped by the top process (postfix master,
    dovecot, emailng-policyd, amavisd, clamd, slapd, ...);
  - Postfix's delays=a/b/c/d of the deliveries (median per message, ms),
    for the final LMTP hop and, with filtering, the hop to amavisd;
  - the load average seen during the run (other work on the machine).
"""

import argparse
import os
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
USER = "alice@example.test"
CLK = os.sysconf("SC_CLK_TCK")


def sh(*argv, check=True, **kw):
    r = subprocess.run(argv, text=True, capture_output=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit("%s failed (%d):\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def in_ns(ns, *argv, **kw):
    return sh("ip", "netns", "exec", ns, *argv, **kw)


def start_in_ns(ns, logfile, *argv, **kw):
    """Start a daemon: its output to logfile, not to a pipe (a daemon that
    keeps the pipe open would make us wait for its end)."""
    with open(logfile, "a") as out:
        r = subprocess.run(["ip", "netns", "exec", ns, *argv], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out, **kw)
    if r.returncode != 0:
        with open(logfile) as f:
            raise SystemExit("%s failed (%d):\n%s" % (" ".join(argv), r.returncode, f.read()))


# ---- CPU accounting per daemon of a namespace ------------------------------

def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    # after "pid (comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17)
    ppid = int(fields[1])
    ticks = sum(int(x) for x in fields[11:15])
    return ppid, ticks


def daemon_name(pid):
    try:
        exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "?"
    if exe.startswith("perl") or exe.startswith("python"):
        # amavisd renames itself "amavisd (master)"; scripts: their file name.
        first = argv[0].decode(errors="replace")
        if first.startswith(exe) or first.startswith("/usr/bin/" + exe):
            first = argv[1].decode(errors="replace") if len(argv) > 1 else first
        exe = os.path.basename(first.split()[0]) if first else exe
    return {"master": "postfix"}.get(exe, exe)


# Daemons whose CPU is also shown per kind of child process.
SPLIT = ("dovecot", "postfix")


def ns_cpu(ns):
    """Clock ticks used so far by each daemon of namespace ns."""
    ino = os.stat("/run/netns/%s" % ns).st_ino
    want = "net:[%d]" % ino
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            if os.readlink("/proc/%d/ns/net" % pid) != want:
                continue
            procs[pid] = proc_stat(pid)
        except (OSError, ValueError):
            continue
    groups = {}
    for pid, (ppid, ticks) in procs.items():
        top, below = pid, None
        while procs.get(top, (0,))[0] in procs:
            top, below = procs[top][0], top
        name = daemon_name(top)
        if name in SPLIT:
            # "dovecot/lmtp", "postfix/smtpd": the daemon's child the
            # process belongs to; "dovecot/exited": children reaped already.
            child = "exited"
            if below is not None:
                try:
                    with open("/proc/%d/comm" % below) as f:
                        child = f.read().strip()
                except OSError:
                    pass
            name += "/" + child
        groups[name] = groups.get(name, 0) + ticks
    return groups


# ---- Postfix log: deliveries and delays ------------------------------------

DELAYS = re.compile(r"relay=(\S+), .*delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+), dsn=\S+, status=sent")


class Log:
    def __init__(self, path):
        self.path = path
        self.pos = os.path.getsize(path) if os.path.exists(path) else 0
        self.partial = ""

    def new_lines(self):
        try:
            with open(self.path) as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return []
        data = self.partial + data
        lines = data.split("\n")
        self.partial = lines.pop()
        return lines


# ---- the three setups ------------------------------------------------------

class Mode:
    ns = None
    dir = None
    postfix_log = None

    def new_ns(self, tag):
        self.ns = "pipeline-%s-%d" % (tag.replace("+", "-"), os.getpid())
        sh("ip", "netns", "add", self.ns)
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")

    def drop_ns(self):
        if self.ns:
            sh("ip", "netns", "del", self.ns, check=False)


class Raw(Mode):
    name = "raw"

    def start(self):
        self.new_ns("raw")
        d = self.dir = tempfile.mkdtemp(prefix="pipeline-raw-")
        os.chmod(d, 0o755)
        vm = pwd.getpwnam("vmail")
        for sub in ("postfix", "dovecot", "queue", "mail"):
            os.mkdir(os.path.join(d, sub))
        os.chown(os.path.join(d, "mail"), vm.pw_uid, vm.pw_gid)
        self.postfix_log = os.path.join(d, "postfix.log")
        with open(os.path.join(d, "postfix", "main.cf"), "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/lib
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
myhostname = raw.example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
virtual_mailbox_domains = example.test
virtual_mailbox_maps = inline:{{ {user}=ok }}
virtual_transport = lmtp:unix:{d}/run/lmtp
smtpd_relay_restrictions = reject_unauth_destination
""".format(d=d, user=USER))
        with open(os.path.join(d, "postfix", "master.cf"), "w") as f:
            # Debian's master.cf, without chroot (as EmailNG's) and the
            # services that play no part here.
            f.write("""smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""")
        with open(os.path.join(d, "users"), "w") as f:
            f.write("%s::%d:%d::%s/mail/example.test/alice::\n" % (USER, vm.pw_uid, vm.pw_gid, d))
        self.dovecot_conf = os.path.join(d, "dovecot", "dovecot.conf")
        with open(self.dovecot_conf, "w") as f:
            f.write("""protocols = lmtp
instance_name = pipeline-raw-{pid}
base_dir = {d}/run
state_dir = {d}/dovecot-state
log_path = {d}/dovecot.log
listen = 127.0.0.1
ssl = no
mail_location = mdbox:~/mdbox
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
    user = postfix
  }}
}}
""".format(d=d, pid=os.getpid(), uid=vm.pw_uid))
        start_in_ns(self.ns, os.path.join(d, "start.log"), "dovecot", "-c", self.dovecot_conf)
        start_in_ns(self.ns, os.path.join(d, "start.log"), "postfix", "-c", os.path.join(d, "postfix"), "start")
        wait_smtp(self.ns)

    def mailbox_count(self):
        r = in_ns(self.ns, "doveadm", "-c", self.dovecot_conf, "mailbox", "status", "-u", USER,
                  "messages", "INBOX", check=False)
        return int(r.stdout.split("messages=")[1].split()[0]) if "messages=" in r.stdout else 0

    def stop(self):
        if self.dir:
            in_ns(self.ns, "postfix", "-c", os.path.join(self.dir, "postfix"), "stop", check=False)
            in_ns(self.ns, "doveadm", "-c", self.dovecot_conf, "stop", check=False)
            time.sleep(1)
        self.drop_ns()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# Variants "off+NAME": the small site with filtering off and one tuning of
# templates/dovecot/dovecot.conf undone in its rendered copy (then `doveadm
# reload`), to measure what that tuning gains, in the same run.
UNDO = {
    "nocache": ("auth_cache_size = 10M", "auth_cache_size = 0"),
    "rcptquota": ("  mail_plugins = $mail_plugins sieve\n",
                  "  mail_plugins = $mail_plugins sieve\n  lmtp_rcpt_check_quota = yes\n"),
}


class EmailNG(Mode):
    def __init__(self, filter_on, undo=None):
        self.filter_on = filter_on
        self.undo = undo
        self.name = ("on" if filter_on else "off") + ("+" + undo if undo else "")

    def site_yaml(self):
        with open(os.path.join(REPO, "examples", "small-site.yaml")) as f:
            text = f.read()
        # The example documents every key; the filter switch differs, and
        # the MX's send limit per client (1,000 messages an hour) is raised
        # so far that the bench's one client never reaches it (the counting
        # itself stays: 0 would switch it off).
        text = text.replace("  enabled: true                 # amavisd-new",
                            "  enabled: %s                 # amavisd-new"
                            % ("true" if self.filter_on else "false"), 1)
        client = text.index("    client:")
        for key in ("msgs_per_hour: 1000\n", "rcpts_per_day: 10000\n"):
            at = text.index(key, client)
            text = text[:at] + key.split()[0] + " 100000000\n" + text[at + len(key):]
        return text

    def start(self):
        self.new_ns(self.name)
        self.dir = tempfile.mkdtemp(prefix="pipeline-%s-" % self.name.replace("+", "-"))
        os.chmod(self.dir, 0o755)
        site = os.path.join(self.dir, "bench-site.yaml")
        with open(site, "w") as f:
            f.write(self.site_yaml())
        self.env = dict(os.environ, EMAILNG_DATADIR=REPO)
        # small-site.yaml: one host, "mail"; its logs are in log/mail/.
        start_in_ns(self.ns, os.path.join(self.dir, "up.log"), EMAILNG, "up", "--site", site,
                    "--state", self.dir, env=self.env)
        self.postfix_log = os.path.join(self.dir, "log", "mail", "postfix.log")
        if self.undo:
            conf = os.path.join(self.dir, "etc", "mail", "dovecot", "dovecot.conf")
            with open(conf) as f:
                text = f.read()
            old, new = UNDO[self.undo]
            if old not in text:
                raise SystemExit("%s: %r not in %s" % (self.name, old, conf))
            with open(conf, "w") as f:
                f.write(text.replace(old, new, 1))
            in_ns(self.ns, "doveadm", "-c", conf, "reload")
            time.sleep(2)
        wait_smtp(self.ns)

    def mailbox_count(self):
        conf = os.path.join(self.dir, "etc", "mail", "dovecot", "dovecot.conf")
        total = 0
        for box in ("INBOX", "Junk"):
            r = in_ns(self.ns, "doveadm", "-c", conf, "mailbox", "status", "-u", USER,
                      "messages", box, check=False)
            if "messages=" in r.stdout:
                total += int(r.stdout.split("messages=")[1].split()[0])
        return total

    def stop(self):
        if self.dir:
            in_ns(self.ns, EMAILNG, "down", "--state", self.dir, env=self.env, check=False)
        self.drop_ns()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


GREETING = """
import socket, sys
s = socket.create_connection(("127.0.0.1", 25), timeout=5)
sys.exit(0 if s.recv(100).startswith(b"220") else 1)
"""


def wait_smtp(ns):
    for _ in range(100):
        r = in_ns(ns, sys.executable, "-c", GREETING, check=False)
        if r.returncode == 0:
            return
        time.sleep(0.2)
    raise SystemExit("no SMTP on 127.0.0.1:25 in %s" % ns)


# ---- one round -------------------------------------------------------------

def one_round(mode, a):
    log = Log(mode.postfix_log)
    before = mode.mailbox_count()
    cpu0 = ns_cpu(mode.ns)
    t0 = time.monotonic()
    src = subprocess.Popen(["ip", "netns", "exec", mode.ns, "smtp-source", "-s", str(a.sessions),
                            "-m", str(a.messages), "-l", str(a.size), "-f", "bench@outside.test",
                            "-t", USER, "-S", "pipeline bench", "127.0.0.1:25"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    delivered = []
    hops = {}
    deadline = t0 + a.timeout
    while len(delivered) < a.messages:
        if time.monotonic() > deadline:
            src.kill()
            raise SystemExit("%s: only %d of %d delivered after %d s" % (mode.name, len(delivered), a.messages, a.timeout))
        time.sleep(0.05)
        for line in log.new_lines():
            m = DELAYS.search(line)
            if not m:
                continue
            hop = "lmtp" if m.group(1).endswith("/lmtp]") else "filter"
            d = tuple(float(x) for x in m.group(2, 3, 4, 5))
            hops.setdefault(hop, []).append(d)
            if hop == "lmtp":
                delivered.append(d)
    elapsed = time.monotonic() - t0
    _, err = src.communicate()
    if src.returncode != 0:
        raise SystemExit("%s: smtp-source failed: %s" % (mode.name, err))
    # The CPU the daemons spend after the last delivery (qmgr's clean-up,
    # lmtp processes going idle) belongs to this round too.
    time.sleep(0.5)
    cpu1 = ns_cpu(mode.ns)
    cpu = {k: (cpu1.get(k, 0) - cpu0.get(k, 0)) * 1000.0 / CLK / a.messages
           for k in set(cpu0) | set(cpu1)}
    # smtp-source and doveadm are the bench's own, not the server's.
    for k in ("smtp-source", "doveadm", "ip"):
        cpu.pop(k, None)
    after = mode.mailbox_count()
    if after - before != a.messages:
        raise SystemExit("%s: mailbox grew by %d, %d messages sent" % (mode.name, after - before, a.messages))
    delays = {hop: tuple(statistics.median(x[i] for x in v) * 1000 for i in range(4))
              for hop, v in hops.items()}
    return dict(rate=a.messages / elapsed, elapsed=elapsed, cpu=cpu, delays=delays)


def show(per_round, pick, title):
    """One line of medians over the rounds, largest first."""
    med = statistics.median
    names = sorted({k for d in per_round for k in d if pick(k)}, key=lambda k: -med([d.get(k, 0) for d in per_round]))
    parts = ["%s %.2f" % (k, med([d.get(k, 0) for d in per_round])) for k in names
             if med([d.get(k, 0) for d in per_round]) >= 0.01]
    if parts:
        print("       %s: %s" % (title, ", ".join(parts)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--modes", default="raw,off,on")
    ap.add_argument("--timeout", type=int, default=900, help="seconds one round may take")
    a = ap.parse_args()
    # SIGTERM (and SIGINT, ignored in a background job) stop the daemons too.
    def stop(signum, frame):
        raise SystemExit("stopped by signal %d" % signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespaces, daemons)")
    makers = {"raw": Raw, "off": lambda: EmailNG(False), "on": lambda: EmailNG(True)}
    makers.update({"off+" + k: (lambda k=k: EmailNG(False, k)) for k in UNDO})
    for m in a.modes.split(","):
        if m not in makers:
            raise SystemExit("unknown mode %s (known: %s)" % (m, ", ".join(makers)))
    modes = [makers[m]() for m in a.modes.split(",")]
    print("bench/pipeline: %d rounds of %d messages of %d bytes to one mailbox, %d parallel SMTP "
          "sessions, %d cores, load average at start %s"
          % (a.rounds, a.messages, a.size, a.sessions, os.cpu_count(), os.getloadavg()), flush=True)
    results = {m.name: [] for m in modes}
    loads = []
    try:
        for m in modes:
            m.start()
        # Every mode first takes one small warm-up round (Sieve compiled,
        # LDAP and processes up, mailbox created) that is not counted.
        warm = argparse.Namespace(**dict(vars(a), messages=20))
        for m in modes:
            one_round(m, warm)
        for r in range(a.rounds):
            for m in modes:
                res = one_round(m, a)
                results[m.name].append(res)
                loads.append(os.getloadavg()[0])
                print("  round %d %-3s %7.1f msg/s  %6.2f ms CPU/msg  (load %.2f)"
                      % (r + 1, m.name, res["rate"], sum(res["cpu"].values()), loads[-1]), flush=True)
    finally:
        for m in modes:
            m.stop()
    med = lambda xs: statistics.median(xs) if xs else 0.0
    base = med([x["rate"] for x in results["raw"]]) if "raw" in results else None
    print("\nmedians over %d rounds (load average 1 min after each round: min %.2f, median %.2f, max %.2f)"
          % (a.rounds, min(loads), med(loads), max(loads)))
    for m in modes:
        rs = results[m.name]
        rate = med([x["rate"] for x in rs])
        total = med([sum(x["cpu"].values()) for x in rs])
        line = "%-4s %7.1f msg/s  %6.2f ms server CPU/msg" % (m.name, rate, total)
        if base and m.name != "raw":
            line += "   ratio to raw %.3f" % (rate / base)
        print(line)
        daemons = [dict(x["cpu"]) for x in rs]
        for d in daemons:
            for k in [k for k in d if "/" in k]:
                d[k.split("/")[0]] = d.get(k.split("/")[0], 0) + d[k]
        show(daemons, lambda k: "/" not in k, "CPU ms/msg")
        for split in SPLIT:
            show(daemons, lambda k: k.startswith(split + "/"), "  " + split)
        for hop in ("filter", "lmtp"):
            ds = [x["delays"][hop] for x in rs if hop in x["delays"]]
            if ds:
                print("       delays a/b/c/d (ms, median) %s hop: %s" % (
                    hop, "/".join("%.0f" % med([d[i] for d in ds]) for i in range(4))))


if __name__ == "__main__":
    main()
