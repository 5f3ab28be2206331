#!/usr/bin/env python3
"""Benchmark of emailng-policyd against Debian's postfix-policyd-spf-python
and postfwd (issue: bench/policyd). Everything runs on 127.0.0.x; DNS for
SPF comes from a local nsd (the test zone of tests/policyd/conftest.py).

Every peer is driven by the same C load generator (loadgen.c) with the same
request files and the same connection counts (BENCH_CONNS, default "10 50"),
in the same run; closed loop: each connection sends a request, waits for the
answer, sends the next, as Postfix does. With 2+ CPUs the servers run on
CPU 0 and the generator on CPU 1 (BENCH_PIN=0 to share them):
  A. rate-limit check, no DNS: emailng-policyd vs postfwd (equivalent
     per-sender rate rule);
  B. SPF check against the local DNS: emailng-policyd vs policyd-spf
     (driven over TCP the way Postfix's spawn(8) drives it: one process
     per connection on stdin/stdout, at most 20 connections).
Then: resident memory of emailng-policyd with 10,000 idle connections.
Prints a table; run as root (bench/policyd/run.sh)."""
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/policyd"))
from conftest import ZONE, DNS_ADDR  # noqa: E402

POLICYD = os.environ.get("POLICYD", os.path.join(ROOT, "build/emailng-policyd"))
DURATION = float(os.environ.get("BENCH_SECONDS", "10"))
CONNS = [int(c) for c in os.environ.get("BENCH_CONNS", "10 50").split()]
WARMUP = float(os.environ.get("BENCH_WARMUP", "1"))
REQS = int(os.environ.get("BENCH_REQUESTS", "20000"))
SPF_MAX_CONNS = 20          # policyd-spf: one Python process per connection
LOADGEN = os.environ.get("LOADGEN", os.path.join(ROOT, "build/policyd-loadgen"))
# BENCH_PIN=1 (default with 2 or more CPUs): servers (and nsd) on CPU 0, the
# load generator on CPU 1, so the figures are the server's, not contention's.
PIN = os.environ.get("BENCH_PIN", "1" if (os.cpu_count() or 1) >= 2 else "0") == "1"
SERVER_CPUS = os.environ.get("BENCH_SERVER_CPUS", "0") if PIN else ""
GEN_CPUS = os.environ.get("BENCH_GEN_CPUS", "1") if PIN else ""
IDLE = int(os.environ.get("BENCH_IDLE", "10000"))


def req(i, state="RCPT", sender=None, client=None, sasl=False):
    sender = sender or f"user{i % 500}@example.org"
    auth = f"sasl_username={sender}\n" if sasl else ""
    client = client or f"198.51.{(i // 250) % 250}.{i % 250 + 1}"
    return (f"request=smtpd_access_policy\nprotocol_state={state}\nprotocol_name=ESMTP\n"
            f"{auth}client_address={client}\nclient_name=unknown\nhelo_name=mx{i % 50}.example.org\n"
            f"sender={sender}\nrecipient=rcpt{i % 100}@example.test\nqueue_id=\n"
            f"instance={i}.1\nsize=1000\n\n").encode()


def write_requests(path, make, count=REQS):
    """The request stream every peer gets, one file per check (requests end
    with an empty line); loadgen connection c starts at request c*K/N and cycles."""
    with open(path, "wb") as f:
        for i in range(count):
            f.write(make(i))
    return path


def run_load(port, reqfile, conns, seconds=DURATION, warmup=WARMUP):
    """Closed loop, one request in flight per connection (bench/policyd/loadgen.c)."""
    cmd = [LOADGEN, "-a", "127.0.0.1", "-p", str(port), "-f", reqfile, "-c", str(conns),
           "-d", str(seconds), "-w", str(warmup), "-t", "30"]
    out = subprocess.run(pin(GEN_CPUS) + cmd, check=True, capture_output=True, text=True).stdout
    kv = dict(x.split("=", 1) for x in out.split())
    r = {k: float(v) for k, v in kv.items()}
    r["n"], r["conns"] = int(r["answers"]), int(r["conns"])
    return r


def pin(cpus):
    return ["taskset", "-c", cpus] if cpus else []


