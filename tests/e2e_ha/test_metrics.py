"""Prometheus endpoints of the full topology (O1; docs/admin-manual.md, "Monitoring").

Every host serves its endpoints on its own address; its firewall admits
only the site's admin_hosts (here MONITOR, the fabric's "dns" namespace)
to them. From there: each endpoint a role has answers and parses; the
proxies' emailng-metricsd shows the stores as their health monitors see
them, the stores' their replicator; a login through a proxy counts as a
proxy session to the store it went to. Our daemons' own counters move
with what they do: a message through relay1 (policyd's requests, each
policy's answer and the latency histogram, as many as its log's decision
lines), a drain of store1 and its undrain (every proxy's healthd counts one
switch each way, as `node list` shows), a dsync stalled for real on store1
(syncwatch counts the kill and the retry, as its log does); the relays'
quarantine agrees with `emailng quarantine list --json`. From the internet
(the client) and from another host of the site the ports are dropped.
"""

import json
import re
import os
import ssl
import sys
import time
import imaplib

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families

import clients
import hostns
from conftest import HOSTS, MONITOR, TLS_NAME
from test_syncwatch import STALL, INTERVAL, _start_stuck_master

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
POLICYD_WRITES = 5  # templates/policyd/policyd.conf: metrics_interval
SWITCH_TIMEOUT = 60.0


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


def total(metrics, name, **labels):
    """The sum of name's samples whose labels include these."""
    want = set(labels.items())
    return sum(v for (n, have), v in metrics.items() if n == name and want <= have)


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


def _decisions(ha, relay):
    return sum(1 for line in ha.log(relay, "policyd.log").splitlines() if " decision " in line)


def test_relay_policyd_counts_a_message_as_its_log_does(ha):
    """One message from the internet to one recipient at relay1: one RCPT
    request (each policy asked once) and one END-OF-MESSAGE request, both
    let through; the histogram counts them, as many as the decision lines."""
    time.sleep(POLICYD_WRITES + 1)      # what came before is in the file
    before = scrape(ha, "relay1", EMAILNG)
    logged = _decisions(ha, "relay1")
    assert value(before, "emailng_daemon_up", daemon="policyd") == 1.0
    assert value(before, "emailng_daemon_metrics_up", daemon="policyd") == 1.0
    assert value(before, "emailng_policyd_request_duration_seconds_count") == \
        total(before, "emailng_policyd_requests_total") + value(before, "emailng_policyd_bad_requests_total")
    msgid = clients.new_msgid("metrics")
    clients.send_to(HOSTS["relay1"], ["alice@example.test"], msgid)
    assert clients.wait_delivered(ha, "alice@example.test", [msgid], 60)[msgid] == 1
    time.sleep(POLICYD_WRITES + 1)
    after = scrape(ha, "relay1", EMAILNG)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)
    assert delta("emailng_policyd_requests_total", state="RCPT") == 1
    assert delta("emailng_policyd_requests_total", state="END-OF-MESSAGE") == 1
    assert delta("emailng_policyd_requests_total", action="defer") == delta(
        "emailng_policyd_requests_total", action="reject") == 0
    for policy in ("ratelimit", "spf", "quota", "greylist"):
        assert delta("emailng_policyd_actions_total", policy=policy) == 1, policy
        assert delta("emailng_policyd_actions_total", policy=policy, action="reject") == 0, policy
    answered = delta("emailng_policyd_request_duration_seconds_count")
    assert answered == 2 == _decisions(ha, "relay1") - logged
    assert delta("emailng_policyd_request_duration_seconds_sum") > 0


def _proxy_switches(ha, to):
    return {p: value(scrape(ha, p, EMAILNG), "emailng_healthd_switches_total", pair="pair1", to=to)
            for p in ("proxy1", "proxy2")}


