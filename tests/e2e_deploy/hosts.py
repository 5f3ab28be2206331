"""Helpers of the deployment tests: scripts/hosts.sh and ssh."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTS_SH = os.path.join(REPO, "scripts", "hosts.sh")


def hosts_down(prefix):
    subprocess.run([HOSTS_SH, "down", prefix], check=True, capture_output=True, timeout=120)


def ssh_argv(key, known_hosts):
    return ["ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "UserKnownHostsFile=" + known_hosts, "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=10"]


def on_host(prefix, host, *argv, check=True, input=None, timeout=300):
    """Runs argv inside a separate host (its mount, UTS and network namespaces)."""
    cp = subprocess.run([HOSTS_SH, "exec", prefix, host, *argv], capture_output=True, text=True,
                        input=input, timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError("%s on %s failed (%d):\n%s%s" % (" ".join(argv), host, cp.returncode,
                                                              cp.stdout, cp.stderr))
    return cp


def alive(pid):
    """Running: not gone and not a zombie (exited, waiting for its parent)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


def pidfile_alive(path):
    """The pid a daemon wrote to path, if that process runs; else None."""
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if alive(pid) else None
