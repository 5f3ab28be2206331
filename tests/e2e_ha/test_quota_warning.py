"""Quota warnings (issue 13, U2) on the full topology. A user of pair1 with a
1M quota is filled through the proxies; the save that crosses 80 % (then
95 %) runs Dovecot's quota_warning on the ACTIVE store, whose
quota-warning.sh delivers the notice there; replication then brings the
saves and the notice to the partner. dsync's saves on the partner also
take the user over the thresholds, but Dovecot runs no quota_warning for
them (its quota plugin skips warnings in a sync transaction: "the user
probably already got the warning on the other replica"), so each store
ends with exactly one notice per threshold, and only the active store's
quota-warning.log names the user. `emailng user list --quota [--over N]`
reads usage from the stores and agrees with what a client sees."""

import json
import time

from clients import HOSTS, active_store, store_message_ids
from quota_fill import add_user, append, notices, storage_kib, wait_notices, warning_log_lines

STORES = ("store1", "store2")
QUOTA_KIB = 1024


def test_one_notice_per_threshold_on_both_stores(ha):
    user, password = "qwha@example.test", "Quota-HA-pass-12345"
    add_user(ha, "qwha", password, "1M")
    address = active_store(ha, "proxy1")
    active = [s for s in STORES if HOSTS[s] == address][0]
    standby = [s for s in STORES if s != active][0]

    append(ha, user, password, 300_000, 1)
    append(ha, user, password, 300_000, 2)                       # ~57 %
    assert wait_notices(ha, STORES, user, {80: 0, 95: 0}, timeout=5) == {s: {80: 0, 95: 0} for s in STORES}
    append(ha, user, password, 300_000, 3)                       # ~86 %: crosses 80
    got = wait_notices(ha, STORES, user, {80: 1, 95: 0})
    assert got == {s: {80: 1, 95: 0} for s in STORES}, got
    append(ha, user, password, 120_000, 4)                       # ~97 %: crosses 95
    got = wait_notices(ha, STORES, user, {80: 1, 95: 1})
    assert got == {s: {80: 1, 95: 1} for s in STORES}, got
    used, limit = storage_kib(ha, user, password)
    assert limit == QUOTA_KIB and used > 0.95 * QUOTA_KIB, (used, limit)

    # Replication caught up: both stores hold the same messages (4 fillers, 2 notices)...
    deadline = time.monotonic() + 60
    while True:
        same = [store_message_ids(ha, s, user) for s in STORES]
        if same[0] == same[1] and sum(same[0].values()) == 6:
            break
        assert time.monotonic() < deadline, "the stores differ: %r" % same
        time.sleep(1)
    # ... and a while later still one notice each (no late one from the partner's dsync).
    time.sleep(10)
    assert {s: notices(ha, s, user) for s in STORES} == {s: {80: 1, 95: 1} for s in STORES}
    assert all(c == 1 for c in store_message_ids(ha, standby, user).values())
    assert len(warning_log_lines(ha, active, user)) == 2, warning_log_lines(ha, active, user)
    assert warning_log_lines(ha, standby, user) == [], warning_log_lines(ha, standby, user)

    # The admin view: the stores' count, as the client sees it; --over keeps the full one.
    users = json.loads(ha.emailng("user", "list", "--quota", "--json").stdout)["users"]
    row = [u for u in users if u["address"] == user]
    assert len(row) == 1 and row[0]["pair"] == "pair1", users
    assert (row[0]["used_bytes"], row[0]["limit_bytes"]) == (used * 1024, limit * 1024), (row, used, limit)
    assert row[0]["percent"] > 95
    assert [u["address"] for u in users].index(user) < [u["address"] for u in users].index("bob@example.test")
    over = json.loads(ha.emailng("user", "list", "--quota", "--over", "90", "--json").stdout)["users"]
    assert user in [u["address"] for u in over] and "bob@example.test" not in [u["address"] for u in over]
    assert all(u["percent"] >= 90 for u in over), over
