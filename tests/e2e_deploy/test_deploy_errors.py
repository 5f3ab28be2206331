"""`emailng deploy` refusing to go on (issue 12, bad input): hosts that do
not accept the control host's key stop the run with every host named, and
nothing is installed anywhere; without known host keys nothing starts; a
site file that puts a host at another host's address (relay1 and relay2
swapped) stops the run naming both, and nothing changes on any host."""

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import CONTROL, DATADIR, EMAILNG, HOSTS, PREFIX as DEPLOYED_PREFIX, _site_file, recap
from hosts import HOSTS_SH, hosts_down, on_host

# Hosts of their own (they refuse the control key); beside another run
# (EMAILNG_DEPLOY_PREFIX set) their names follow its prefix.
PREFIX = os.environ["EMAILNG_DEPLOY_PREFIX"] + "e" if os.environ.get("EMAILNG_DEPLOY_PREFIX") else "dpe"


def _deploy(state, site):
    return subprocess.run(["ip", "netns", "exec", PREFIX + "-control", EMAILNG, "--state", state, "--site", site,
                           "deploy"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, EMAILNG_DATADIR=DATADIR))


@pytest.fixture(scope="module")
def wrong_key_hosts(tmp_path_factory):
    d = tmp_path_factory.mktemp("deploy-errors")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "other")], check=True)
    hosts_down(PREFIX)
    args = [HOSTS_SH, "up", PREFIX, str(d / "hosts"), "--authorized-key", str(d / "other.pub"),
            "--known-hosts", str(d / "known_hosts"), "--network-only", "control",
            "control=" + CONTROL] + ["%s=%s" % kv for kv in HOSTS.items()]
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    _site_file(str(d / "site.yaml"))
    try:
        yield d
    finally:
        hosts_down(PREFIX)


def test_without_known_host_keys_nothing_starts(wrong_key_hosts):
    state = str(wrong_key_hosts / "bare")
    cp = _deploy(state, str(wrong_key_hosts / "site.yaml"))
    assert cp.returncode == 1
    assert os.path.join(state, "ssh", "known_hosts") + " is missing" in cp.stderr
    assert not os.path.exists(os.path.join(state, "ansible"))


def test_hosts_refusing_the_key_stop_the_run_with_nothing_installed(wrong_key_hosts):
    state = wrong_key_hosts / "control"
    (state / "ssh").mkdir(parents=True)
    (state / "ssh" / "known_hosts").write_text((wrong_key_hosts / "known_hosts").read_text())
    cp = _deploy(str(state), str(wrong_key_hosts / "site.yaml"))
    assert cp.returncode == 1
    assert "ansible-playbook failed" in cp.stderr
    # The first task (ping, every host at once) names them all.
    for host in HOSTS:
        assert "fatal: [%s]: UNREACHABLE!" % host in cp.stdout, host
    assert "Permission denied (publickey)" in cp.stdout
    for host in HOSTS:
        assert on_host(PREFIX, host, "test", "-e", "/etc/emailng", check=False).returncode == 1, host
        assert on_host(PREFIX, host, "ls", "-A", "/var/lib/emailng").stdout == "", host


def test_swapped_host_addresses_stop_the_run_naming_both_hosts(deployed):
    # A control state of its own (the deployed site's stays as it is), with
    # the same key and known host keys; the site file with relay1 and relay2
    # at each other's address. A short folder: ssh's ControlPath socket
    # below STATE/ansible/cp must fit a Unix socket name (108 bytes), and
    # pytest's tmp_path can be longer than that allows.
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="emailng-swap-"))
    control = tmp_path / "control"
    shutil.copytree(os.path.join(deployed.control, "ssh"), control / "ssh")
    with open(deployed.site) as f:
        text = f.read()
    one, two = HOSTS["relay1"], HOSTS["relay2"]
    assert one in text and two in text
    text = text.replace(one, "@ONE@").replace(two, one).replace("@ONE@", two)
    (tmp_path / "site.yaml").write_text(text)
    cp = subprocess.run(["ip", "netns", "exec", DEPLOYED_PREFIX + "-control", EMAILNG, "--state", str(control),
                         "--site", str(tmp_path / "site.yaml"), "deploy"], capture_output=True, text=True,
                        timeout=600, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "relay1: the machine at %s calls itself relay2" % two in cp.stdout, cp.stdout
    assert "relay2: the machine at %s calls itself relay1" % one in cp.stdout, cp.stdout
    # Every host stopped in the first play: nothing changed anywhere.
    counts = recap(cp.stdout)
    assert set(counts) == set(HOSTS), counts
    assert all(changed == 0 for _, changed, _, _ in counts.values()), counts
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_state_path_too_long_for_ssh_sockets_is_refused_before_anything(tmp_path):
    # ssh's connection sockets live below STATE/ansible/cp; a Unix socket's
    # name has 107 bytes. Said at once, before a key or a folder is made.
    state = str(tmp_path / ("s" * max(1, 69 - len(str(tmp_path)) - 1)))
    assert len(state) == 69
    cp = subprocess.run([EMAILNG, "--state", state, "--site", str(tmp_path / "absent.yaml"), "deploy"],
                        capture_output=True, text=True, timeout=60, env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
    assert cp.returncode == 2, cp.stderr
    assert "is 69 characters long" in cp.stderr and "at most 68: use a shorter --state" in cp.stderr, cp.stderr
    assert not os.path.exists(state)
