"""Prometheus endpoints of the full topology (O1; docs/admin-manual.md, "Monitoring").

Every host serves its endpoints on its own address; its firewall admits
only the site's admin_hosts (here MONITOR, the fabric's "dns" namespace)
to them. From there: each endpoint a role has answers and parses; the
proxies' emailng-metricsd shows the stores as their health monitors see
them, the stores' their replicator; a login through a proxy counts as a
proxy session to the store it went to. From the internet (the client) and
from another host of the site the ports are dropped.
"""

import ssl
import sys
import time
import imaplib

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families

import hostns
from conftest import HOSTS, MONITOR, TLS_NAME

DOVECOT, POSTFIX, EMAILNG = 9900, 9154, 9901
ENDPOINTS = {"relay": (POSTFIX, EMAILNG), "proxy": (DOVECOT, EMAILNG), "store": (DOVECOT, POSTFIX, EMAILNG),
             "dir": (EMAILNG,)}

_FETCH = r"""
import sys, time, urllib.request
t = time.perf_counter()
text = urllib.request.urlopen("http://%s:%s/metrics" % (sys.argv[1], sys.argv[2]), timeout=10).read().decode()
sys.stderr.write("%.1f" % ((time.perf_counter() - t) * 1000))
sys.stdout.write(text)
"""
SCRAPE_MS = {}      # (host, port): the last scrape's time, printed by the first test


def role(host):
    return host.rstrip("0123456789")


def scrape(ha, host, port):
    """{(name, frozenset(labels)): value} of host's endpoint, fetched from the monitoring side."""
    cp = hostns.run(ha, "dns", sys.executable, "-c", _FETCH, HOSTS[host], str(port))
    SCRAPE_MS[(host, port)] = cp.stderr
    text = cp.stdout
    parse = openmetrics_families if port == DOVECOT else text_families
    return {(s.name, frozenset(s.labels.items())): s.value for f in parse(text) for s in f.samples}


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def test_every_endpoint_answers_the_admin_host(ha):
    assert MONITOR == "198.18.0.53"
    for host in HOSTS:
        for port in ENDPOINTS[role(host)]:
            metrics = scrape(ha, host, port)
            print("scrape %s:%d: %d samples in %s ms" % (host, port, len(metrics), SCRAPE_MS[(host, port)]))
            assert metrics, (host, port)
        # the metrics ports of other roles are not admitted at all
        for port in {DOVECOT, POSTFIX} - set(ENDPOINTS[role(host)]):
            assert hostns.connect(ha, "dns", HOSTS[host], port) == "timeout", (host, port)


def test_proxies_show_the_stores_as_their_monitors_see_them(ha):
    """The same view as `emailng node list --json` (the monitors' status files)."""
    import json
    nodes = {m["proxy"]: m for m in json.loads(ha.emailng("node", "list", "--json").stdout)["monitors"]}
    for proxy in ("proxy1", "proxy2"):
        m = scrape(ha, proxy, EMAILNG)
        listed = nodes[proxy]
        assert value(m, "emailng_healthd_up") == (1.0 if listed["monitor"] == "up" else 0.0) == 1.0
        assert value(m, "emailng_healthd_status_up") == 1.0
        for pair in listed["pairs"]:
            assert value(m, "emailng_pair_active_store", pair=pair["pair"], store=HOSTS[pair["active"]]) == 1.0
            for i, store in enumerate(pair["stores"]):
                labels = dict(pair=pair["pair"], store=HOSTS[store["name"]], role=("primary", "secondary")[i])
                assert value(m, "emailng_store_state", state=store["state"], **labels) == 1.0, (proxy, store)
                assert value(m, "emailng_store_up", **labels) == (1.0 if store["state"] == "up" else 0.0)
            states = {st["state"] for st in pair["stores"]}
            assert value(m, "emailng_pair_degraded", pair=pair["pair"]) == (0.0 if states == {"up"} else 1.0)
        # the steady state of the test site: both stores of pair1 up, the primary active
        assert value(m, "emailng_store_up", pair="pair1", store=HOSTS["store1"], role="primary") == 1.0
        assert value(m, "emailng_store_up", pair="pair1", store=HOSTS["store2"], role="secondary") == 1.0
        assert value(m, "emailng_pair_degraded", pair="pair1") == 0.0


def test_stores_report_their_replicator(ha):
    for store in ("store1", "store2"):
        m = scrape(ha, store, EMAILNG)
        assert value(m, "emailng_replication_up") == 1.0, store
        assert value(m, "emailng_replication_users", state="known") >= 1, store    # alice, bob at least


def test_a_login_through_a_proxy_counts_a_proxy_session_to_its_store(ha):
    key = dict(dest_ip=HOSTS["store1"])      # pair1's active store
    before = value(scrape(ha, "proxy1", DOVECOT), "dovecot_proxy_sessions_total", **key) or 0.0
    m = imaplib.IMAP4(HOSTS["proxy1"], 143, timeout=15)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=ha.ca))
    m.login("alice@example.test", ha.password("alice@example.test"))
    m.logout()

    deadline = time.monotonic() + 10
    while True:
        after = value(scrape(ha, "proxy1", DOVECOT), "dovecot_proxy_sessions_total", **key) or 0.0
        if after != before or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert after == before + 1


def test_metrics_ports_are_dropped_for_everyone_else(ha):
    for host in HOSTS:
        for port in ENDPOINTS[role(host)]:
            assert hostns.connect(ha, "client", HOSTS[host], port) == "timeout", (host, port)
    # another host of the site is not an admin host either
    assert hostns.connect(ha, "relay1", HOSTS["store1"], EMAILNG) == "timeout"
    assert hostns.connect(ha, "proxy1", HOSTS["store1"], DOVECOT) == "timeout"
