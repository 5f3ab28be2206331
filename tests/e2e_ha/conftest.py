"""Fixtures of the full-topology tests (issue 4; docs/architecture.md).

One instance of examples/ha-site.yaml for the session: `emailng up --site
examples/ha-site.yaml --state TMP` makes the test fabric (one network
namespace per host, plus "dns" and "client") and starts every host inside
its namespace. The pytest process then enters the "client" namespace
(setns(2) on the main thread), so test sockets come from 198.18.0.100, a
client on the internet. At the end it returns to its own namespace and
runs `emailng down`, which stops every daemon and removes the fabric; the
fixture checks that no namespace is left.

The site file is examples/ha-site.yaml with four changes: the relays' ClamAV
reads a signature database built here with sigtool (EICAR and a test
pattern; there is no signature download), as the small site's filter tests
do; admin_hosts is the fabric's "dns" namespace (MONITOR), the side
from which the metrics tests scrape; the stores have ALT storage in
STATE/alt-fs (storage.alt_path); and webmail is on (both proxies run
Roundcube; test_webmail).

Environment: EMAILNG (binary), EMAILNG_DATADIR (templates), EMAILNG_E2E_KEEP=1
(keep the state directory).
"""

import ctypes
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMAILNG = os.environ.get("EMAILNG", os.path.join(REPO, "build", "emailng"))
DATADIR = os.environ.get("EMAILNG_DATADIR", REPO)
SITE = os.path.join(REPO, "examples", "ha-site.yaml")

HOSTS = {"relay1": "198.18.0.11", "relay2": "198.18.0.12", "proxy1": "198.18.0.21",
         "proxy2": "198.18.0.22", "store1": "198.18.0.31", "store2": "198.18.0.32",
         "dir1": "198.18.0.41"}
TLS_NAME = "mail.example.test"
DOMAIN = "example.test"
FABRIC_DNS = "198.18.0.53"      # fabric.dns of examples/ha-site.yaml (nsd)
MONITOR = FABRIC_DNS            # admin_hosts of the test site (the "dns" namespace): Prometheus' side
CLONE_NEWNET = 0x40000000

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
TEST_PATTERN = b"EMAILNG-E2E-HA-SIGTOOL-PATTERN-5d2e9a40"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


