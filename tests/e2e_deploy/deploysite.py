"""The full topology deployed onto separate hosts (issue 12; docs/fabric.md
"Separate hosts"), shared by the deployment tests (conftest.py, the
upgrade test) and bench/deploy/run.py: the hosts, the site file, bringing
the hosts up, running `emailng deploy` from the control host, a build
copy for a rolling upgrade, and the clients that load a roll.

examples/ha-site.yaml with two changes: the content filter off unless
asked for (the mail-flow checks do not need it and it costs a minute per
deploy on a loaded machine) and admin_hosts = the control host, so that
each host's firewall lets Ansible's SSH in. Seven separate hosts made by
scripts/hosts.sh (own /etc, /var/lib/emailng, /run ..., sshd with its own
host key) plus the network-only "control" (where `emailng deploy` and
Ansible run) and "client" (the internet and the users). The control
host's key is made by `emailng deploy --print-key` and is the only one the
hosts accept; the hosts' keys go to the control state's ssh/known_hosts.

Environment: EMAILNG (binary), EMAILNG_DATADIR (templates, ansible/).
"""

import collections
import contextlib
import ctypes
import imaplib
import os
import re
import select
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid

from hosts import HOSTS_SH, REPO, hosts_down, on_host

EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
DATADIR = os.environ.get("EMAILNG_DATADIR", REPO)
SITE = os.path.join(REPO, "examples", "ha-site.yaml")
HOSTS = {"relay1": "198.18.0.11", "relay2": "198.18.0.12", "proxy1": "198.18.0.21",
         "proxy2": "198.18.0.22", "store1": "198.18.0.31", "store2": "198.18.0.32",
         "dir1": "198.18.0.41"}
ROLES = {"relay1": "relay", "relay2": "relay", "proxy1": "proxy", "proxy2": "proxy",
         "store1": "store", "store2": "store", "dir1": "directory"}
CONTROL = "198.18.0.5"
CLIENT = "198.18.0.100"          # fabric.client of examples/ha-site.yaml
FABRIC_DNS = "198.18.0.53"       # fabric.dns: the relays' unbound forwards there; nsd while test_ha_checks runs
HOST_STATE = "/var/lib/emailng"
BUILDS_DIR = "/var/lib/emailng/builds"      # where a rolled build goes on each host (private to it)
DOMAIN = "example.test"
CLONE_NEWNET = 0x40000000
MAIL_LOGS = ("relay1", "relay2", "store1", "store2")        # the hosts whose Postfix logs a bounce
# The loads of a roll are far above the site's send limits (S5: 100
# messages an hour per user, 1,000 per client address) and Postfix's 10
# AUTH per client address and minute on submission: the deployment tests'
# site (conftest.py) and bench/deploy's have no send limits, and their
# submissions come from 16 addresses of the client in turn (each then logs
# in 7.5 times a minute at one submission every 0.5 s).
NO_SEND_LIMITS = """
# tests/e2e_deploy, bench/deploy: their loads are far above the default send limits
policy:
  limits:
    user: {msgs_per_hour: 0, rcpts_per_day: 0}
    client: {msgs_per_hour: 0, rcpts_per_day: 0}
"""
SUBMISSION_SOURCES = ["198.18.0.%d" % n for n in range(201, 217)]
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


@contextlib.contextmanager
def in_netns(name):
    """This thread's new sockets come from the fabric namespace `name` meanwhile."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(own)
        os.close(own)
        os.close(target)


def recap(output):
    """{host: (ok, changed, unreachable, failed)} from ansible-playbook's PLAY RECAP."""
    return {m.group(1): tuple(int(m.group(i)) for i in range(2, 6)) for m in RECAP.finditer(output)}


