"""The deployed site as tests/e2e_ha's checks see a site (test_ha_checks.py).

tests/e2e_ha's `ha` (conftest.Site) is one state directory that every host
of the fabric shares, and the `emailng` tool run on this machine for the
whole site. Here each host has its own file system (scripts/hosts.sh) and
its own `emailng` (state /var/lib/emailng, site file /etc/emailng/site.yaml,
as `emailng deploy` installed them). DeployedSite offers what those checks
use, each answered by the hosts themselves:

  - local_path(HOST, ...): below HOST's state directory on this machine's
    disk (DIR/hosts/HOST/var-lib-emailng); log(HOST, NAME) reads there;
  - host_path(HOST, ...) and netns(HOST, argv): the path as HOST names it,
    and argv run inside HOST (its mount, UTS and network namespaces);
  - password(ADDRESS): from the directory host's demo-passwords;
  - emailng(...): `status` asks each host for its own and merges them;
    `... --host H` runs on H; `up` is what a host's boot does after a
    crash (kill -9 of all its processes, sshd included): sshd started if it
    is gone, then the host's `emailng up --host H`, on every host.

The internet's DNS (start_dns): nsd in the fabric's "dns" namespace,
authoritative for the site's domains with the records `emailng dns` prints
(the e2e_ha fabric's nsd, templates/nsd), rendered from the site file and
the control host's DKIM keys. It runs only while these checks and
test_upgrade.py's roll under load (its submissions) do.
"""

import json
import os
import shutil
import signal
import subprocess
import time

from conftest import DATADIR, EMAILNG, HOST_STATE, HOSTS, PREFIX
from hosts import alive, on_host, pidfile_alive

HOST_SITE_FILE = "/etc/emailng/site.yaml"      # cmd_deploy.c's HOST_SITE_FILE
# What `emailng up` of the whole site does (fabric_start_order): the
# directory, the stores, the proxies, then the relays.
START_ORDER = ("dir1", "store1", "store2", "proxy1", "proxy2", "relay1", "relay2")


class DeployedSite:
    def __init__(self, deployed):
        self.deployed = deployed
        self.prefix = PREFIX            # the fabric's namespaces: PREFIX-HOST (kill_host, fabric.sh partition)
        self.ca = deployed.ca           # the site CA the control host made and pushed
        self.state = None               # no shared state directory: local_path/host_path per host

    def local_path(self, host, *parts):
        return os.path.join(self.deployed.hosts_dir, host, "var-lib-emailng", *parts)

    def host_path(self, host, *parts):
        return os.path.join(HOST_STATE, *parts)

    def netns(self, host, *argv, input=None):
        return on_host(PREFIX, host, *argv, check=False, input=input, timeout=120)

    def log(self, host, name):
        with open(self.local_path(host, "log", host, name), errors="replace") as f:
            return f.read()

    def password(self, address):
        with open(self.local_path("dir1", "secrets", "demo-passwords")) as f:
            for line in f:
                a, p = line.split()
                if a == address:
                    return p
        raise KeyError(address)

    def emailng(self, *args, input=None, check=True):
        args = list(args)
        if "--host" in args:
            host = args[args.index("--host") + 1]
            cp = self._on(host, args, input)
        elif args[:1] == ["status"]:
            cp = self._status(args)
        elif args == ["up"]:
            cp = self._up_every_host()
        else:
            raise AssertionError("emailng %s: the deployed site runs commands on a host (--host)" % " ".join(args))
        if check and cp.returncode != 0:
            raise AssertionError("emailng %s failed (%d):\n%s%s" % (" ".join(args), cp.returncode,
                                                                   cp.stdout, cp.stderr))
        return cp

    def _on(self, host, args, input=None):
        return self.deployed.emailng_on(host, "--site", HOST_SITE_FILE, *args, check=False, input=input)

    def _status(self, args):
        """Every host's own `status` (--json: one document, all_up of all)."""
        outs = [self._on(host, ["--host", host] + args) for host in HOSTS]
        rc = max(cp.returncode for cp in outs)
        if "--json" not in args:
            return subprocess.CompletedProcess(args, rc, "".join(cp.stdout for cp in outs),
                                               "".join(cp.stderr for cp in outs))
        hosts, all_up = [], True
        for cp in outs:
            doc = json.loads(cp.stdout)
            hosts += doc["hosts"]
            all_up = all_up and doc["all_up"]
        return subprocess.CompletedProcess(args, rc, json.dumps({"hosts": hosts, "all_up": all_up}),
                                           "".join(cp.stderr for cp in outs))

    def _up_every_host(self):
        out, rc = [], 0
        for host in START_ORDER:
            self._sshd_running(host)
            cp = self._on(host, ["--host", host, "up"])
            out.append("== %s\n%s%s" % (host, cp.stdout, cp.stderr))
            rc = rc or cp.returncode
        return subprocess.CompletedProcess(["up"], rc, "".join(out), "")

    def _sshd_running(self, host):
        """sshd as the host's boot starts it (scripts/hosts.sh up), if a kill took it."""
        pidfile = os.path.join(self.deployed.hosts_dir, host, "run", "sshd.pid")
        if pidfile_alive(pidfile):
            return
        on_host(PREFIX, host, "/usr/sbin/sshd")
        if _wait_pidfile(pidfile, 10) is None:
            raise AssertionError("sshd of %s did not start again" % host)


def _wait_pidfile(path, timeout):
    """The daemon's pid once the process its pid file names runs, or None."""
    deadline = time.monotonic() + timeout
    while True:
        pid = pidfile_alive(path)
        if pid or time.monotonic() > deadline:
            return pid
        time.sleep(0.1)


def start_dns(deployed):
    """nsd in PREFIX-dns with the site's zones; returns its pid."""
    state = os.path.join(deployed.root, "fabric-dns")
    dkim = os.path.join(deployed.control, "secrets", "dkim")
    if os.path.isdir(dkim):
        shutil.copytree(dkim, os.path.join(state, "secrets", "dkim"), dirs_exist_ok=True)   # started before
    for folder in ("run/fabric-dns", "log/fabric-dns"):
        os.makedirs(os.path.join(state, folder), exist_ok=True)
    subprocess.run([EMAILNG, "--state", state, "--site", deployed.site, "render", "--out",
                    os.path.join(state, "etc")], check=True, capture_output=True, timeout=120,
                   env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
    conf = os.path.join(state, "etc", "fabric-dns", "nsd", "nsd.conf")
    subprocess.run(["ip", "netns", "exec", PREFIX + "-dns", "/usr/sbin/nsd", "-c", conf], check=True,
                   capture_output=True, timeout=60)
    pid = _wait_pidfile(os.path.join(state, "run", "fabric-dns", "nsd.pid"), 20)
    if pid is None:
        raise AssertionError("nsd did not start; see %s" % os.path.join(state, "log", "fabric-dns", "nsd.log"))
    return pid


def stop_dns(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


__all__ = ["DeployedSite", "start_dns", "stop_dns"]
