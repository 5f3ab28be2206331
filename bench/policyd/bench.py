#!/usr/bin/env python3
"""Benchmark of emailng-policyd against Debian's postfix-policyd-spf-python
and postfwd (issue: bench/policyd). Everything runs on 127.0.0.x; DNS for
SPF comes from a local nsd (the test zone of tests/policyd/conftest.py).

Same request stream, many concurrent connections (closed loop: each
connection sends a request, waits for the answer, sends the next):
  A. rate-limit check, no DNS: emailng-policyd vs postfwd (equivalent
     per-sender rate rule);
  B. SPF check against the local DNS: emailng-policyd vs policyd-spf
     (driven over TCP the way Postfix's spawn(8) drives it: one process
     per connection on stdin/stdout).
Then: resident memory of emailng-policyd with 10,000 idle connections.
Prints a table; run as root (bench/policyd/run.sh)."""
import asyncio
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
CONNS = int(os.environ.get("BENCH_CONNS", "50"))
IDLE = int(os.environ.get("BENCH_IDLE", "10000"))


def req(i, state="RCPT", sender=None, client=None, sasl=False):
    sender = sender or f"user{i % 500}@example.org"
    auth = f"sasl_username={sender}\n" if sasl else ""
    client = client or f"198.51.{(i // 250) % 250}.{i % 250 + 1}"
    return (f"request=smtpd_access_policy\nprotocol_state={state}\nprotocol_name=ESMTP\n"
            f"{auth}client_address={client}\nclient_name=unknown\nhelo_name=mx{i % 50}.example.org\n"
            f"sender={sender}\nrecipient=rcpt{i % 100}@example.test\nqueue_id=\n"
            f"instance={i}.{time.time_ns()}\nsize=1000\n\n").encode()


async def client(host, port, make, deadline, lat, counter, idx):
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError:
        return
    i = idx * 1000003
    while time.monotonic() < deadline:
        i += 1
        t0 = time.perf_counter()
        w.write(make(i))
        try:
            await w.drain()
            data = await asyncio.wait_for(r.readuntil(b"\n\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            # peers that close after each answer (spawned policyd-spf): reconnect
            w.close()
            try:
                r, w = await asyncio.open_connection(host, port)
            except OSError:
                return
            continue
        lat.append(time.perf_counter() - t0)
        counter[0] += 1
        if not data.startswith(b"action="):
            counter[1] += 1
    w.close()


def run_load(port, make, conns=CONNS, seconds=DURATION):
    lat, counter = [], [0, 0]

    async def main():
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(client("127.0.0.1", port, make, deadline, lat, counter, k) for k in range(conns)))

    t0 = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - t0
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else float("nan")  # noqa: E731
    return {"rps": counter[0] / elapsed, "p50": pct(0.50), "p99": pct(0.99), "n": counter[0], "bad": counter[1]}


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
                    f"remote-control:\n  control-enable: no\nzone:\n  name: spf.test\n  zonefile: spf.test.zone\n")
        with open(f"{tmp}/resolv.conf", "w") as f:
            f.write(f"nameserver {DNS_ADDR}\noptions timeout:1 attempts:1\n")
        subprocess.run(["nsd", "-c", f"{tmp}/nsd.conf"], check=True)
        time.sleep(0.5)

        # emailng-policyd: rate limit only, and SPF only
        pport = free_port()
        with open(f"{tmp}/p.conf", "w") as f:
            f.write(f"listen: 127.0.0.1:{pport}\nuser: emailng-policyd\npid_file: {tmp}/p.pid\n"
                    f"log_file: {tmp}/p.log\nstate_dir: {tmp}/pstate\nmax_connections: 20000\n"
                    f"quota: {{enabled: false}}\n"
                    f"ratelimit: {{authenticated: {{msgs_per_hour: 1000000000, rcpts_per_msg: 0, rcpts_per_day: 0}}}}\n"
                    f"spf: {{enabled: true, reject_fail: true, resolv_conf: {tmp}/resolv.conf, max_checks: 16}}\n")
        subprocess.run([POLICYD, "-c", f"{tmp}/p.conf"], check=True)
        ppid = int(open(f"{tmp}/p.pid").read())

        # postfwd with an equivalent per-sender rate rule
        fport = free_port()
        with open(f"{tmp}/postfwd.cf", "w") as f:
            f.write("id=RATE01; protocol_state==RCPT; "
                    "action=rate(sender/1000000000/3600/450 4.7.1 too many messages)\n")
        subprocess.run(["postfwd", "-f", f"{tmp}/postfwd.cf", "--interface", "127.0.0.1", "--port", str(fport),
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
        procs.append(subprocess.Popen(["unshare", "-m", "sh", "-c",
                                       f"mount --make-rprivate / && mount --bind {tmp}/resolv.conf /etc/resolv.conf "
                                       f"&& exec /usr/bin/python3 {tmp}/spawn.py"], start_new_session=True))
        wait_port(sport)

        # authenticated submission: a per-user rate limit, no DNS (no SPF)
        ratelimit_req = lambda i: req(i, sasl=True)  # noqa: E731
        spf_req = lambda i: req(i, sender=f"u{i}@d{i % 500}.spf.test")  # noqa: E731

        results["A emailng-policyd rate limit"] = run_load(pport, ratelimit_req)
        results["A postfwd rate limit"] = run_load(fport, ratelimit_req)
        results["B emailng-policyd SPF"] = run_load(pport, spf_req)
        results["B policyd-spf-python SPF"] = run_load(sport, spf_req, conns=min(CONNS, 20))

        # 10,000 idle connections
        resource.setrlimit(resource.RLIMIT_NOFILE, (IDLE + 1000, IDLE + 1000))
        base = rss_kb(ppid)
        idle = []
        for _ in range(IDLE):
            idle.append(socket.create_connection(("127.0.0.1", pport)))
        time.sleep(2)
        with_idle = rss_kb(ppid)
        ok = run_load(pport, ratelimit_req, conns=10, seconds=2)
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

    print(f"\nduration {DURATION:.0f} s per run, {CONNS} concurrent connections, 2 CPU cores shared by "
          f"load generator and server\n")
    print(f"{'run':38} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'answers':>9}")
    for k, v in results.items():
        print(f"{k:38} {v['rps']:10.0f} {v['p50']:8.3f} {v['p99']:8.3f} {v['n']:9d}")
    a = results["A emailng-policyd rate limit"]["rps"] / max(1e-9, results["A postfwd rate limit"]["rps"])
    b = results["B emailng-policyd SPF"]["rps"] / max(1e-9, results["B policyd-spf-python SPF"]["rps"])
    print(f"\nthroughput ratio, rate limit (emailng-policyd / postfwd):          {a:.1f}x")
    print(f"throughput ratio, SPF (emailng-policyd / policyd-spf-python):       {b:.1f}x")
    print(f"\nemailng-policyd RSS: {base / 1024:.1f} MB before, {with_idle / 1024:.1f} MB with {IDLE} idle "
          f"connections; still answering: {ok['rps']:.0f} req/s, p99 {ok['p99']:.3f} ms")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
