"""The host firewall of every host of the full topology (X1, issue 4).

`emailng up --host H` loads the table "inet emailng" (templates/nftables-ROLE)
in each host's namespace: input policy drop, and per role only the ports
its peers need (docs/architecture.md, "Firewall"). The relays (DMZ) are
also kept from the directory by their own output rule. A dropped connect
times out; "refused" would mean the packet got through to a closed port.
"""

import json
import os
import signal
import subprocess
import sys

from conftest import HOSTS, status
import hostns

# Every listening service of each role (the proxies' health monitor probes
# 143 and 24 of the stores: the same ports as their sessions).
DIR_LDAPS = 636
QUOTA_STATUS = 12340     # port_quota_status
DOVEADM = 12345          # port_doveadm: replication between the stores of a pair


def _table(site, host):
    return json.loads(hostns.run(site, host, "nft", "-j", "list", "table", "inet", "emailng").stdout)["nftables"]


def test_ruleset_loaded_in_every_host_and_shown_by_status(ha):
    st = status(ha)
    for h in st["hosts"]:
        fw = h["firewall"]
        assert fw["state"] == "loaded" and fw["rules"] > 5 and len(fw["sha256"]) == 12, h
    for host in HOSTS:
        chains = {o["chain"]["name"]: o["chain"] for o in _table(ha, host) if "chain" in o}
        assert chains["input"]["policy"] == "drop", (host, chains)
        assert chains["input"]["hook"] == "input", (host, chains)
    # Hosts of one role get the same rules; the stores differ by their partner.
    fw = {h["name"]: h["firewall"]["sha256"] for h in st["hosts"]}
    assert fw["relay1"] == fw["relay2"] and fw["proxy1"] == fw["proxy2"]
    assert len({fw["relay1"], fw["proxy1"], fw["store1"], fw["dir1"]}) == 4, fw
    # Only the site's hosts: the fabric's DNS and client get no firewall from us.
    for other in ("client", "dns"):
        cp = hostns.run(ha, other, "nft", "list", "table", "inet", "emailng", check=False)
        assert cp.returncode != 0, (other, cp.stdout)
    text = ha.emailng("status").stdout
    assert "table inet emailng loaded:" in text, text


def test_relays_cannot_reach_the_directory_proxies_and_stores_can(ha):
    dir1 = HOSTS["dir1"]

    def relay_drops():
        out = [o["rule"] for o in _table(ha, "relay1") if "rule" in o and o["rule"]["chain"] == "output"]
        return sum(e["counter"]["packets"] for r in out for e in r["expr"] if "counter" in e)

    before = relay_drops()
    assert hostns.connect(ha, "relay1", dir1, DIR_LDAPS) == "timeout"
    assert hostns.connect(ha, "relay2", dir1, DIR_LDAPS) == "timeout"
    # Stopped on the relay itself (its output chain), not only at dir1.
    assert relay_drops() > before
    for host in ("proxy1", "proxy2", "store1", "store2"):
        assert hostns.connect(ha, host, dir1, DIR_LDAPS) == "open", host


def test_the_internet_reaches_only_the_public_services(ha):
    # The pytest process is the client (198.18.0.100).
    for host, port in (("store1", 143), ("store1", 24), ("store1", 25), ("store1", 110), ("store1", 4190),
                       ("proxy1", 24), ("dir1", DIR_LDAPS), ("relay1", 22), ("store1", 22)):
        assert hostns.connect(ha, "client", HOSTS[host], port) == "timeout", (host, port)
    for host, port in (("relay1", 25), ("relay1", 587), ("relay2", 465), ("proxy1", 993), ("proxy2", 143),
                       ("proxy1", 110), ("proxy1", 995), ("proxy1", 4190)):
        assert hostns.connect(ha, "client", HOSTS[host], port) == "open", (host, port)


def test_store_ports_open_to_their_own_peers_only(ha):
    store1 = HOSTS["store1"]
    # quota-status: the relays' policy server only.
    assert hostns.connect(ha, "relay1", store1, QUOTA_STATUS) == "open"
    assert hostns.connect(ha, "relay2", store1, QUOTA_STATUS) == "open"
    assert hostns.connect(ha, "proxy1", store1, QUOTA_STATUS) == "timeout"
    assert hostns.connect(ha, "client", store1, QUOTA_STATUS) == "timeout"
    # Mail for our domains: from the relays, not from the proxies.
    assert hostns.connect(ha, "relay2", store1, 25) == "open"
    assert hostns.connect(ha, "proxy2", store1, 25) == "timeout"
    # Sessions and LMTP: from the proxies, not from the relays.
    for port in (143, 110, 4190, 24):
        assert hostns.connect(ha, "proxy2", store1, port) == "open", port
        assert hostns.connect(ha, "relay1", store1, port) == "timeout", port
    # The proxies' LMTP: from the stores only.
    assert hostns.connect(ha, "store2", HOSTS["proxy1"], 24) == "open"
    assert hostns.connect(ha, "relay1", HOSTS["proxy1"], 24) == "timeout"


def test_replication_port_open_to_the_partner_store_and_the_proxies_only(ha):
    # Something must listen on store1's doveadm port for "open" to mean
    # anything: a plain listener, unless a doveadm server already holds it.
    listener = subprocess.Popen(
        ["ip", "netns", "exec", "%s-store1" % ha.prefix, sys.executable, "-c",
         "import socket, time\n"
         "s = socket.socket()\n"
         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind(('%s', %d)); s.listen(16); print('listening', flush=True)\n"
         "time.sleep(60)\n" % (HOSTS["store1"], DOVEADM)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = listener.stdout.readline()
        assert first.strip() == "listening" or "Address already in use" in listener.stderr.read(), first
        # The partner (replication) and the proxies (their catch-up check).
        for peer in ("store2", "proxy1", "proxy2"):
            assert hostns.connect(ha, peer, HOSTS["store1"], DOVEADM) == "open", peer
        for other in ("relay1", "relay2", "client"):
            assert hostns.connect(ha, other, HOSTS["store1"], DOVEADM) == "timeout", other
    finally:
        if listener.poll() is None:
            os.kill(listener.pid, signal.SIGTERM)
        listener.wait(timeout=10)


def test_up_again_replaces_the_table_and_down_host_removes_it(ha):
    # A rule added by hand is gone after `up` (the table is replaced whole).
    hostns.run(ha, "proxy2", "nft", "add", "rule", "inet", "emailng", "input", "tcp", "dport", "2222", "accept")
    assert "2222" in hostns.run(ha, "proxy2", "nft", "list", "table", "inet", "emailng").stdout
    ha.emailng("up")
    assert "2222" not in hostns.run(ha, "proxy2", "nft", "list", "table", "inet", "emailng").stdout
    ha.emailng("down", "--host", "proxy2")
    try:
        cp = hostns.run(ha, "proxy2", "nft", "list", "table", "inet", "emailng", check=False)
        assert cp.returncode != 0 and "No such file or directory" in cp.stderr, cp.stdout + cp.stderr
        assert [h["firewall"]["state"] for h in status(ha)["hosts"] if h["name"] == "proxy2"] == ["none"]
    finally:
        ha.emailng("up")
    assert [h["firewall"]["state"] for h in status(ha)["hosts"] if h["name"] == "proxy2"] == ["loaded"]
