"""emailng-healthd against real Dovecot stores on the test fabric: the
table starts on the primaries, a store killed with SIGKILL (the whole host)
moves its pair to the partner once its refusals are confirmed (fast_fail:
the held connection closes, the reconnect is refused), a store that only
closes the held session is not failed, a partitioned store (link cut)
moves within the grace, a returning store takes its pair back only once healthy and
caught up, and both stores down keeps the last active. Tests run in order
and share one monitor (its log tells the whole story)."""
import os
import re
import time

from conftest import (FAIL_GRACE, HOSTS, imap_list_via, INTERVAL, RECOVER_GRACE, RECOVER_PROBES, TIMEOUT,
                      FABRIC, REFUSED_CONFIRM, ns, run)

S1, S2 = HOSTS["store1"], HOSTS["store2"]
# kill -> switch: the grace, plus up to one interval until the first failed
# probe, plus scheduling slack.
SWITCH_LIMIT = (FAIL_GRACE + INTERVAL) / 1000 + 1.0
# kill -9 with fast_fail: the refusals' confirmation, plus at most a probe
# round that was running (events wait for its end), plus slack.
KILL_LIMIT = (REFUSED_CONFIRM + TIMEOUT) / 1000 + 0.5
# A partition is seen by probes timing out, so add a probe deadline.
CUT_LIMIT = SWITCH_LIMIT + TIMEOUT / 1000
# Back: RECOVER_PROBES good probes over RECOVER_GRACE, plus the check.
BACK_LIMIT = max(RECOVER_GRACE, RECOVER_PROBES * INTERVAL) / 1000 + 2 * INTERVAL / 1000 + 2.0
MEASURED = {}


def test_starts_on_primaries(site):
    hd = site["healthd"]
    hd.wait_active("pair1", S1, 5)
    hd.wait_active("pair2", S2, 5)
    # Both stores probed good (LMTP + IMAP login of the probe account).
    deadline = time.time() + 5
    while time.time() < deadline and hd.log_text().count("starting -> up") < 4:
        time.sleep(0.05)
    log = hd.log_text()
    assert f"store {S1} (pair1 primary): starting -> up" in log, log
    assert f"store {S2} (pair1 secondary): starting -> up" in log, log
    assert "lmtp ok in" in log and "imap ok in" in log
    with open(hd.passwd) as f:
        assert f.read() == (f"pair1:::::::host={S1} nopassword\n"
                            f"pair2:::::::host={S2} nopassword\n")
    # The password file's password never reaches the log.
    assert "secret" not in log
    assert hd.proc.poll() is None


KILLED_AT = []       # wall clock of the kill in test_kill9_store_fails_over_on_refusals


def test_kill9_store_fails_over_on_refusals(site):
    hd, s1 = site["healthd"], site["stores"]["store1"]
    t0 = time.monotonic()
    KILLED_AT.append(time.time())
    s1.kill9()
    took = hd.wait_active("pair1", S2, KILL_LIMIT + 2)
    MEASURED["kill"] = took
    print(f"\nkill -9 -> table switch: {took:.2f} s (refusals confirmed over {REFUSED_CONFIRM} ms)")
    assert took <= KILL_LIMIT, f"switch took {took:.2f}s"
    assert took < FAIL_GRACE / 1000, "the fast path did not beat the grace"
    assert took >= REFUSED_CONFIRM / 1000 - 0.05, "switched before the confirmation: one refusal is not enough"
    assert hd.active("pair2") == S2, "the other pair keeps its active store"
    log = hd.log_text()
    # Suspect at the first refusal, or at a round the kill broke off (it
    # may have been talking to the store at that moment) ...
    assert re.search(rf"store {S1} \(pair1 primary\): up -> suspect: (connection refused; down if still refused "
                     rf"after {REFUSED_CONFIRM} ms|probe failed)", log), log
    # ... and down on the refusals, not on the grace.
    assert re.search(rf"store {S1} \(pair1 primary\): suspect -> down: connections refused for \d+ ms "
                     rf"\(confirm {REFUSED_CONFIRM} ms\): nothing listens", log), log
    assert f"pair pair1: active {S1} (primary) -> {S2} (secondary): primary is down, secondary is up" in log
    assert time.monotonic() - t0 < 10


def test_returns_only_when_healthy_and_caught_up(site):
    hd, s1, flag = site["healthd"], site["stores"]["store1"], site["flag"]
    os.unlink(f"{flag}-{S1}")           # replication not caught up yet
    s1.start()
    t0 = time.monotonic()
    # Healthy again, but the catch-up check says no: the pair stays.
    time.sleep(BACK_LIMIT)
    assert hd.active("pair1") == S2, hd.log_text()
    log = hd.log_text()
    assert f"store {S1} (pair1 primary): down -> recovering" in log, log
    assert "catch-up check: not yet (exit 1)" in log, log
    # The check learns when the store stopped serving (the catch-up check
    # of the full topology removes duplicates saved since then) and its
    # standard error is in the monitor's log.
    since = re.search(rf"check of {S1}: down since (\d+)", log)
    assert since, log
    assert KILLED_AT and KILLED_AT[0] - 1 <= int(since.group(1)) <= KILLED_AT[0] + KILL_LIMIT + 1, (since.group(0),
                                                                                                   KILLED_AT)
    # Caught up: back to the primary.
    open(f"{flag}-{S1}", "w").close()
    took = hd.wait_active("pair1", S1, 2 * INTERVAL / 1000 + 2)
    assert time.monotonic() - t0 >= RECOVER_GRACE / 1000
    log = hd.log_text()
    assert re.search(rf"store {S1} \(pair1 primary\): recovering -> up: \d+ good probes over \d+ ms and caught up", log)
    assert f"pair pair1: active {S2} (secondary) -> {S1} (primary): primary is up and caught up again" in log
    print(f"\ncaught up -> table back: {took:.2f} s")


