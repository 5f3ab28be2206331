"""Webmail benchmark (issue 13, C3; docs/admin-manual.md "Webmail"): a small
site in its own network namespace, Roundcube under php-fpm behind nginx.

Measures, and prints beside a baseline:
  - login-to-inbox time over HTTP (GET the login page, POST the login, GET
    the mail page, GET the inbox list): median and max of BENCH_LOGINS runs;
    baseline: one GET of a static nginx file;
  - requests/s and latency (p50, p95) of the inbox view (Roundcube's list
    request, what the browser asks every refresh) with BENCH_SESSIONS
    concurrent logged-in sessions (each its own user, client address and
    keep-alive connection) for BENCH_SECONDS; baseline: the same load on a
    static file (the Thunderbird autoconfig XML nginx serves);
  - nginx and php-fpm memory (PSS of master + workers, /proc/PID/smaps_rollup)
    at rest (after the logins) and the peak under the inbox load.
Every request goes to 127.0.0.1 inside the namespace and the loops are
bounded in time. Needs root and the packages of scripts/install-deps.sh.
"""
import http.client
import json
import os
import re
import shutil
import imaplib
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "20"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
LOGINS = int(os.environ.get("BENCH_LOGINS", "5"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "50"))
NAME = "mail.example.test"
CLONE_NEWNET = 0x40000000


def setns(path):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def emailng(state, *args, stdin=None):
    r = subprocess.run([EMAILNG, *args, "--state", state], input=stdin, capture_output=True, text=True,
                       env=dict(os.environ, EMAILNG_DATADIR=REPO), timeout=300)
    if r.returncode != 0:
        raise SystemExit("emailng %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


class Client:
    """One browser's worth of HTTP: a keep-alive TLS connection from its own
    loopback address, Roundcube's cookies and request token."""

    def __init__(self, ca, source):
        self.ctx = ssl.create_default_context(cafile=ca)
        self.source = source
        self.cookies = {}
        self.token = None
        self.conn = None

    def _connect(self):
        conn = http.client.HTTPSConnection(NAME, 443, timeout=60, context=self.ctx)
        raw = socket.create_connection(("127.0.0.1", 443), 60, source_address=(self.source, 0))
        conn.sock = self.ctx.wrap_socket(raw, server_hostname=NAME)
        self.conn = conn

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self._connect()
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self._connect()
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if value in ("", "-del-"):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def login(self, user, password):
        status, _, page = self.request("GET", "/webmail/")
        token = re.search(rb'name="_token" value="([^"]+)"', page)
        assert status == 200 and token, (status, page[:300])
        form = urllib.parse.urlencode({"_token": token.group(1).decode(), "_task": "login", "_action": "login",
                                       "_timezone": "UTC", "_url": "", "_user": user, "_pass": password})
        status, headers, body = self.request("POST", "/webmail/?_task=login", form,
                                             {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302 and "_task=mail" in headers.get("location", ""), (status, headers, body[:300])
        status, _, page = self.request("GET", "/webmail/?_task=mail&_mbox=INBOX")
        token = re.search(rb'"request_token":"([^"]+)"', page)
        assert status == 200 and token, (status, page[:300])
        self.token = token.group(1).decode()

    def inbox(self):
        status, _, body = self.request("GET", "/webmail/?_task=mail&_action=list&_mbox=INBOX&_page=1&_remote=1",
                                       headers={"X-Roundcube-Request": self.token,
                                                "X-Requested-With": "XMLHttpRequest"})
        assert status == 200 and b"add_message_row" in body, (status, body[:300])


def pss_kb(pidfile):
    """PSS (KiB) of the process in pidfile and its children."""
    try:
        root = int(open(pidfile).read().split()[0])
    except (OSError, ValueError):
        return 0
    pids = [root]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()
                if int(fields[1]) == root:
                    pids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    total = 0
    for p in pids:
        try:
            for line in open("/proc/%d/smaps_rollup" % p):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def load(clients, action, seconds):
    """Each client repeats action for seconds; returns (requests, latencies)."""
    lat, lock = [], threading.Lock()
    stop = time.monotonic() + seconds

    def run(c):
        mine = []
        while time.monotonic() < stop:
            t = time.monotonic()
            action(c)
            mine.append(time.monotonic() - t)
        with lock:
            lat.extend(mine)
    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat), sorted(lat)


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))] * 1000 if sorted_values else 0


