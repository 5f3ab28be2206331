"""Separate hosts of the test fabric (scripts/hosts.sh; issue 12, M1).

Two hosts with their own mount namespaces and sshd, and a network-only
control host: root logs in over real SSH with the authorized key only,
checked against the known_hosts that hosts.sh wrote; a file one host writes
under /etc or /var/lib/emailng is not seen by the other; `down` leaves no
process, namespace, mount or folder behind.
"""

import os
import subprocess

import pytest

from hosts import HOSTS_SH, alive, hosts_down, ssh_argv

# Hosts of their own; beside another run (EMAILNG_DEPLOY_PREFIX set) their
# names follow its prefix.
_BASE = os.environ.get("EMAILNG_DEPLOY_PREFIX")
PREFIX = _BASE + "h" if _BASE else "dph"
SCRATCH = _BASE + "x" if _BASE else "dpx"
ADDRS = {"h1": "198.18.0.231", "h2": "198.18.0.232"}
CONTROL = "198.18.0.235"


@pytest.fixture(scope="module")
def fabric(tmp_path_factory):
    d = tmp_path_factory.mktemp("hosts")
    for name in ("good", "wrong"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    args = [HOSTS_SH, "up", PREFIX, str(d / "hosts"), "--authorized-key", str(d / "good.pub"),
            "--known-hosts", str(d / "known_hosts"), "--network-only", "control",
            "control=" + CONTROL] + ["%s=%s" % kv for kv in ADDRS.items()]
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)
    try:
        yield d
    finally:
        hosts_down(PREFIX)


def ssh(d, key, addr, command):
    return subprocess.run(["ip", "netns", "exec", PREFIX + "-control"]
                          + ssh_argv(str(d / key), str(d / "known_hosts")) + ["root@" + addr, command],
                          capture_output=True, text=True, timeout=60)


def test_root_logs_in_with_the_authorized_key_only(fabric):
    ok = ssh(fabric, "good", ADDRS["h1"], "hostname; id -u")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split() == ["h1", "0"]
    refused = ssh(fabric, "wrong", ADDRS["h1"], "true")
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr


def test_host_files_are_private(fabric):
    for path in ("/etc/emailng-test-h1", "/var/lib/emailng/test-h1", "/run/test-h1"):
        assert ssh(fabric, "good", ADDRS["h1"], "echo h1 > " + path).returncode == 0
        seen = ssh(fabric, "good", ADDRS["h2"], "test -e " + path)
        assert seen.returncode == 1, path
        assert not os.path.exists(path), path     # nor on the machine
    assert (fabric / "hosts" / "h1" / "etc" / "emailng-test-h1").read_text() == "h1\n"


def test_down_leaves_nothing(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    subprocess.run([HOSTS_SH, "up", SCRATCH, str(tmp_path / "hosts"), "--authorized-key", str(tmp_path / "k.pub"),
                    "--known-hosts", str(tmp_path / "kh"), "x1=198.18.0.239"],
                   check=True, capture_output=True, timeout=120)
    pid = int((tmp_path / "hosts" / "x1" / "run" / "sshd.pid").read_text())
    assert os.path.exists("/proc/%d" % pid)
    hosts_down(SCRATCH)
    assert not alive(pid)
    assert not os.path.exists("/run/emailng-hosts/%s-x1.mnt" % SCRATCH)
    assert SCRATCH + "-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not (tmp_path / "hosts" / "x1").exists()
