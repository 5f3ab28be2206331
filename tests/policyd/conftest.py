"""Fixtures for emailng-policyd's raw-protocol tests: each test module
gets its own daemon (real binary, real LMDB, real SPF helper) in a temp
directory, and, for SPF, a real authoritative DNS server (Debian's nsd)
on a loopback address serving the test records."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

POLICYD = os.environ.get("POLICYD", os.path.join(os.path.dirname(__file__), "../../build/emailng-policyd"))
DNS_ADDR = "127.0.0.153"

ZONE = """$ORIGIN spf.test.
$TTL 60
@        IN SOA ns.spf.test. hostmaster.spf.test. 1 3600 600 86400 60
@        IN NS  ns.spf.test.
ns       IN A   {dns}
pass     IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail     IN TXT "v=spf1 -all"
soft     IN TXT "v=spf1 ~all"
neutral  IN TXT "v=spf1 ?all"
macro    IN TXT "v=spf1 exists:%{{l1r+-}}.%{{d4}}.%{{i}}.spf.test -all"
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def policy(sock, **attrs):
    attrs.setdefault("request", "smtpd_access_policy")
    data = "".join(f"{k}={v}\n" for k, v in attrs.items()) + "\n"
    sock.sendall(data.encode())
    return read_answer(sock)


def read_answer(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    text = data.decode()
    assert text.startswith("action=") and text.endswith("\n\n"), repr(text)
    return text[len("action="):-2]


class Daemon:
    def __init__(self, root, conf_extra, table, listen=None):
        self.root = root
        self.port = free_port()
        # TCP unless a test asks for more: these tests drive the protocol
        # from the test process itself (the rendered site listens on a
        # unix socket only; test_unix_socket_serves_only_peer_users).
        listen = listen or f"127.0.0.1:{self.port}"
        self.log = os.path.join(root, "policyd.log")
        self.pidfile = os.path.join(root, "policyd.pid")
        self.conf = os.path.join(root, "policyd.conf")
        self.table = os.path.join(root, "table")
        with open(self.table, "w") as f:
            f.write(table)
        with open(self.conf, "w") as f:
            f.write(f"""listen: {listen}
user: emailng-policyd
pid_file: {self.pidfile}
log_file: {self.log}
state_dir: {root}/state
table: {self.table}
table_check_interval: 1
request_timeout: 2
max_connections: 200
""" + conf_extra)

    def start(self):
        r = subprocess.run([POLICYD, "-c", self.conf], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr + self.read_log()
        self.pid = int(open(self.pidfile).read())

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def read_log(self):
        try:
            return open(self.log).read()
        except OSError:
            return ""


@pytest.fixture(scope="module")
def dns():
    """nsd serving spf.test on DNS_ADDR:53, and a resolv.conf pointing there."""
    if not shutil.which("nsd"):
        pytest.fail("nsd is not installed: run scripts/install-deps.sh (the SPF tests need a real DNS server)")
    root = tempfile.mkdtemp(prefix="policyd-dns-")
    os.chmod(root, 0o755)
    with open(os.path.join(root, "spf.test.zone"), "w") as f:
        f.write(ZONE.format(dns=DNS_ADDR))
    conf = os.path.join(root, "nsd.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
  ip-address: {DNS_ADDR}
  port: 53
  username: ""
  zonesdir: "{root}"
  database: ""
  pidfile: "{root}/nsd.pid"
  xfrdfile: "{root}/xfrd.state"
  zonelistfile: "{root}/zone.list"
  logfile: "{root}/nsd.log"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: spf.test
  zonefile: spf.test.zone
""")
    resolv = os.path.join(root, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"nameserver {DNS_ADDR}\noptions timeout:1 attempts:1\n")
    r = subprocess.run(["nsd", "-c", conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for _ in range(50):
        if os.path.exists(f"{root}/nsd.pid"):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    yield {"resolv_conf": resolv, "root": root}
    try:
        os.kill(int(open(f"{root}/nsd.pid").read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass
    time.sleep(0.2)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def make_daemon():
    made = []

    def make(conf_extra="", table="emailng-policyd-table 1\n", listen=None):
        root = tempfile.mkdtemp(prefix="policyd-proto-")
        os.chmod(root, 0o755)
        d = Daemon(root, conf_extra, table, listen(root) if listen else None)
        d.start()
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()
        shutil.rmtree(d.root, ignore_errors=True)
