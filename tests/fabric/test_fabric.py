"""scripts/fabric.sh against the real kernel: a 3-host fabric in network
namespaces, ping between hosts, per-namespace resolv.conf and hosts,
cut/heal, partitions, `down` leaving nothing behind, and bad input refused."""
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
FABRIC = os.path.join(ROOT, "scripts/fabric.sh")
PREFIX = f"ft{os.getpid() % 100000}"
HOSTS = {"relay1": "198.18.0.11", "proxy1": "198.18.0.21", "store1": "198.18.0.31"}


def fabric(*args, check=True):
    r = subprocess.run(["sh", FABRIC, *args], capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"fabric.sh {' '.join(args)} failed: {r.stderr}")
    return r


def netns_list():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def in_ns(host, *cmd, prefix=PREFIX):
    return subprocess.run(["ip", "netns", "exec", f"{prefix}-{host}", *cmd],
                          capture_output=True, text=True, timeout=30)


def ping(src, dst_addr, tries=1):
    """One echo, or up to `tries` (after a heal, ARP needs a moment)."""
    for _ in range(tries):
        if in_ns(src, "ping", "-c", "1", "-W", "1", dst_addr).returncode == 0:
            return True
    return False


def leftovers(prefix):
    left = [ns for ns in netns_list() if ns.startswith(prefix + "-")]
    left += [p for p in (f"/etc/netns/{prefix}-{h}" for h in HOSTS) if os.path.exists(p)]
    if os.path.exists(f"/run/emailng-fabric/{prefix}"):
        left.append(f"/run/emailng-fabric/{prefix}")
    return left


@pytest.fixture(scope="module")
def fab():
    fabric("down", PREFIX)
    fabric("up", PREFIX, "--dns", "198.18.0.53", *(f"{h}={a}" for h, a in HOSTS.items()))
    yield PREFIX
    fabric("down", PREFIX)