def add_submission_sources(prefix):
    """SUBMISSION_SOURCES as more addresses of the client namespace (once:
    an address it has already is left as it is)."""
    have = subprocess.run(["ip", "-n", prefix + "-client", "-o", "addr", "show", "dev", "eth0"],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    for address in SUBMISSION_SOURCES:
        if " %s/" % address not in have:
            subprocess.run(["ip", "-n", prefix + "-client", "addr", "add", address + "/24", "dev", "eth0"],
                           check=True, timeout=30)


def write_site_file(path, filter_enabled=False, extra=""):
    """examples/ha-site.yaml, the filter as asked, the control host as
    admin host, and EXTRA (more top-level keys) at the end."""
    with open(SITE) as f:
        text = f.read()
    assert "filter:\n  enabled: true\n" in text
    if not filter_enabled:
        text = text.replace("filter:\n  enabled: true\n", "filter:\n  enabled: false\n")
    with open(path, "w") as f:
        f.write(text + "\nadmin_hosts: [%s/32]\n" % CONTROL + extra)


class Deployment:
    def __init__(self, root, prefix):
        self.root = root
        self.prefix = prefix
        self.control = os.path.join(root, "control")
        self.hosts_dir = os.path.join(root, "hosts")
        self.site = os.path.join(root, "site.yaml")
        self.ca = os.path.join(self.control, "tls", "ca.crt")
        self.runs = []           # (seconds, CompletedProcess) per deploy

    def deploy(self, *args):
        started = time.monotonic()
        cp = subprocess.run(["ip", "netns", "exec", self.prefix + "-control", EMAILNG, "--state", self.control,
                             "--site", self.site, "deploy", *args], capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        elapsed = time.monotonic() - started
        self.runs.append((elapsed, cp))
        with open(os.path.join(self.root, "deploy-%d.log" % len(self.runs)), "w") as f:
            f.write(cp.stdout + cp.stderr)
        return cp, elapsed

    def on(self, host, *argv, check=True, input=None):
        return on_host(self.prefix, host, *argv, check=check, input=input)

    def emailng_on(self, host, *args, check=True, input=None):
        return self.on(host, "env", "EMAILNG_DATADIR=" + DATADIR, EMAILNG, "--state", HOST_STATE, *args,
                       check=check, input=input)

    def host_file(self, host, path):
        """A host's file as the machine sees it (DIR/HOST/<dir>/...)."""
        for top, folder in (("/var/lib/emailng/", "var-lib-emailng"), ("/etc/", "etc")):
            if path.startswith(top):
                return os.path.join(self.hosts_dir, host, folder, path[len(top):])
        raise ValueError(path)

    def name_the_proxies(self):
        """The relays' /etc/hosts gets the site's public name (tls.names[0],
        mail.example.test) with both proxies' addresses, as the site's DNS
        would answer it. Their submission logins need it (Dovecot's imap
        passdb logs in at that name, templates/dovecot-relay) and this
        fabric runs no DNS server (nothing answers at fabric.dns: the
        one-machine fabric's nsd is not started here); without it every
        SASL login fails with "dns_lookup(mail.example.test) failed"."""
        for relay in ("relay1", "relay2"):
            with open(self.host_file(relay, "/etc/hosts"), "a") as f:
                f.write("%s\tmail.%s\n%s\tmail.%s\n" % (HOSTS["proxy1"], DOMAIN, HOSTS["proxy2"], DOMAIN))

    def password(self, address):
        """A demo user's password, from the directory host's demo-passwords."""
        out = self.on("dir1", "cat", "/var/lib/emailng/secrets/demo-passwords").stdout
        return dict(line.split() for line in out.splitlines())[address]

    def make_build(self, name, broken=None):
        """A build folder for `deploy --upgrade --build`: this build's
        programs copied under another name (each host then runs other
        files); `broken` names a program replaced by one that fails at once."""
        src = os.path.dirname(os.path.abspath(EMAILNG))
        dst = os.path.join(self.root, name)
        os.makedirs(dst, exist_ok=True)
        for entry in sorted(os.listdir(src)):
            path = os.path.join(src, entry)
            if entry.startswith("emailng") and os.path.isfile(path) and os.access(path, os.X_OK):
                shutil.copy2(path, os.path.join(dst, entry))
        if broken:
            with open(os.path.join(dst, broken), "w") as f:
                f.write("#!/bin/sh\necho 'a broken build' >&2\nexit 1\n")
            os.chmod(os.path.join(dst, broken), 0o755)
        return dst

    def upgrade_group_vars(self, why):
        """The test hosts share /usr and dpkg's database with the machine:
        no package upgrade; the builds go to a folder private to each host."""
        folder = os.path.join(self.control, "ansible", "group_vars")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "all.yml"), "w") as f:
            f.write("---\n# %s: the test hosts share /usr and dpkg's database\n"
                    "emailng_upgrade_packages: false\nemailng_builds_dir: %s\n" % (why, BUILDS_DIR))

    def imap_message_ids(self, user, password, proxy="proxy1"):
        """Counter of the Message-IDs in USER's INBOX, read over IMAP through PROXY."""
        ctx = ssl.create_default_context(cafile=self.ca)
        with in_netns(self.prefix + "-client"):
            m = imaplib.IMAP4_SSL(HOSTS[proxy], 993, ssl_context=ctx, timeout=30)
        try:
            m.login(user, password)
            m.select("INBOX", readonly=True)
            typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            ids = collections.Counter()
            for item in data if typ == "OK" else []:
                if isinstance(item, tuple):
                    found = re.search(rb"<[^>]+>", item[1])
                    if found:
                        ids[found.group(0).decode()] += 1
            return ids
        finally:
            m.logout()

    def store_message_ids(self, store, user):
        """Counter of the Message-IDs in USER's INBOX as STORE's own doveadm reads it from its disk."""
        conf = "/var/lib/emailng/etc/%s/dovecot/dovecot.conf" % store
        cp = self.on(store, "doveadm", "-c", conf, "-f", "tab", "fetch", "-u", user, "hdr.message-id",
                     "mailbox", "INBOX")
        return collections.Counter(re.findall(r"<[^>\s]+>", cp.stdout))


