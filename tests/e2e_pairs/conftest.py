"""Fixtures of the store-pair tests (issue 15, A2): the full topology grown
by a second store pair while it runs.

Its own fabric, so that the tests/e2e_ha suite keeps its seven hosts and
its start-up time: `emailng up` of examples/ha-site.yaml (with the changes
tests/e2e_ha/conftest.py makes: the relays' test signatures, admin_hosts,
ALT storage), then `emailng up` again with the same file plus store3 and
store4 as pair2 (tests/e2e_pairs/ha-site-2pairs.yaml; the unit test
test_store_pairs.c holds the two files together). The second `up`'s output
is kept for the test of what it started and restarted.

tests/e2e_ha's helpers (clients.py, hostns.py) are reused: they import
`conftest`, which is this module here, so it offers the same names.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HA_DIR = os.path.join(os.path.dirname(HERE), "e2e_ha")
_spec = importlib.util.spec_from_file_location("e2e_ha_conftest", os.path.join(HA_DIR, "conftest.py"))
ha_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ha_conftest)
sys.path.insert(0, HA_DIR)

EMAILNG = ha_conftest.EMAILNG
DATADIR = ha_conftest.DATADIR
DOMAIN = ha_conftest.DOMAIN
TLS_NAME = ha_conftest.TLS_NAME
FABRIC_DNS = ha_conftest.FABRIC_DNS
MONITOR = ha_conftest.MONITOR
resolve = ha_conftest.resolve
status = ha_conftest.status
HOSTS = dict(ha_conftest.HOSTS, store3="198.18.0.33", store4="198.18.0.34")
TWO_PAIRS = os.path.join(HERE, "ha-site-2pairs.yaml")


def two_pairs_file(state, one_pair_input):
    """The site input of the first `up` with the hosts of pair2 added (the
    store3/store4 entries of ha-site-2pairs.yaml, before dir1)."""
    with open(TWO_PAIRS) as f:
        fixture = f.read()
    block = fixture[fixture.index("  - name: store3"):fixture.index("  - name: dir1")]
    with open(one_pair_input) as f:
        text = f.read()
    assert "  - name: dir1" in text, "ha-site.yaml: the directory host moved"
    path = os.path.join(state, "site-input-2pairs.yaml")
    with open(path, "w") as f:
        f.write(text.replace("  - name: dir1", block + "  - name: dir1", 1))
    return path


def _run_up(state, site_input):
    argv = [EMAILNG, "--state", state, "up", "--site", site_input]
    t0 = time.time()
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
    except subprocess.TimeoutExpired as e:
        cp = subprocess.CompletedProcess(argv, -1, (e.stdout or b"").decode(errors="replace") + "\n(timed out)",
                                         (e.stderr or b"").decode(errors="replace"))
    return cp, time.time() - t0


@pytest.fixture(scope="session")
def pairs():
    if os.geteuid() != 0:
        pytest.fail("the store-pair tests need root (they create network namespaces)")
    state = tempfile.mkdtemp(prefix="emailng-pairs-")
    os.chmod(state, 0o755)      # clamd (user clamav) reads the signatures below it
    one = ha_conftest.site_file(state)
    cp, _ = _run_up(state, one)
    m = re.search(r"test fabric (en[0-9a-f]{8})", cp.stdout)
    site = ha_conftest.Site(state, m.group(1) if m else None)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if cp.returncode != 0:
            raise AssertionError("emailng up (one pair) failed (%d):\n%s%s" % (cp.returncode, cp.stdout, cp.stderr))
        grow, seconds = _run_up(state, two_pairs_file(state, one))
        site.grow_output = grow.stdout
        site.grow_seconds = seconds
        if grow.returncode != 0:
            raise AssertionError("emailng up (second pair) failed (%d):\n%s%s"
                                 % (grow.returncode, grow.stdout, grow.stderr))
        client = os.open("/run/netns/%s-client" % site.prefix, os.O_RDONLY)
        ha_conftest._setns(client)
        os.close(client)
        yield site
    finally:
        ha_conftest._setns(own)
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
