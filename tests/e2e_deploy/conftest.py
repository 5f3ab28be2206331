"""Fixtures of the deployment tests (issue 12; docs/fabric.md "Separate hosts").

`deployed` (one per session): examples/ha-site.yaml with two changes (the
content filter off, which the mail-flow checks here do not need and which
costs a minute per deploy on a loaded machine; admin_hosts = the control
host, so that each host's firewall lets Ansible's SSH in), seven separate
hosts made by scripts/hosts.sh (own /etc, /var/lib/emailng, /run ...,
sshd with its own host key) plus the network-only "control" (where
`emailng deploy` and Ansible run), "client" (the internet and the users)
and "dns" (fabric.dns; nsd runs there only while test_ha_checks.py does). The control host's key is made by `emailng deploy --print-key` and
is the only one the hosts accept; the hosts' keys go to the control
state's ssh/known_hosts. Then `emailng deploy` runs once from the control
host; the tests look at its result. At the end `hosts.sh down` removes
everything (every process of every host, by namespace).

Environment: EMAILNG (binary), EMAILNG_DATADIR (templates, ansible/),
EMAILNG_E2E_KEEP=1 (keep the folder: control state, hosts' files, logs),
EMAILNG_DEPLOY_PREFIX (the hosts' namespace prefix, default dpd: another
one lets a second run go on beside this one).
"""

import contextlib
import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from hosts import HOSTS_SH, REPO, hosts_down, on_host

# tests/e2e_ha's checks run here too (test_ha_checks.py): their modules and
# helpers import `conftest`, which is this module here, so it offers the
# names they take from theirs (as tests/e2e_pairs/conftest.py does).
HA_DIR = os.path.join(REPO, "tests", "e2e_ha")
_spec = importlib.util.spec_from_file_location("e2e_ha_conftest", os.path.join(HA_DIR, "conftest.py"))
ha_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ha_conftest)
sys.path.append(HA_DIR)          # after this folder: a name of ours is never shadowed
DOMAIN = ha_conftest.DOMAIN
TLS_NAME = ha_conftest.TLS_NAME
resolve = ha_conftest.resolve
status = ha_conftest.status

EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
DATADIR = os.environ.get("EMAILNG_DATADIR", REPO)
SITE = os.path.join(REPO, "examples", "ha-site.yaml")
PREFIX = os.environ.get("EMAILNG_DEPLOY_PREFIX", "dpd")   # another prefix: a second run beside this one
HOSTS = {"relay1": "198.18.0.11", "relay2": "198.18.0.12", "proxy1": "198.18.0.21",
         "proxy2": "198.18.0.22", "store1": "198.18.0.31", "store2": "198.18.0.32",
         "dir1": "198.18.0.41"}
ROLES = {"relay1": "relay", "relay2": "relay", "proxy1": "proxy", "proxy2": "proxy",
         "store1": "store", "store2": "store", "dir1": "directory"}
CONTROL = "198.18.0.5"
CLIENT = "198.18.0.100"          # fabric.client of examples/ha-site.yaml
FABRIC_DNS = "198.18.0.53"       # fabric.dns: the relays' unbound forwards there; nsd while test_ha_checks runs
HOST_STATE = "/var/lib/emailng"
CLONE_NEWNET = 0x40000000
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


@contextlib.contextmanager
def in_netns(name):
    """This process's sockets come from the fabric namespace `name` meanwhile."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(own)
        os.close(own)
        os.close(target)


class Deployment:
    def __init__(self, root):
        self.root = root
        self.control = os.path.join(root, "control")
        self.hosts_dir = os.path.join(root, "hosts")
        self.site = os.path.join(root, "site.yaml")
        self.ca = os.path.join(self.control, "tls", "ca.crt")
        self.runs = []           # (seconds, CompletedProcess) per deploy

    def deploy(self, *args):
        started = time.monotonic()
        cp = subprocess.run(["ip", "netns", "exec", PREFIX + "-control", EMAILNG, "--state", self.control,
                             "--site", self.site, "deploy", *args], capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        elapsed = time.monotonic() - started
        self.runs.append((elapsed, cp))
        with open(os.path.join(self.root, "deploy-%d.log" % len(self.runs)), "w") as f:
            f.write(cp.stdout + cp.stderr)
        return cp, elapsed

    def on(self, host, *argv, check=True, input=None):
        return on_host(PREFIX, host, *argv, check=check, input=input)

    def emailng_on(self, host, *args, check=True, input=None):
        return self.on(host, "env", "EMAILNG_DATADIR=" + DATADIR, EMAILNG, "--state", HOST_STATE, *args,
                       check=check, input=input)

    def host_file(self, host, path):
        """A host's file as the machine sees it (DIR/HOST/<dir>/...)."""
        for top, folder in (("/var/lib/emailng/", "var-lib-emailng"), ("/etc/", "etc")):
            if path.startswith(top):
                return os.path.join(self.hosts_dir, host, folder, path[len(top):])
        raise ValueError(path)


def recap(output):
    """{host: (ok, changed, unreachable, failed)} from ansible-playbook's PLAY RECAP."""
    return {m.group(1): tuple(int(m.group(i)) for i in range(2, 6)) for m in RECAP.finditer(output)}


def _site_file(path):
    with open(SITE) as f:
        text = f.read()
    assert "filter:\n  enabled: true\n" in text
    text = text.replace("filter:\n  enabled: true\n", "filter:\n  enabled: false\n")
    with open(path, "w") as f:
        f.write(text + "\nadmin_hosts: [%s/32]\n" % CONTROL)


@pytest.fixture(scope="session")
def deployed():
    if os.geteuid() != 0:
        pytest.fail("the deployment tests must run as root (namespaces, sshd)")
    hosts_down(PREFIX)           # a crashed earlier run
    root = tempfile.mkdtemp(prefix="emailng-deploy-")
    d = Deployment(root)
    _site_file(d.site)
    try:
        cp = subprocess.run([EMAILNG, "--state", d.control, "deploy", "--print-key"], capture_output=True,
                            text=True, timeout=60, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        assert cp.returncode == 0, cp.stderr
        pub = os.path.join(root, "control.pub")
        with open(pub, "w") as f:
            f.write(cp.stdout)
        args = [HOSTS_SH, "up", PREFIX, d.hosts_dir, "--authorized-key", pub,
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
        d.deploy()
        yield d
    finally:
        hosts_down(PREFIX)
        if os.environ.get("EMAILNG_E2E_KEEP") == "1":
            print("\nkept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
