"""`emailng trace` across the hosts of the full topology (issue 14, O2).

A message sent to relay1 (the MX) goes relay1's Postfix -> amavisd ->
relay1's Postfix -> a store's Postfix -> a proxy's LMTP -> the active
store's Dovecot. The trace, read from every host's logs in the state
directory, must name each of those hosts and link the relay's queue id to
the store's (`queued as NEWID`). A message sent while both stores are down
is deferred on the relay and delivered after they come back: the trace
shows the deferral with its reason, then the delivery.
"""

import json
import time

from clients import HOSTS, kill_host, new_msgid, restart, send_to, wait_delivered

ALICE = "alice@example.test"
DELIVERY_TIMEOUT = 60
# The relay retries deferred mail every 30 s at first (templates/postfix-relay).
RETRY_TIMEOUT = 240


def trace(ha, *args):
    return ha.emailng("trace", *args, "--json", check=False)


def wait_trace(ha, query, done, timeout=30):
    """The trace of query once done(messages) holds (logs are written a moment after delivery)."""
    deadline = time.time() + timeout
    while True:
        cp = trace(ha, query)
        messages = json.loads(cp.stdout)["messages"] if cp.returncode == 0 else []
        if done(messages) or time.time() > deadline:
            return cp, messages
        time.sleep(1)


def delivered(messages):
    return any(e["event"] == "delivered" for m in messages for e in m["events"])


def test_trace_names_relay_proxy_and_store(ha):
    mid = new_msgid("trace")
    send_to(HOSTS["relay1"], [ALICE], mid)
    assert wait_delivered(ha, ALICE, [mid], DELIVERY_TIMEOUT)[mid] == 1
    cp, messages = wait_trace(ha, mid, delivered)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert len(messages) == 1, messages
    events = messages[0]["events"]
    hosts = {e["host"] for e in events}
    assert "relay1" in hosts, events
    assert hosts & {"store1", "store2"}, events
    kinds = [(e["host"], e["event"]) for e in events]
    assert ("relay1", "accepted") in kinds, kinds
    assert ("relay1", "scanned") in kinds, kinds
    # handed from the relay to a store: the store's queue id is the one the relay was given
    handed = [e for e in events if e["host"] == "relay1" and e["event"] == "handed"
              and e.get("next_queue_id") and e.get("next_host", "").startswith("store")]
    assert handed, events
    store = handed[0]["next_host"]
    assert (store, "accepted") in kinds and any(
        e["host"] == store and e.get("queue_id") == handed[0]["next_queue_id"] for e in events), events
    # the store's Postfix hands it to a proxy's LMTP, which passes it to the active store
    assert any(e["event"] == "proxied" and e["host"] in ("proxy1", "proxy2") for e in events), events
    final = [e for e in events if e["event"] == "delivered" and e["daemon"].startswith("dovecot")]
    assert final and final[-1]["folder"] == "INBOX" and final[-1]["host"] in ("store1", "store2"), events
    assert final[-1]["recipient"] == ALICE
    # the text form names the hosts too
    text = ha.emailng("trace", mid, check=False)
    assert text.returncode == 0 and "relay1" in text.stdout and store in text.stdout, text.stdout
    assert "INBOX" in text.stdout


def test_trace_deferred_while_stores_down_then_delivered(ha):
    mid = new_msgid("trace-deferred")
    for store in ("store1", "store2"):
        assert kill_host(ha, store) > 0
    try:
        send_to(HOSTS["relay1"], [ALICE], mid)
        cp, messages = wait_trace(ha, mid, lambda ms: any(
            e["event"] == "deferred" for m in ms for e in m["events"]), timeout=60)
        assert cp.returncode == 0, cp.stdout + cp.stderr
    finally:
        restart(ha)
    assert wait_delivered(ha, ALICE, [mid], RETRY_TIMEOUT)[mid] == 1
    cp, messages = wait_trace(ha, mid, delivered)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    events = messages[0]["events"]
    deferred = [e for e in events if e["event"] == "deferred"]
    assert deferred and deferred[0]["host"] == "relay1" and deferred[0]["reason"], events
    assert any(e["event"] == "delivered" and e["host"] in ("store1", "store2") for e in events), events
    # in time order: the deferral before the delivery
    order = [e["event"] for e in events]
    assert order.index("deferred") < len(order) - 1 - order[::-1].index("delivered"), order