def _wait_switched(ha, store, to, want):
    """Until both proxies' metrics show pair1 on store and `want` switches
    to `to` (healthd writes both in one round); the last figures."""
    deadline = time.monotonic() + SWITCH_TIMEOUT
    while True:
        got = {}
        for p in ("proxy1", "proxy2"):
            m = scrape(ha, p, EMAILNG)
            got[p] = (value(m, "emailng_pair_active_store", pair="pair1", store=HOSTS[store]),
                      value(m, "emailng_healthd_switches_total", pair="pair1", to=to))
        if all(g == (1.0, want[p]) for p, g in got.items()) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_proxies_count_a_drain_and_undrain_as_switches(ha):
    for p in ("proxy1", "proxy2"):
        m = scrape(ha, p, EMAILNG)
        assert value(m, "emailng_daemon_up", daemon="healthd") == 1.0
        assert value(m, "emailng_daemon_metrics_up", daemon="healthd") == 1.0
        assert value(m, "emailng_pair_active_store", pair="pair1", store=HOSTS["store1"]) == 1.0
    away, back = _proxy_switches(ha, "secondary"), _proxy_switches(ha, "primary")
    ha.emailng("node", "drain", "store1")
    try:
        got = _wait_switched(ha, "store2", "secondary", {p: n + 1 for p, n in away.items()})
        assert got == {p: (1.0, away[p] + 1) for p in away}, got
        assert _proxy_switches(ha, "primary") == back
        doc = json.loads(ha.emailng("node", "list", "--json").stdout)
        assert {m["proxy"]: m["pairs"][0]["active"] for m in doc["monitors"]} == \
            {"proxy1": "store2", "proxy2": "store2"}, doc
    finally:
        ha.emailng("node", "undrain", "store1")
    got = _wait_switched(ha, "store1", "primary", {p: n + 1 for p, n in back.items()})
    assert got == {p: (1.0, back[p] + 1) for p in back}, got
    assert _proxy_switches(ha, "secondary") == {p: n + 1 for p, n in away.items()}
    doc = json.loads(ha.emailng("node", "list", "--json").stdout)
    assert {m["proxy"]: m["pairs"][0]["active"] for m in doc["monitors"]} == \
        {"proxy1": "store1", "proxy2": "store1"}, doc


def _syncwatch_lines(ha, store, action):
    return sum(1 for line in ha.log(store, "syncwatch.log").splitlines()
               if "stalled-dsync" in line and 'action="%s"' % action in line)


def test_stores_count_syncwatch_interventions_as_its_log_does(ha):
    """A dsync-server left waiting for its handshake on store1 (a client at
    store2's address starts one and says nothing): syncwatch kills it and
    asks store2 to sync again; its counters go up by one each, as its log."""
    for store in ("store1", "store2"):
        m = scrape(ha, store, EMAILNG)
        assert value(m, "emailng_daemon_up", daemon="syncwatch") == 1.0, store
        assert value(m, "emailng_daemon_metrics_up", daemon="syncwatch") == 1.0, store
    before = scrape(ha, "store1", EMAILNG)
    ended, retried = _syncwatch_lines(ha, "store1", "end"), _syncwatch_lines(ha, "store1", "retry")
    stuck = _start_stuck_master(ha, "store2", "store1", "alice@example.test")
    try:
        assert stuck.stdout.readline().strip() == "started", stuck.stderr.read()
        out, err = stuck.communicate(timeout=STALL + 2 * INTERVAL + 20)
        assert "closed after" in out, err
    finally:
        if stuck.poll() is None:
            stuck.kill()
            stuck.wait()
    key = "emailng_syncwatch_interventions_total"
    # The retry line follows the partner's answer (syncwatch waits up to
    # 10 s for it); the counters file is written after the round.
    deadline = time.monotonic() + 30
    while True:
        after = scrape(ha, "store1", EMAILNG)
        new_lines = [line for line in ha.log("store1", "syncwatch.log").splitlines()
                     if "stalled-dsync" in line][ended + retried:]
        done = (_syncwatch_lines(ha, "store1", "end") > ended and _syncwatch_lines(ha, "store1", "retry") > retried
                and total(after, key, action="retry") > total(before, key, action="retry"))
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    why = "stuck client: %r; syncwatch's new lines: %s" % (out, new_lines)
    assert _syncwatch_lines(ha, "store1", "end") - ended == 1, why
    assert _syncwatch_lines(ha, "store1", "retry") - retried == 1, why
    # Each new log line moved the counter of its action and result by one.
    for line in new_lines:
        action = re.search(r'action="(\w+)"', line).group(1)
        result = re.search(r'result="(\w+)', line).group(1)
        if action == "end":     # the log names the signal sent, or the error
            result = "killed" if result == "SIGKILL" else "failed"
        assert value(after, key, action=action, result=result) == \
            value(before, key, action=action, result=result) + 1, (line, why)
    assert total(after, key, action="end") - total(before, key, action="end") == 1, why
    assert total(after, key, action="retry") - total(before, key, action="retry") == 1, why
    # What the test provoked: a stalled server killed, the partner asked.
    assert value(after, key, action="end", result="killed") == \
        value(before, key, action="end", result="killed") + 1, why


def test_relays_report_their_quarantine_as_quarantine_list_does(ha):
    relays = {r["name"]: r["messages"] for r in json.loads(
        ha.emailng("quarantine", "list", "--json").stdout)["relays"]}
    assert set(relays) == {"relay1", "relay2"}, relays
    for relay, messages in relays.items():
        m = scrape(ha, relay, EMAILNG)
        assert value(m, "emailng_quarantine_up") == 1.0, relay
        for kind in ("virus", "spam", "banned", "badh", "clean"):
            mine = [x for x in messages if x["id"].startswith(kind + "-")]
            assert value(m, "emailng_quarantine_messages", type=kind) == len(mine), (relay, kind)
            assert value(m, "emailng_quarantine_size_bytes", type=kind) == sum(x["bytes"] for x in mine), (relay, kind)
