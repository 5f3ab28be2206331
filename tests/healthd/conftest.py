"""Fixtures for emailng-healthd's integration tests: a test fabric
(scripts/fabric.sh) with a monitor host and two store hosts, a real
Dovecot (IMAP + LMTP, passwd-file probe account) in each store namespace,
and a real emailng-healthd in the monitor namespace."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
FABRIC = os.path.join(ROOT, "scripts/fabric.sh")
HEALTHD = os.environ.get("HEALTHD", os.path.join(ROOT, "build/emailng-healthd"))
PREFIX = f"hd{os.getpid() % 100000}"
HOSTS = {"mon": "198.18.0.10", "proxy": "198.18.0.21", "store1": "198.18.0.31", "store2": "198.18.0.32"}
PROBE_USER = "healthd-probe@store.test"
PROBE_PASSWORD = 'pr0be "secret" \\ pass'
USER = "alice@example.test"
USER_PASSWORD = "alice-pw"

# Timings of the monitor under test (milliseconds).
INTERVAL, TIMEOUT, FAIL_GRACE, RECOVER_GRACE, RECOVER_PROBES = 500, 1000, 1500, 1500, 3
REFUSED_CONFIRM = 200           # fast_fail: refusals this long -> down

STORE_CONF = """\
protocols = imap lmtp
listen = {addr}
base_dir = {root}/run
state_dir = {root}/state
instance_name = {name}
log_path = {root}/dovecot.log
ssl = no
# The store network is internal; the probe logs in with plain IMAP LOGIN.
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid=vmail gid=vmail home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    port = 24
  }}
}}
"""


PROXY_CONF = """\
# A Dovecot 2.3 IMAP proxy that sends each user to the active store of
# the user's pair: passdb 1 authenticates and names the pair (in the real
# site: LDAP, pass_attrs mailHost=emailng_pair); passdb 2 looks the pair up
# in emailng-healthd's passwd-file and adds host=. Re-read when it changes.
protocols = imap
listen = {addr}
base_dir = {root}/run
state_dir = {root}/state
instance_name = {name}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
  result_success = continue-ok
  result_failure = return-fail
  result_internalfail = return-fail
}}
passdb {{
  driver = passwd-file
  args = username_format=%{{passdb:emailng_pair}} {pairs}
  skip = unauthenticated
  result_failure = return-fail
  result_internalfail = return-fail
}}
userdb {{
  driver = static
  args = uid=vmail gid=vmail home=/nonexistent allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def run(*cmd, check=True, timeout=30):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    return r


def ns(host):
    return f"{PREFIX}-{host}"



class Store:
    def __init__(self, top, host):
        self.host = host
        self.addr = HOSTS[host]
        self.root = os.path.join(top, host)
        for d in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        shutil.chown(os.path.join(self.root, "mail"), "vmail", "vmail")
        # A folder named after the store shows which store served a session.
        marker = os.path.join(self.root, "mail", USER, f".on-{host}")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(marker, sub), exist_ok=True)
        with open(os.path.join(self.root, "mail", USER, "subscriptions"), "w") as f:
            f.write(f"on-{host}\n")
        run("chown", "-R", "vmail:vmail", os.path.join(self.root, "mail"))
        with open(os.path.join(self.root, "users"), "w") as f:
            f.write(f"{PROBE_USER}:{{PLAIN}}{PROBE_PASSWORD}\n")
            f.write(f"{USER}:{{PLAIN}}{USER_PASSWORD}\n")
        self.conf = os.path.join(self.root, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(STORE_CONF.format(addr=self.addr, root=self.root, name=f"{PREFIX}-{host}"))

    def start(self):
        # Dovecot forks into the background; keep its stdio off our pipes.
        rc = subprocess.run(["ip", "netns", "exec", ns(self.host), "dovecot", "-c", self.conf],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=30).returncode
        assert rc == 0, f"dovecot on {self.host} failed to start: {self.log()}"
        deadline = time.time() + 10
        while time.time() < deadline:
            if run("ip", "netns", "exec", ns(self.host), "bash", "-c",
                   f"exec 3<>/dev/tcp/{self.addr}/143", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"dovecot on {self.host} did not start: {self.log()}")

    def pids(self):
        out = run("ip", "netns", "pids", ns(self.host), check=False).stdout
        return [int(p) for p in out.split()]

    def kill9(self):
        """The host dies: every process in its namespace, SIGKILL at once."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        while self.pids() and time.time() < deadline:
            time.sleep(0.02)
        # A dead master leaves its pid file; the next start needs it gone.
        for f in ("master.pid",):
            p = os.path.join(self.root, "run", f)
            if os.path.exists(p):
                os.unlink(p)

    def log(self):
        p = os.path.join(self.root, "dovecot.log")
        return open(p).read() if os.path.exists(p) else ""


class Proxy(Store):
    def __init__(self, top, pairs_file):
        self.host = "proxy"
        self.addr = HOSTS["proxy"]
        self.root = os.path.join(top, "proxy")
        for d in ("run", "state"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        with open(os.path.join(self.root, "users"), "w") as f:
            f.write(f"{USER}:{{PLAIN}}{USER_PASSWORD}::::::emailng_pair=pair1 proxy=y\n")
        self.conf = os.path.join(self.root, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(PROXY_CONF.format(addr=self.addr, root=self.root, name=f"{PREFIX}-proxy",
                                      pairs=pairs_file))


IMAP_CLIENT = """
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], 143, timeout=10)
m.login(sys.argv[2], sys.argv[3])
typ, data = m.list()
print(" ".join(d.decode() for d in data))
m.logout()
"""


def imap_list_via(host, addr, user=USER, password=USER_PASSWORD):
    """LIST as the test user through addr, run from inside host's namespace."""
    r = run("ip", "netns", "exec", ns(host), "/usr/bin/python3", "-c", IMAP_CLIENT, addr, user,
            password, check=False)
    return r.stdout if r.returncode == 0 else "ERROR " + r.stderr


