"""Outbound mail to the internet (issue 11, S2/S6): what an outside receiver
that EmailNG does not configure makes of our mail."""

from world import DOMAIN, make_message
from outside import authentication_results


def test_submitted_mail_reaches_outside_authenticated(world):
    """alice sends to bob@outside.test through submission: the outside MTA
    stores it, and its own milters (OpenDKIM verify, OpenDMARC with SPF
    self-validation) write dkim=pass, spf=pass and dmarc=pass."""
    mid, msg = make_message("alice@%s" % DOMAIN, "bob@outside.test", subject="to the internet")
    world.submit("alice", ["bob@outside.test"], msg)
    [got] = world.mta.wait_for("bob", mid)
    results = authentication_results(got)
    assert results.get("spf") == "pass", (results, got.get_all("Authentication-Results"))
    assert results.get("dkim") == "pass", (results, got.get_all("Authentication-Results"))
    assert results.get("dmarc") == "pass", (results, got.get_all("Authentication-Results"))