def wait_port(port, timeout=15):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    tmp = tempfile.mkdtemp(prefix="policyd-bench-")
    os.chmod(tmp, 0o755)
    procs = []
    results = {}
    try:
        # local DNS
        with open(f"{tmp}/spf.test.zone", "w") as f:
            f.write(ZONE.format(dns=DNS_ADDR) + "".join(
                f"d{k} IN TXT \"v=spf1 ip4:198.51.0.0/16 -all\"\n" for k in range(500)))
        with open(f"{tmp}/nsd.conf", "w") as f:
            f.write(f"server:\n  ip-address: {DNS_ADDR}\n  port: 53\n  username: \"\"\n  zonesdir: \"{tmp}\"\n"
                    f"  database: \"\"\n  pidfile: \"{tmp}/nsd.pid\"\n  xfrdfile: \"{tmp}/xfrd.state\"\n"
                    f"  zonelistfile: \"{tmp}/zone.list\"\n  logfile: \"{tmp}/nsd.log\"\n  server-count: 1\n"
                    # no response rate limiting (Debian's nsd has it on: 200 answers/s per
                    # /24): every query comes from 127.0.0.1, and policyd-spf's refused HELO
                    # lookups were being dropped (1 s resolver timeouts counted as its cost)
                    f"  rrl-ratelimit: 0\n"
                    f"remote-control:\n  control-enable: no\nzone:\n  name: spf.test\n  zonefile: spf.test.zone\n")
        with open(f"{tmp}/resolv.conf", "w") as f:
            f.write(f"nameserver {DNS_ADDR}\noptions timeout:1 attempts:1\n")
        subprocess.run(pin(SERVER_CPUS) + ["nsd", "-c", f"{tmp}/nsd.conf"], check=True)
        time.sleep(0.5)

        # emailng-policyd: rate limit only, and SPF only
        pport = free_port()
        with open(f"{tmp}/p.conf", "w") as f:
            f.write(f"listen: 127.0.0.1:{pport}\nuser: emailng-policyd\npid_file: {tmp}/p.pid\n"
                    f"log_file: {tmp}/p.log\nstate_dir: {tmp}/pstate\nmax_connections: 20000\n"
                    f"quota: {{enabled: false}}\n"
                    f"ratelimit: {{authenticated: {{msgs_per_hour: 1000000000, rcpts_per_msg: 0, rcpts_per_day: 0}}}}\n"
                    f"spf: {{enabled: true, reject_fail: true, resolv_conf: {tmp}/resolv.conf, max_checks: 16}}\n")
        subprocess.run(pin(SERVER_CPUS) + [POLICYD, "-c", f"{tmp}/p.conf"], check=True)
        ppid = int(open(f"{tmp}/p.pid").read())

        # postfwd with an equivalent per-sender rate rule
        fport = free_port()
        with open(f"{tmp}/postfwd.cf", "w") as f:
            f.write("id=RATE01; protocol_state==RCPT; "
                    "action=rate(sender/1000000000/3600/450 4.7.1 too many messages)\n")
        subprocess.run(pin(SERVER_CPUS) + ["postfwd", "-f", f"{tmp}/postfwd.cf", "--interface", "127.0.0.1", "--port", str(fport),
                        "--pidfile", f"{tmp}/postfwd.pid", "--user", "nobody", "--group", "nogroup",
                        "--nodns", "--noidlestats", "--daemon"], check=True)
        wait_port(fport)

        # policyd-spf over TCP, one process per connection (as spawn(8) runs it),
        # with the test resolv.conf bind-mounted in a private mount namespace
        sport = free_port()
        with open(f"{tmp}/spawn.py", "w") as f:
            f.write(f"""import os, socket, signal
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', {sport})); s.listen(1024)
while True:
    c, _ = s.accept()
    if os.fork() == 0:
        os.dup2(c.fileno(), 0); os.dup2(c.fileno(), 1)
        os.execve('/usr/bin/python3', ['python3', '/usr/bin/policyd-spf'], {{'PATH': '/usr/bin:/bin'}})
    c.close()
""")
        with open(f"{tmp}/spf.conf", "w") as f:
            f.write("debugLevel = 0\nHELO_reject = Fail\nMail_From_reject = Fail\nPermError_reject = False\n"
                    "TempError_Defer = False\nskip_addresses = \nLookup_Time = 10\n")
        procs.append(subprocess.Popen(pin(SERVER_CPUS) + ["unshare", "-m", "sh", "-c",
                                       f"mount --make-rprivate / && mount --bind {tmp}/resolv.conf /etc/resolv.conf "
                                       f"&& exec /usr/bin/python3 {tmp}/spawn.py"], start_new_session=True))
        wait_port(sport)

        # authenticated submission: a per-user rate limit, no DNS (no SPF)
        ratelimit_req = write_requests(f"{tmp}/ratelimit.req", lambda i: req(i, sasl=True))
        spf_req = write_requests(f"{tmp}/spf.req", lambda i: req(i, sender=f"u{i}@d{i % 500}.spf.test"))

        for n in CONNS:
            results[("A", "emailng-policyd", n)] = run_load(pport, ratelimit_req, n)
            results[("A", "postfwd", n)] = run_load(fport, ratelimit_req, n)
            results[("B", "emailng-policyd", n)] = run_load(pport, spf_req, n)
            results[("B", "policyd-spf-python", n)] = run_load(sport, spf_req, min(n, SPF_MAX_CONNS))

        # 10,000 idle connections
        resource.setrlimit(resource.RLIMIT_NOFILE, (IDLE + 1000, IDLE + 1000))
        base = rss_kb(ppid)
        idle = []
        for _ in range(IDLE):
            idle.append(socket.create_connection(("127.0.0.1", pport)))
        time.sleep(2)
        with_idle = rss_kb(ppid)
        ok = run_load(pport, ratelimit_req, 10, seconds=2, warmup=0)
        for s in idle:
            s.close()
    finally:
        for name in ("p.pid", "postfwd.pid", "nsd.pid"):
            try:
                os.kill(int(open(f"{tmp}/{name}").read()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        for p in procs:     # the spawn server and its policyd-spf children: its own session
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        time.sleep(0.5)

    print(f"\n{DURATION:g} s per run after {WARMUP:g} s warm-up; load generator bench/policyd/loadgen.c "
          f"(closed loop, one request in flight per connection); {os.cpu_count()} CPUs, "
          + (f"servers pinned to CPU {SERVER_CPUS}, generator to CPU {GEN_CPUS}" if PIN
             else "generator and servers share them") + "\n")
    print(f"{'check':11} {'peer':19} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{'p99.9 ms':>8} {'max ms':>8} {'answers':>8} {'err':>4}")
    for (check, peer, _), v in results.items():
        name = "rate limit" if check == "A" else "SPF"
        print(f"{name:11} {peer:19} {v['conns']:5d} {v['rps']:9.0f} {v['p50_ms']:8.3f} {v['p90_ms']:8.3f} "
              f"{v['p99_ms']:8.3f} {v['p999_ms']:8.3f} {v['max_ms']:8.3f} {v['n']:8d} "
              f"{int(v['errors'] + v['bad']):4d}")
    print("\nemailng-policyd beside its baseline (same run, same requests, same generator):")
    for check, name, peer in (("A", "rate limit", "postfwd"), ("B", "SPF", "policyd-spf-python")):
        for n in CONNS:
            me, peer_r = results[(check, "emailng-policyd", n)], results[(check, peer, n)]
            print(f"  {name:10} {n:3d} conns: {me['rps']:8.0f} req/s (p99 {me['p99_ms']:.3f} ms)  vs  "
                  f"{peer} {peer_r['rps']:6.0f} req/s (p99 {peer_r['p99_ms']:.3f} ms, {peer_r['conns']} conns)  "
                  f"= {me['rps'] / max(1e-9, peer_r['rps']):.1f}x")
    print(f"\nemailng-policyd RSS: {base / 1024:.1f} MB before, {with_idle / 1024:.1f} MB with {IDLE} idle "
          f"connections; still answering: {ok['rps']:.0f} req/s, p99 {ok['p99_ms']:.3f} ms")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