def bring_up(prefix, filter_enabled=False, site_extra=""):
    """Bare hosts for a deployment: a new folder, the site file, the
    control host's key and every host up with sshd (nothing deployed).
    On failure the hosts are removed and the error raised."""
    hosts_down(prefix)           # a crashed earlier run
    root = tempfile.mkdtemp(prefix="emailng-deploy-")
    d = Deployment(root, prefix)
    try:
        write_site_file(d.site, filter_enabled, site_extra)
        cp = subprocess.run([EMAILNG, "--state", d.control, "deploy", "--print-key"], capture_output=True,
                            text=True, timeout=60, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        assert cp.returncode == 0, cp.stderr
        pub = os.path.join(root, "control.pub")
        with open(pub, "w") as f:
            f.write(cp.stdout)
        args = [HOSTS_SH, "up", prefix, d.hosts_dir, "--authorized-key", pub,
                "--known-hosts", os.path.join(d.control, "ssh", "known_hosts"),
                "--dns", FABRIC_DNS, "--own-resolver", "relay1", "--own-resolver", "relay2",
                "--network-only", "control", "--network-only", "client", "--network-only", "dns",
                "control=" + CONTROL, "client=" + CLIENT, "dns=" + FABRIC_DNS]
        args += ["%s=%s" % kv for kv in HOSTS.items()]
        # The hosts run this emailng and its templates: shared even when the
        # repository lies below a host's private /tmp (a clone in CI).
        for path in sorted({REPO, os.path.dirname(os.path.abspath(EMAILNG)), os.path.abspath(DATADIR)}):
            args += ["--share", path]
        up = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
    except BaseException:
        tear_down(d, keep=False)
        raise
    return d


def tear_down(d, keep):
    """Every process of every host gone, the hosts removed; the folder too unless KEEP."""
    hosts_down(d.prefix)
    if keep:
        print("\nkept %s" % d.root)
    else:
        shutil.rmtree(d.root, ignore_errors=True)


class MxLoad(threading.Thread):
    """A message to USER every INTERVAL s through relay1 or relay2
    (alternating first choice; the other when one refuses), as a sending
    MTA with the site's two MX does. `accepted`: the Message-IDs taken;
    `times`: when each was taken (monotonic); `failures`: (time, errors)
    of the messages neither relay took."""

    id_domain = "outside.test"          # of the Message-IDs

    def __init__(self, prefix, user, interval=0.2):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.user = user
        self.interval = interval
        self.stop = threading.Event()
        self.accepted = []
        self.times = []
        self.failures = []

    def _message(self, n, message_id):
        return ("From: sender@outside.test\r\nTo: %s\r\nSubject: roll %d\r\nMessage-ID: %s\r\n\r\n"
                "sent during the rolling upgrade\r\n" % (self.user, n, message_id))

    def _send(self, relay, n, message):
        with smtplib.SMTP(relay, 25, timeout=30) as s:
            s.ehlo("client.outside.test")
            s.sendmail("sender@outside.test", [self.user], message)

    def run(self):
        relays = [HOSTS["relay1"], HOSTS["relay2"]]
        with in_netns(self.prefix + "-client"):
            n = 0
            while not self.stop.is_set():
                message_id = "<%s@%s>" % (uuid.uuid4(), self.id_domain)
                message = self._message(n, message_id)
                errors = []
                for relay in relays[n % 2:] + relays[:n % 2]:
                    try:
                        self._send(relay, n, message)
                        self.accepted.append(message_id)
                        self.times.append(time.monotonic())
                        errors = None
                        break
                    except (OSError, smtplib.SMTPException) as e:
                        errors.append("%s: %r" % (relay, e))
                if errors:
                    self.failures.append((time.monotonic(), errors))
                n += 1
                self.stop.wait(self.interval)


class ImapLoad(threading.Thread):
    """An IMAP login and SELECT every INTERVAL s through proxy1, or proxy2
    when proxy1 refuses; `times`: when each good login ended (monotonic),
    `failures`: the attempts where neither answered."""

    def __init__(self, prefix, ca, user, password, interval=0.5):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.ca = ca
        self.user = user
        self.password = password
        self.interval = interval
        self.stop = threading.Event()
        self.times = []
        self.failures = []

    @property
    def good(self):
        return len(self.times)

    @property
    def longest_gap(self):
        return max((b - a for a, b in zip(self.times, self.times[1:])), default=0.0)

    def _login(self, address):
        ctx = ssl.create_default_context(cafile=self.ca)
        m = imaplib.IMAP4_SSL(address, 993, ssl_context=ctx, timeout=20)
        try:
            m.login(self.user, self.password)
            typ, _ = m.select("INBOX", readonly=True)
            assert typ == "OK"
        finally:
            try:
                m.logout()
            except Exception:
                pass

    def run(self):
        with in_netns(self.prefix + "-client"):
            while not self.stop.is_set():
                errors = []
                for proxy in ("proxy1", "proxy2"):
                    try:
                        self._login(HOSTS[proxy])
                        self.times.append(time.monotonic())
                        errors = None
                        break
                    except Exception as e:       # any failure: the next proxy, as a client does
                        errors.append("%s: %r" % (proxy, e))
                if errors:
                    self.failures.append((time.monotonic(), errors))
                self.stop.wait(self.interval)


class SubmissionLoad(MxLoad):
    """A message from LOGIN to TO every INTERVAL s on 587 (STARTTLS, the
    site CA checked, SASL), relay1 or relay2 first in turn, the other when
    one refuses (MxLoad's loop, its accepted, times and failures); the
    client address cycles through SUBMISSION_SOURCES (add_submission_sources)."""

    id_domain = "submission.test"

    def __init__(self, prefix, ca, login, password, to, interval=0.5):
        super().__init__(prefix, to, interval)
        self.ca, self.login, self.password = ca, login, password
        self.ctx = ssl.create_default_context(cafile=ca)

    def _message(self, n, message_id):
        return ("From: %s\r\nTo: %s\r\nSubject: submitted %d\r\nMessage-ID: %s\r\n\r\n"
                "submitted under load\r\n" % (self.login, self.user, n, message_id))

    def _send(self, relay, n, message):
        source = (SUBMISSION_SOURCES[n % len(SUBMISSION_SOURCES)], 0)
        with smtplib.SMTP(relay, 587, local_hostname="laptop.outside.test", timeout=30,
                          source_address=source) as s:
            s.starttls(context=self.ctx)
            s.login(self.login, self.password)
            s.sendmail(self.login, [self.user], message)


class SessionLost(Exception):
    pass


class ImapSession:
    """A minimal IMAP client over TLS on 993 that can IDLE (imaplib of
    Python 3.11 cannot): lines read from its own buffer with a deadline."""

    def __init__(self, address, ctx, timeout=20):
        raw = socket.create_connection((address, 993), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname=address)
        self.buf = b""
        self.tag = 0
        self.exists = 0
        self.line(time.monotonic() + timeout)        # the greeting

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def line(self, deadline):
        """The next line, or None at the deadline; SessionLost at EOF or BYE."""
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self.sock.pending():
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SessionLost("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        if line.startswith(b"* BYE"):
            raise SessionLost(line.decode(errors="replace"))
        if re.match(rb"\* \d+ EXISTS", line):
            self.exists += 1
        return line

    def command(self, text, timeout=20):
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(deadline)
            if line is None:
                raise SessionLost("no answer to " + text.split()[0])
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise SessionLost(line.decode(errors="replace"))
                return

    def idle(self, timeout=20):
        """IDLE sent and its continuation seen; returns the tag."""
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" IDLE\r\n")
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(deadline)
            if line is None:
                raise SessionLost("no continuation to IDLE")
            if line.startswith(b"+"):
                return tag
            if line.startswith(tag + b" "):
                raise SessionLost(line.decode(errors="replace"))

    def hold(self, seconds):
        """Reads what comes while idling (EXISTS) for SECONDS."""
        deadline = time.monotonic() + seconds
        while self.line(deadline) is not None:
            pass

    def done(self, tag, timeout=20):
        self.sock.sendall(b"DONE\r\n")
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(deadline)
            if line is None:
                raise SessionLost("no answer to DONE")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise SessionLost(line.decode(errors="replace"))
                return


def _quoted(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


class IdleLoad(threading.Thread):
    """One IMAP session that logs in, SELECTs the INBOX and IDLEs; every
    HOLD s it ends the IDLE (DONE, tagged OK) and IDLEs again. A success
    is a session idling again (the first IDLE after a login, or an IDLE
    after a good DONE). A lost session logs in again through its first
    proxy, else the other."""

    def __init__(self, prefix, ca, user, password, first, hold=1.0):
        super().__init__(daemon=True)
        self.prefix, self.ca, self.user, self.password = prefix, ca, user, password
        self.order = [first] + [p for p in ("proxy1", "proxy2") if p != first]
        self.hold = hold
        self.stop = threading.Event()
        self.times = []
        self.failures = []
        self.sessions = 0
        self.exists = 0

    def _session(self, ctx):
        for proxy in self.order:
            try:
                s = ImapSession(HOSTS[proxy], ctx)
            except (OSError, SessionLost) as e:
                self.failures.append((time.monotonic(), "%s: %r" % (proxy, e)))
                continue
            try:
                s.command("LOGIN %s %s" % (_quoted(self.user), _quoted(self.password)))
                s.command("SELECT INBOX")
                return s
            except (OSError, SessionLost) as e:
                s.close()
                self.failures.append((time.monotonic(), "%s: %r" % (proxy, e)))
        return None

    def run(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        with in_netns(self.prefix + "-client"):
            while not self.stop.is_set():
                s = self._session(ctx)
                if s is None:
                    self.stop.wait(0.2)
                    continue
                self.sessions += 1
                try:
                    tag = s.idle()
                    self.times.append(time.monotonic())
                    while not self.stop.is_set():
                        s.hold(self.hold)
                        s.done(tag)
                        tag = s.idle()
                        self.times.append(time.monotonic())
                except (OSError, SessionLost) as e:
                    self.failures.append((time.monotonic(), repr(e)))
                finally:
                    self.exists += s.exists
                    s.close()


def longest_outage(times, started, stopped):
    """The longest time between two successes of a client (TIMES, monotonic),
    STARTED to its first success and its last one to STOPPED included: a
    client failing from the start or to the end shows."""
    points = [started] + [t for t in times if started <= t <= stopped] + [stopped]
    return max(b - a for a, b in zip(points, points[1:]))


def log_sizes(d):
    """{host: size of its Postfix log} of MAIL_LOGS: marks for log_lines_since."""
    out = {}
    for host in MAIL_LOGS:
        path = d.host_file(host, "/var/lib/emailng/log/%s/postfix.log" % host)
        out[host] = os.path.getsize(path) if os.path.exists(path) else 0
    return out


def log_lines_since(d, marks, needle):
    """The lines with NEEDLE ("status=bounced") in MAIL_LOGS' Postfix logs after MARKS (log_sizes)."""
    lines = []
    for host in MAIL_LOGS:
        path = d.host_file(host, "/var/lib/emailng/log/%s/postfix.log" % host)
        if not os.path.exists(path):
            continue
        with open(path, errors="replace") as f:
            f.seek(marks.get(host, 0))
            lines += ["%s: %s" % (host, ln) for ln in f.read().splitlines() if needle in ln]
    return lines