class Site:
    def __init__(self, state, prefix):
        self.state = state
        self.prefix = prefix
        self.ca = os.path.join(state, "tls", "ca.crt")

    def emailng(self, *args, input=None, check=True):
        cp = subprocess.run([EMAILNG, "--state", self.state, *args], input=input,
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        if check and cp.returncode != 0:
            raise AssertionError("emailng %s failed (%d):\n%s%s" % (" ".join(args), cp.returncode,
                                                                   cp.stdout, cp.stderr))
        return cp

    def password(self, address):
        with open(os.path.join(self.state, "secrets", "demo-passwords")) as f:
            for line in f:
                a, p = line.split()
                if a == address:
                    return p
        raise KeyError(address)

    def netns(self, host, *argv, input=None):
        """argv run inside HOST's network namespace."""
        return subprocess.run(["ip", "netns", "exec", "%s-%s" % (self.prefix, host), *argv], input=input,
                              capture_output=True, text=True, timeout=120)

    # Where HOST's files are. Here every host shares the one state
    # directory; the deployed site (tests/e2e_deploy/deployed_site.py) gives
    # each host its own, so the helpers ask for a host's path through these.
    def local_path(self, host, *parts):
        """A path below HOST's state directory as this process opens it."""
        return os.path.join(self.state, *parts)

    def host_path(self, host, *parts):
        """The same path as commands run by netns(HOST, ...) name it."""
        return os.path.join(self.state, *parts)

    def log(self, host, name):
        with open(self.local_path(host, "log", host, name), errors="replace") as f:
            return f.read()


def build_signatures(folder):
    """A ClamAV database made with sigtool: body patterns (.ndb, any offset)."""
    os.mkdir(folder)
    lines = []
    for name, data in (("EmailNG.E2E.EICAR", EICAR), ("EmailNG.E2E.Pattern", TEST_PATTERN)):
        hexed = subprocess.run(["sigtool", "--hex-dump"], input=data, capture_output=True, check=True).stdout
        lines.append("%s:0:*:%s" % (name, hexed.decode().strip()))
    path = os.path.join(folder, "emailng-e2e-ha.ndb")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(folder, 0o755)


def site_file(state):
    """examples/ha-site.yaml with the relays' signatures from build_signatures."""
    sigs = os.path.join(state, "signatures")
    build_signatures(sigs)
    with open(SITE) as f:
        text = f.read()
    assert "  enabled: true\n  signatures: /var/lib/clamav" in text, "ha-site.yaml: filter section changed"
    # The webmail on both proxies (issue 13, C3; off by default on several
    # hosts): test_webmail logs in through each.
    assert "\nwebmail: {enabled: false}\n" in text, "ha-site.yaml: webmail line changed"
    text = text.replace("\nwebmail: {enabled: false}\n", "\nwebmail: {enabled: true}\n")
    path = os.path.join(state, "site-input.yaml")
    with open(path, "w") as f:
        f.write(text.replace("signatures: /var/lib/clamav", "signatures: " + sigs))
        # The fabric's DNS namespace stands in for the administrators'
        # monitoring machine: the one admin host (ssh, metrics ports).
        f.write("\nadmin_hosts: [%s]\n" % MONITOR)
        # Each store's ALT storage (issue 15, M2) in STATE/alt-fs/STORE:
        # every full-topology test runs with it (test_alt_storage moves mail).
        f.write("storage: {alt_path: %s}\n" % os.path.join(state, "alt-fs"))
    return path


@pytest.fixture(scope="session")
def ha():
    if os.geteuid() != 0:
        pytest.fail("the full topology tests need root (they create network namespaces)")
    state = tempfile.mkdtemp(prefix="emailng-ha-")
    os.chmod(state, 0o755)      # clamd (user clamav) reads the signatures below it
    argv = [EMAILNG, "--state", state, "up", "--site", site_file(state)]
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
    except subprocess.TimeoutExpired as e:
        # Still clean up below: `down` stops whatever hosts came up and removes the fabric.
        cp = subprocess.CompletedProcess(argv, -1, (e.stdout or b"").decode(errors="replace") + "\n(timed out after 600 s)",
                                         (e.stderr or b"").decode(errors="replace"))
    m = re.search(r"test fabric (en[0-9a-f]{8})", cp.stdout)
    site = Site(state, m.group(1) if m else None)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if cp.returncode != 0:
            raise AssertionError("emailng up --site ha-site.yaml failed (%d):\n%s%s"
                                 % (cp.returncode, cp.stdout, cp.stderr))
        client = os.open("/run/netns/%s-client" % site.prefix, os.O_RDONLY)
        _setns(client)
        os.close(client)
        yield site
    finally:
        _setns(own)
        os.close(own)
        down = subprocess.run([EMAILNG, "--state", state, "down"], capture_output=True, text=True,
                              timeout=300, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        if site.prefix and site.prefix in left:
            subprocess.run(["sh", os.path.join(DATADIR, "scripts", "fabric.sh"), "down", site.prefix])
        if os.environ.get("EMAILNG_E2E_KEEP") != "1":
            shutil.rmtree(state, ignore_errors=True)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not (site.prefix and site.prefix in left), "namespaces left after down:\n" + left


def status(site):
    return json.loads(site.emailng("status", "--json", check=False).stdout)


def resolve(name, rdtype):
    """Ask the fabric's DNS (the client's resolver) for name's records."""
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [FABRIC_DNS]
    r.lifetime = 5
    return list(r.resolve(name, rdtype))
