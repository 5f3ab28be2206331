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
import shutil
import smtplib
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

    def __init__(self, prefix, user, interval=0.2):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.user = user
        self.interval = interval
        self.stop = threading.Event()
        self.accepted = []
        self.times = []
        self.failures = []

    def run(self):
        relays = [HOSTS["relay1"], HOSTS["relay2"]]
        with in_netns(self.prefix + "-client"):
            n = 0
            while not self.stop.is_set():
                message_id = "<%s@outside.test>" % uuid.uuid4()
                message = ("From: sender@outside.test\r\nTo: %s\r\nSubject: roll %d\r\nMessage-ID: %s\r\n\r\n"
                           "sent during the rolling upgrade\r\n" % (self.user, n, message_id))
                errors = []
                for relay in relays[n % 2:] + relays[:n % 2]:
                    try:
                        with smtplib.SMTP(relay, 25, timeout=30) as s:
                            s.ehlo("client.outside.test")
                            s.sendmail("sender@outside.test", [self.user], message)
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
