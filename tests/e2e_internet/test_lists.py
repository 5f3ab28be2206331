"""A list with a member on the internet (issue 13, U4): what an outside
receiver that EmailNG does not configure (OpenDKIM verify, OpenDMARC,
policyd-spf) makes of a list's copy. The list adds List-* fields only and
leaves From: alone (docs/admin-manual.md "Mailing lists", DKIM and DMARC),
so the poster's DKIM signature, made by our relay at submission, must
survive the list and give an aligned DMARC pass."""

from world import DOMAIN, make_message
from outside import authentication_results


def test_list_copy_to_outside_member_passes_dkim_and_dmarc(world):
    lst = "friends@%s" % DOMAIN
    alice = "alice@%s" % DOMAIN
    world.emailng("list", "create", lst, "--owner", alice)
    world.emailng("list", "add", lst, "carol@outside.test", alice)
    mid, msg = make_message(alice, lst, subject="to the list and beyond")
    world.submit("alice", [lst], msg)
    [got] = world.mta.wait_for("carol", mid)
    results = authentication_results(got)
    assert got["From"] == alice
    assert got["List-Id"] and lst.split("@")[0] in got["List-Id"], got["List-Id"]
    # The envelope is the list's (bounces go to its owners), SRS-rewritten or
    # not, always of our domain: SPF passes for our domain.
    assert got.get("Return-Path", "").strip("<> ").endswith("@%s" % DOMAIN), got.get("Return-Path")
    assert results.get("dkim") == "pass", (results, got.get_all("Authentication-Results"))
    assert results.get("spf") == "pass", (results, got.get_all("Authentication-Results"))
    assert results.get("dmarc") == "pass", (results, got.get_all("Authentication-Results"))
    # alice, a member too, gets her copy in her INBOX, once.
    assert len(world.wait_in_mailbox("alice", mid)) == 1
