#!/usr/bin/env python3
"""What the Prometheus endpoints cost on the small site (O1): `emailng up`
wall time with metrics on and off (alternating rounds, medians), the
memory (PSS) of the added daemons and of Dovecot with and without its stats
listener, and the time of one scrape of each endpoint (median and max of N).

Usage (root): bench/metrics/run.py [--rounds R] [--scrapes N]
Each round starts a small site in its own network namespace and state
directory and removes it after; nothing is left behind.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
ENDPOINTS = {"dovecot": 9900, "postfix": 9154, "emailng": 9901}

_SCRAPE = r"""
import sys, time, urllib.request
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read()
    times.append(time.perf_counter() - t)
print(" ".join("%.6f" % x for x in times))
"""


def site_yaml(metrics_on):
    with open(os.path.join(REPO, "examples", "small-site.yaml")) as f:
        text = f.read()
    assert "metrics:\n  enabled: true" in text, "examples/small-site.yaml: metrics section changed"
    return text.replace("metrics:\n  enabled: true", "metrics:\n  enabled: %s" % ("true" if metrics_on else "false"))


def one_round(metrics_on, scrapes):
    ns = "emailng-benchm-%d" % os.getpid()
    state = tempfile.mkdtemp(prefix="emailng-benchm-")
    os.chmod(state, 0o755)
    site = os.path.join(state, "site.yaml")
    with open(site, "w") as f:
        f.write(site_yaml(metrics_on))
    subprocess.run(["ip", "netns", "add", ns], check=True)
    env = dict(os.environ, EMAILNG_DATADIR=os.environ.get("EMAILNG_DATADIR", REPO))
    out = {}
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        t = time.monotonic()
        r = subprocess.run(["ip", "netns", "exec", ns, EMAILNG, "up", "--site", site, "--state", state],
                           capture_output=True, text=True, env=env)
        out["up_s"] = time.monotonic() - t
        if r.returncode != 0:
            raise SystemExit("emailng up failed:\n" + r.stdout + r.stderr)
        time.sleep(2)
        st = json.loads(subprocess.run(["ip", "netns", "exec", ns, EMAILNG, "status", "--json", "--state", state],
                                       capture_output=True, text=True, env=env).stdout)
        out["pss_kb"] = {s["name"]: s["pss_kb"] for s in st["hosts"][0]["services"]}
        if metrics_on:
            out["scrape_s"] = {}
            for name, port in ENDPOINTS.items():
                r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", _SCRAPE, str(port), str(scrapes)],
                                   capture_output=True, text=True, check=True)
                out["scrape_s"][name] = [float(x) for x in r.stdout.split()]
    finally:
        subprocess.run(["ip", "netns", "exec", ns, EMAILNG, "down", "--state", state], capture_output=True, env=env)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scrapes", type=int, default=20)
    a = ap.parse_args()
    on, off = [], []
    for _ in range(a.rounds):
        off.append(one_round(False, a.scrapes))
        on.append(one_round(True, a.scrapes))
    up_on = statistics.median(r["up_s"] for r in on)
    up_off = statistics.median(r["up_s"] for r in off)
    print("emailng up: %.2f s with metrics, %.2f s without (+%.2f s), medians of %d rounds"
          % (up_on, up_off, up_on - up_off, a.rounds))
    for name in ("postfix-exporter", "metricsd"):
        print("%-17s PSS %.1f MiB" % (name, statistics.median(r["pss_kb"][name] for r in on) / 1024))
    d_on = statistics.median(r["pss_kb"]["dovecot"] for r in on) / 1024
    d_off = statistics.median(r["pss_kb"]["dovecot"] for r in off) / 1024
    print("%-17s PSS %.1f MiB with its stats listener and metrics, %.1f MiB without" % ("dovecot", d_on, d_off))
    for name in ENDPOINTS:
        times = [x for r in on for x in r["scrape_s"][name]]
        print("scrape %-10s median %.1f ms, max %.1f ms (%d scrapes)"
              % (name, statistics.median(times) * 1000, max(times) * 1000, len(times)))


if __name__ == "__main__":
    main()
