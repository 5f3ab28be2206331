"""`emailng user list --quota [--over PERCENT]` (issue 13, U2) on a site of
two store pairs: it asks one store of EACH pair (doveadm quota get -A), so
users of both pairs are listed, each with its pair, usage and limit as a
client sees them (GETQUOTAROOT through the proxies), fullest first. The
pair2 user's 80 % notice is delivered once and replicated to both stores
of pair2 (store3, store4), none on pair1's."""

import json

from quota_fill import add_user, append, storage_kib, wait_notices

PASSWORD = "Quota-pairs-pass-1234"


def test_user_list_quota_covers_both_pairs(pairs):
    half, full = "qhalf@example.test", "qfull@example.test"
    add_user(pairs, "qhalf", PASSWORD, "1M", "--pair", "pair1")
    add_user(pairs, "qfull", PASSWORD, "1M", "--pair", "pair2")
    append(pairs, half, PASSWORD, 300_000, 1)
    append(pairs, half, PASSWORD, 300_000, 2)                   # ~57 %, pair1
    for n in (1, 2, 3):
        append(pairs, full, PASSWORD, 300_000, n)               # ~86 %, pair2: crosses 80
    got = wait_notices(pairs, ("store3", "store4"), full, {80: 1, 95: 0})
    assert got == {s: {80: 1, 95: 0} for s in ("store3", "store4")}, got

    users = json.loads(pairs.emailng("user", "list", "--quota", "--json").stdout)["users"]
    by_address = {u["address"]: u for u in users}
    for address, pair in ((half, "pair1"), (full, "pair2")):
        used, limit = storage_kib(pairs, address, PASSWORD)
        u = by_address[address]
        assert u["pair"] == pair, u
        assert (u["used_bytes"], u["limit_bytes"]) == (used * 1024, limit * 1024), (u, used, limit)
        assert abs(u["percent"] - 100.0 * used / limit) < 0.05, u
    assert 50 < by_address[half]["percent"] < 80 < by_address[full]["percent"] < 95
    # Every user of both pairs, each once; fullest first.
    assert len(users) == len(by_address)
    assert {u["pair"] for u in users} == {"pair1", "pair2"}
    percents = [u["percent"] for u in users if u["percent"] is not None]
    assert percents == sorted(percents, reverse=True)

    over = json.loads(pairs.emailng("user", "list", "--quota", "--over", "70", "--json").stdout)["users"]
    assert [u["address"] for u in over if u["address"] in (half, full)] == [full]
    over = json.loads(pairs.emailng("user", "list", "--quota", "--over", "50", "--json").stdout)["users"]
    assert [u["address"] for u in over if u["address"] in (half, full)] == [full, half]
    assert all(u["percent"] >= 50 for u in over)
    text = pairs.emailng("user", "list", "--quota", "--over", "50").stdout.splitlines()
    assert text[0].split() == ["ADDRESS", "USED", "LIMIT", "USED%", "PAIR"]
    rows = {l.split()[0]: l.split() for l in text[1:]}
    assert rows[full][2] == "1.0M" and rows[full][4] == "pair2" and rows[half][4] == "pair1", text