def main():
    ns = "emailng-bench-webmail-%d" % os.getpid()
    state = tempfile.mkdtemp(prefix="emailng-bench-webmail-")
    os.chmod(state, 0o755)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    orig = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        setns("/var/run/netns/" + ns)
        emailng(state, "up")
        ca = os.path.join(state, "tls", "ca.crt")
        run_dir = os.path.join(state, "run", "mail")
        users = []
        for i in range(SESSIONS):
            user, pw = "bench%02d-%s@example.test" % (i, uuid.uuid4().hex[:6]), "Pw-" + uuid.uuid4().hex
            emailng(state, "user", "add", user, "--password-stdin", stdin=pw + "\n")
            users.append((user, pw))
        # The INBOXes, filled over IMAP (APPEND: no content filter in the way).
        for user, pw in users:
            m = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ssl.create_default_context(cafile=ca))
            m.login(user, pw)
            for n in range(MESSAGES):
                m.append("INBOX", None, None,
                         ("From: <bench@example.test>\r\nTo: <%s>\r\nSubject: bench %d\r\n"
                          "Message-ID: <%s@bench>\r\n\r\nbody %d\r\n" % (user, n, uuid.uuid4().hex, n)).encode())
            m.logout()

        # Login to inbox (one client address, one user; fresh session each time).
        times = []
        for i in range(LOGINS):
            c = Client(ca, "127.0.0.2")
            t = time.monotonic()
            c.login(*users[0])
            c.inbox()
            times.append(time.monotonic() - t)
        static = []
        for i in range(LOGINS):
            c = Client(ca, "127.0.0.3")
            t = time.monotonic()
            assert c.request("GET", "/mail/config-v1.1.xml")[0] == 200
            static.append(time.monotonic() - t)

        clients = [Client(ca, "127.0.1.%d" % (i + 1)) for i in range(SESSIONS)]
        for c, (user, pw) in zip(clients, users):
            c.login(user, pw)
        time.sleep(2)
        rest = {"nginx": pss_kb(os.path.join(run_dir, "nginx", "nginx.pid")),
                "php-fpm": pss_kb(os.path.join(run_dir, "roundcube", "php-fpm.pid"))}
        peak = dict(rest)
        sampling = [True]

        def sample():
            while sampling[0]:
                peak["nginx"] = max(peak["nginx"], pss_kb(os.path.join(run_dir, "nginx", "nginx.pid")))
                peak["php-fpm"] = max(peak["php-fpm"], pss_kb(os.path.join(run_dir, "roundcube", "php-fpm.pid")))
                time.sleep(0.5)
        sampler = threading.Thread(target=sample)
        sampler.start()
        n, lat = load(clients, Client.inbox, SECONDS)
        sampling[0] = False
        sampler.join()
        sclients = [Client(ca, "127.0.2.%d" % (i + 1)) for i in range(SESSIONS)]
        sn, slat = load(sclients, lambda c: c.request("GET", "/mail/config-v1.1.xml"), SECONDS)

        print("webmail benchmark: %d sessions, %d messages per INBOX, %.0f s per load, %d logins" %
              (SESSIONS, MESSAGES, SECONDS, LOGINS))
        print("%-44s %14s %14s" % ("", "webmail", "static nginx"))
        print("%-44s %11.0f ms %11.1f ms" % ("login to inbox, median (baseline: one GET)",
                                             statistics.median(times) * 1000, statistics.median(static) * 1000))
        print("%-44s %11.0f ms %11.1f ms" % ("login to inbox, max", max(times) * 1000, max(static) * 1000))
        print("%-44s %14.1f %14.1f" % ("inbox view, requests/s (%d sessions)" % SESSIONS, n / SECONDS, sn / SECONDS))
        print("%-44s %11.0f ms %11.1f ms" % ("inbox view latency p50", pct(lat, 0.5), pct(slat, 0.5)))
        print("%-44s %11.0f ms %11.1f ms" % ("inbox view latency p95", pct(lat, 0.95), pct(slat, 0.95)))
        print("memory (PSS, master + workers): nginx %.1f MiB at rest, %.1f MiB peak; php-fpm %.1f MiB at rest, "
              "%.1f MiB peak under the inbox load" % (rest["nginx"] / 1024, peak["nginx"] / 1024,
                                                     rest["php-fpm"] / 1024, peak["php-fpm"] / 1024))
        print(json.dumps({"login_ms_median": round(statistics.median(times) * 1000, 1),
                          "inbox_rps": round(n / SECONDS, 1), "static_rps": round(sn / SECONDS, 1),
                          "inbox_p95_ms": round(pct(lat, 0.95), 1), "mem_kib_rest": rest, "mem_kib_peak": peak}))
    finally:
        try:
            emailng(state, "down")
        finally:
            setns("/proc/self/fd/%d" % orig)
            os.close(orig)
            subprocess.run(["ip", "netns", "del", ns])
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