def test_partition_fails_over_and_back(site):
    hd = site["healthd"]
    t0 = time.monotonic()
    run("sh", FABRIC, "cut", site_prefix(), "store2")
    try:
        took = hd.wait_active("pair2", S1, CUT_LIMIT + 2)
        MEASURED["cut"] = took
        print(f"\nlink cut -> table switch: {took:.2f} s")
        assert took <= CUT_LIMIT
        assert re.search(rf"store {S2} \(pair2 primary\): up -> suspect: .*timed out", hd.log_text())
        assert hd.active("pair1") == S1
    finally:
        run("sh", FABRIC, "heal", site_prefix(), "store2")
    hd.wait_active("pair2", S2, BACK_LIMIT + CUT_LIMIT)
    assert time.monotonic() - t0 < 30


def imap_login_pids(host):
    pids = run("ip", "netns", "pids", ns(host)).stdout.split()
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "imap-login":
                    out.append(int(pid))
        except OSError:
            pass
    return out


def test_lost_session_on_a_live_store_is_no_failover(site):
    """The store's login processes die (the held connections close) but
    Dovecot still listens: the watch reconnects, nothing is refused, and
    store1 stays up with its pairs."""
    hd = site["healthd"]
    hd.wait_active("pair1", S1, BACK_LIMIT + CUT_LIMIT)
    time.sleep(2 * INTERVAL / 1000)
    before = hd.log_text()
    pids = imap_login_pids("store1")
    assert pids, "no imap-login process holds the monitor's connection"
    for pid in pids:
        os.kill(pid, 9)
    time.sleep(FAIL_GRACE / 1000 + 1)
    new = hd.log_text()[len(before):]
    # (A probe that was logging in right then may fail once: suspect is
    # allowed, a refusal, down or a switch is not.)
    assert "refused" not in new and "-> down" not in new and "pair pair" not in new, new
    assert hd.active("pair1") == S1 and hd.active("pair2") == S2
    # The monitor holds a connection to store1's IMAP port again.
    established = run("ip", "netns", "exec", ns("store1"), "ss", "-Htn", "state", "established",
                      f"( sport = :143 and dst {HOSTS['mon']} )").stdout
    assert established.strip(), "the watch did not reconnect"


def test_both_down_keeps_last_active(site):
    hd, stores = site["healthd"], site["stores"]
    stores["store2"].kill9()
    hd.wait_active("pair2", S1, SWITCH_LIMIT + 2)
    stores["store1"].kill9()
    time.sleep(SWITCH_LIMIT + 1)
    # Nothing serves pair2: it keeps its last active (store1), as does pair1.
    assert hd.active("pair1") == S1
    assert hd.active("pair2") == S1
    log = hd.log_text()
    assert f"store {S1} (pair1 primary): suspect -> down" in log
    # Back in service for the next tests, and the monitor survived it all.
    for s in stores.values():
        s.start()
    hd.wait_active("pair2", S2, BACK_LIMIT + 3)
    assert hd.proc.poll() is None


def test_restart_keeps_the_table(site):
    """A restarted monitor starts from the table on disk, not from scratch."""
    hd, s1 = site["healthd"], site["stores"]["store1"]
    s1.kill9()
    hd.wait_active("pair1", S2, SWITCH_LIMIT + 2)
    hd.stop()
    s1.start()
    hd.start()
    time.sleep(1.0)
    # store1 answers at once, but it was not active: it must recover first.
    assert hd.active("pair1") == S2
    hd.wait_active("pair1", S1, BACK_LIMIT + 2)
    assert "pair pair1: active 198.18.0.32 (secondary)" in hd.log_text()


def test_dovecot_proxy_follows_the_table(site):
    """A real Dovecot 2.3 proxy with the two-passdb mapping (docs/healthd.md)
    sends the user to whichever store the table names, re-reading it."""
    hd, s1 = site["healthd"], site["stores"]["store1"]
    proxy = HOSTS["proxy"]
    hd.wait_active("pair1", S1, BACK_LIMIT + 2)
    out = imap_list_via("mon", proxy)
    assert "on-store1" in out and "on-store2" not in out, out + site["proxy"].log()
    # The pair passdb never authenticates anyone by itself.
    assert "AUTHENTICATIONFAILED" in imap_list_via("mon", proxy, password="wrong")
    assert "AUTHENTICATIONFAILED" in imap_list_via("mon", proxy, user="pair1", password="x")
    s1.kill9()
    hd.wait_active("pair1", S2, SWITCH_LIMIT + 2)
    out = imap_list_via("mon", proxy)
    assert "on-store2" in out and "on-store1" not in out, out + site["proxy"].log()
    s1.start()
    hd.wait_active("pair1", S1, BACK_LIMIT + 2)
    out = imap_list_via("mon", proxy)
    assert "on-store1" in out, out + site["proxy"].log()


def site_prefix():
    from conftest import PREFIX
    return PREFIX


def test_report_timings():
    print(f"\nmeasured: {MEASURED} (interval {INTERVAL} ms, probe deadline {TIMEOUT} ms, "
          f"fail grace {FAIL_GRACE} ms; Dovecot poolmon: 30 s interval)")