def test_namespaces_and_addresses(fab):
    names = netns_list()
    for h, a in HOSTS.items():
        assert f"{fab}-{h}" in names
        out = in_ns(h, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        assert f"{a}/24" in out
        assert "UP" in in_ns(h, "ip", "link", "show", "lo").stdout
    assert f"{fab}-br" in names
    # Nothing of the fabric in the root namespace.
    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "v-relay1" not in root_links and "br0" not in root_links


def test_ping_between_every_pair(fab):
    for src in HOSTS:
        for dst, addr in HOSTS.items():
            if src != dst:
                assert ping(src, addr), f"{src} cannot reach {dst} ({addr})"


def test_resolv_conf_and_hosts_per_namespace(fab):
    for h in HOSTS:
        resolv = in_ns(h, "cat", "/etc/resolv.conf").stdout
        assert "nameserver 198.18.0.53" in resolv
        assert "fabric.sh" in resolv
        hosts = in_ns(h, "cat", "/etc/hosts").stdout
        for other, addr in HOSTS.items():
            assert f"{addr}\t{other}" in hosts
    # getent goes through NSS, so names resolve inside the fabric.
    r = in_ns("relay1", "getent", "hosts", "store1")
    assert r.returncode == 0 and "198.18.0.31" in r.stdout


def test_status(fab):
    out = fabric("status", fab).stdout
    for h, a in HOSTS.items():
        line = next(l for l in out.splitlines() if l.startswith(h))
        assert a in line and line.split()[-1] == "up"


def test_cut_and_heal(fab):
    fabric("cut", fab, "store1")
    try:
        assert "store1" in fabric("status", fab).stdout
        assert [l for l in fabric("status", fab).stdout.splitlines()
                if l.startswith("store1")][0].split()[-1] == "cut"
        assert not ping("relay1", HOSTS["store1"])
        assert not ping("store1", HOSTS["proxy1"])
        assert ping("relay1", HOSTS["proxy1"]), "cutting one host must not cut the others"
    finally:
        fabric("heal", fab, "store1")
    assert ping("relay1", HOSTS["store1"], tries=5)
    assert ping("store1", HOSTS["proxy1"], tries=5)


def test_partition_drops_only_between_the_groups(fab):
    fabric("partition", fab, "relay1", "proxy1,store1")
    try:
        assert not ping("relay1", HOSTS["store1"])
        assert not ping("proxy1", HOSTS["relay1"])
        assert ping("proxy1", HOSTS["store1"]), "hosts on the same side still talk"
        # Dropped, not refused: a TCP connect waits for its timeout.
        r = in_ns("relay1", "timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/%s/9" % HOSTS["store1"])
        assert r.returncode == 124, (r.returncode, r.stderr)
    finally:
        fabric("unpartition", fab)
    assert ping("relay1", HOSTS["store1"], tries=5)
    assert ping("proxy1", HOSTS["relay1"], tries=5)


def test_partition_of_unknown_host_refused(fab):
    r = fabric("partition", fab, "relay1", "nosuch", check=False)
    assert r.returncode != 0 and "no host" in r.stderr


def test_cut_unknown_host_refused(fab):
    r = fabric("cut", fab, "nosuch", check=False)
    assert r.returncode != 0 and "no host" in r.stderr


def test_up_twice_refused(fab):
    r = fabric("up", fab, "x=198.18.0.99", check=False)
    assert r.returncode != 0 and "already exists" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["up", "bad1", "a=10.0.0.1"], "only 198.18.0.0/24"),
    (["up", "bad1", "a=198.18.1.1"], "only 198.18.0.0/24"),
    (["up", "bad1", "a=198.18.0.255"], "1..254"),
    (["up", "bad1", "a=198.18.0.0"], "1..254"),
    (["up", "bad1", "a=198.18.0.012"], "not a plain"),
    (["up", "bad1", "a=198.18.0.1/16"], "not a plain"),
    (["up", "bad1", "--dns", "8.8.8.8", "a=198.18.0.1"], "only 198.18.0.0/24"),
    (["up", "bad1", "a=198.18.0.1", "a=198.18.0.2"], "given twice"),
    (["up", "bad1", "a=198.18.0.1", "b=198.18.0.1"], "given twice"),
    (["up", "bad1", "../etc=198.18.0.1"], "bad host name"),
    (["up", "bad1", "a;rm -rf /=198.18.0.1"], "bad host name"),
    (["up", "bad1", "$(id)=198.18.0.1"], "bad host name"),
    (["up", "bad1", "br=198.18.0.1"], "reserved"),
    (["up", "bad1", "averyveryverylonghost=198.18.0.1"], "longer than"),
    (["up", "bad-1", "a=198.18.0.1"], "bad fabric name"),
    (["up", "../x", "a=198.18.0.1"], "bad fabric name"),
    (["up", "", "a=198.18.0.1"], "bad fabric name"),
    (["up", "bad1"], "at least one"),
    (["up", "bad1", "a"], "expected HOST=ADDR"),
    (["down", "x y"], "bad fabric name"),
    (["cut", "bad1", "../../x"], "bad host name"),
    (["frobnicate", "bad1"], "unknown command"),
    (["up", "bad1", "--own-resolver", "b", "a=198.18.0.1"], "--own-resolver b: no such host given"),
    (["up", "bad1", "--own-resolver", "../x", "a=198.18.0.1"], "bad host name"),
    (["up", "bad1", "a=198.18.0.1", "--own-resolver"], "needs a host name"),
])
def test_bad_input_refused(args, message):
    before = netns_list()
    r = fabric(*args, check=False)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert netns_list() == before, "a refused command must not create anything"


def test_own_resolver_hosts_ask_127_0_0_1():
    """--own-resolver HOST: that host runs its own caching resolver (the
    relays' unbound); the others keep the fabric's DNS."""
    prefix = PREFIX + "r"
    fabric("up", prefix, "--dns", "198.18.0.53", "--own-resolver", "a", "a=198.18.0.41", "b=198.18.0.42")
    try:
        a = in_ns("a", "cat", "/etc/resolv.conf", prefix=prefix).stdout
        b = in_ns("b", "cat", "/etc/resolv.conf", prefix=prefix).stdout
        assert [l for l in a.splitlines() if l.startswith("nameserver")] == ["nameserver 127.0.0.1"], a
        assert [l for l in b.splitlines() if l.startswith("nameserver")] == ["nameserver 198.18.0.53"], b
    finally:
        fabric("down", prefix)
    assert leftovers(prefix) == []


def test_down_leaves_nothing_and_is_idempotent():
    prefix = PREFIX + "d"
    fabric("up", prefix, "a=198.18.0.41", "b=198.18.0.42")
    assert leftovers(prefix)
    fabric("down", prefix)
    assert leftovers(prefix) == []
    fabric("down", prefix)          # again: nothing to do, still success
    assert leftovers(prefix) == []


def test_down_after_partial_state():
    """A namespace left by a crashed run (no state file) is still removed."""
    prefix = PREFIX + "p"
    subprocess.run(["ip", "netns", "add", f"{prefix}-orphan"], check=True)
    fabric("down", prefix)
    assert not [ns for ns in netns_list() if ns.startswith(prefix + "-")]