class Healthd:
    def __init__(self, top, catchup_flag):
        self.root = os.path.join(top, "healthd")
        os.makedirs(self.root)
        self.table = os.path.join(self.root, "pairs")
        self.passwd = os.path.join(self.root, "pairs.passwd")
        self.log = os.path.join(self.root, "healthd.log")
        self.pwfile = os.path.join(self.root, "probe-password")
        with open(self.pwfile, "w") as f:
            f.write(PROBE_PASSWORD + "\n")
        os.chmod(self.pwfile, 0o600)
        # The pluggable catch-up check: "caught up" while the flag file exists.
        # What it writes to standard error lands in the monitor's log: here
        # the time the store stopped serving, as the monitor hands it over.
        self.catchup = os.path.join(self.root, "caught-up.sh")
        with open(self.catchup, "w") as f:
            f.write('#!/bin/sh\necho "check of $HEALTHD_STORE: down since ${HEALTHD_DOWN_SINCE:-unknown}" >&2\n'
                    f'[ -e "{catchup_flag}-$HEALTHD_STORE" ]\n')
        os.chmod(self.catchup, 0o755)
        self.conf = os.path.join(self.root, "healthd.yaml")
        with open(self.conf, "w") as f:
            f.write(f"""pairs:
  pair1: {{primary: {HOSTS['store1']}, secondary: {HOSTS['store2']}}}
  pair2: {{primary: {HOSTS['store2']}, secondary: {HOSTS['store1']}}}
lmtp_port: 24
imap_port: 143
probe_user: {PROBE_USER}
probe_password_file: {self.pwfile}
interval_ms: {INTERVAL}
timeout_ms: {TIMEOUT}
fail_grace_ms: {FAIL_GRACE}
recover_grace_ms: {RECOVER_GRACE}
recover_probes: {RECOVER_PROBES}
fast_fail: yes
refused_confirm_ms: {REFUSED_CONFIRM}
table: {self.table}
passwd_file: {self.passwd}
log_file: {self.log}
pid_file: {self.root}/healthd.pid
catchup_command: [{self.catchup}]
catchup_timeout_ms: 2000
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns("mon"), HEALTHD, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def read_table(self):
        try:
            with open(self.table) as f:
                return dict(line.split(" ", 1) for line in f.read().splitlines())
        except FileNotFoundError:
            return {}

    def active(self, pair):
        return self.read_table().get(pair, "").strip()

    def wait_active(self, pair, addr, timeout):
        """Seconds until the table names addr for pair (fails after timeout)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.active(pair) == addr:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise AssertionError(f"{pair} not switched to {addr} within {timeout}s; "
                             f"table {self.read_table()}\nlog:\n{self.log_text()}")

    def log_text(self):
        return open(self.log).read() if os.path.exists(self.log) else ""


@pytest.fixture(scope="session")
def fabric():
    subprocess.run(["sh", FABRIC, "down", PREFIX], capture_output=True)
    run("sh", FABRIC, "up", PREFIX, *(f"{h}={a}" for h, a in HOSTS.items()))
    yield PREFIX
    run("sh", FABRIC, "down", PREFIX)


@pytest.fixture(scope="session")
def site(fabric):
    top = tempfile.mkdtemp(prefix="emailng-healthd-")
    os.chmod(top, 0o755)
    flag = os.path.join(top, "caught-up")
    stores = {h: Store(top, h) for h in ("store1", "store2")}
    hd = Healthd(top, flag)
    proxy = Proxy(top, hd.passwd)
    try:
        for s in stores.values():
            open(f"{flag}-{s.addr}", "w").close()
            s.start()
        hd.start()
        hd.wait_active("pair1", HOSTS["store1"], 5)
        proxy.start()
        yield {"top": top, "stores": stores, "healthd": hd, "flag": flag, "proxy": proxy}
    finally:
        hd.stop()
        proxy.kill9()
        for s in stores.values():
            s.kill9()
        shutil.rmtree(top, ignore_errors=True)
