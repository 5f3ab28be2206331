"""`emailng status` shows what every host of the full topology serves (O1).

Each host runs a per-role variant of its daemons' configuration that opens
only some ports; status lists those: every TCP port open to other hosts
(and local ones of ours), none that is not open, plus what it serves on local sockets
(slapd's ldapi, the relays' Dovecot auth socket for Postfix, emailng-policyd's
policy socket, amavisd's LMTP sockets and clamav-milter's socket).
"""

import subprocess

from conftest import HOSTS, status


def _listening(site, host):
    """{port: set of addresses} of the TCP listeners in the host's namespace."""
    cp = subprocess.run(["ip", "netns", "exec", "%s-%s" % (site.prefix, host), "ss", "-Hltn"],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    ports = {}
    for line in cp.stdout.splitlines():
        address, port = line.split()[3].rsplit(":", 1)      # ADDRESS:PORT
        ports.setdefault(int(port), set()).add(address)
    return ports


def test_status_ports_are_the_ports_each_host_listens_on(ha):
    hosts = {h["name"]: h["services"] for h in status(ha)["hosts"]}
    for host in HOSTS:
        listed = set()
        for svc in hosts[host]:
            listed.update(svc["ports"])
        listening = _listening(ha, host)
        reachable = {p for p, addresses in listening.items() if addresses - {"127.0.0.1"}}
        assert reachable <= listed, (host, reachable, listed)       # every port open to others is shown
        assert listed <= set(listening), (host, listed, listening)  # nothing shown that is not open


def test_status_shows_the_relays_auth_socket(ha):
    hosts = {h["name"]: h["services"] for h in status(ha)["hosts"]}
    for relay in ("relay1", "relay2"):
        dovecot = [s for s in hosts[relay] if s["name"] == "dovecot"][0]
        assert dovecot["ports"] == [] and dovecot["local"] == "auth socket", dovecot
        # emailng-policyd: a unix socket only Postfix may open, no TCP port (local trust)
        policyd = [s for s in hosts[relay] if s["name"] == "policyd"][0]
        assert policyd["ports"] == [] and policyd["local"] == "policy socket", policyd
        assert 10040 not in _listening(ha, relay)
        # the content filter: unix sockets only Postfix may open (local trust)
        amavisd = [s for s in hosts[relay] if s["name"] == "amavisd"][0]
        assert amavisd["ports"] == [] and amavisd["local"] == "lmtp sockets", amavisd
        milter = [s for s in hosts[relay] if s["name"] == "clamav-milter"][0]
        assert milter["ports"] == [] and milter["local"] == "milter socket", milter
    slapd = [s for s in hosts["dir1"] if s["name"] == "slapd"][0]
    assert slapd["ports"] == [636] and slapd["local"] == "ldapi", slapd
    text = ha.emailng("status", "--host", "relay1").stdout
    assert any(line.split()[:2] == ["relay1", "dovecot"] and line.endswith("auth socket")
               for line in text.splitlines()), text
