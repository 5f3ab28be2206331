"""DKIM key rotation seen from the outside (issue 11): the receiver's own
OpenDKIM says dkim=pass for every message through the whole rotation, and
`emailng dns check` judges the records the internet's DNS really serves."""

import re

from world import DOMAIN, make_message
from outside import authentication_results


def send_and_judge(world, subject):
    """(selector the message was signed with, the outside MTA's dkim result)."""
    mid, msg = make_message("alice@%s" % DOMAIN, "dave@outside.test", subject=subject)
    world.submit("alice", ["dave@outside.test"], msg)
    [got] = world.mta.wait_for("dave", mid)
    signature = " ".join(got.get("DKIM-Signature", "").split())
    selector = re.search(r"\bs=([a-z0-9-]+);", signature)
    return (selector.group(1) if selector else None), authentication_results(got).get("dkim")




def test_dns_check_against_the_internet(world):
    """Everything `emailng dns` printed is published: exit 0. The DKIM
    record withdrawn from the zone: exit 1, naming the record."""
    text = world.publish_site_dns()
    cp = world.emailng("dns", "check", "--domain", DOMAIN, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    dkim_lines = [l for l in text.splitlines() if "._domainkey." in l and not l.startswith(";")]
    assert dkim_lines, text
    name = dkim_lines[0].split()[0]
    kept = [l for l in text.splitlines() if l not in dkim_lines]
    world.dns.set_zone(DOMAIN, [l for l in kept if l.strip() and not l.lstrip().startswith(";")])
    world.dns.publish()
    try:
        cp = world.emailng("dns", "check", "--domain", DOMAIN, check=False)
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert name in cp.stdout and "missing" in cp.stdout, cp.stdout
    finally:
        world.publish_site_dns()


def test_rotation_keeps_dkim_pass_at_the_receiver(world):
    old, result = send_and_judge(world, "before rotation")
    assert old and result == "pass", (old, result)

    # 1. A new key, pending: printed for the DNS, not used yet.
    rotate = world.emailng("dkim", "rotate", DOMAIN)
    new = re.search(r"new selector ([a-z0-9-]+) for", rotate.stdout)
    assert new, rotate.stdout
    new = new.group(1)
    assert new != old
    assert "%s._domainkey.%s." % (new, DOMAIN) in world.emailng("dns", "--domain", DOMAIN).stdout
    assert send_and_judge(world, "rotation pending") == (old, "pass")

    # 2. Not published yet: activation refused, naming the record; the old
    # key keeps signing.
    refused = world.emailng("dkim", "activate", DOMAIN, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "%s._domainkey.%s" % (new, DOMAIN) in refused.stdout + refused.stderr
    assert send_and_judge(world, "activation refused") == (old, "pass")

    # 3. Published (both selectors): activation switches signing.
    world.publish_site_dns()
    world.emailng("dkim", "activate", DOMAIN)
    assert send_and_judge(world, "after activation") == (new, "pass")

    # 4. The old selector retired and withdrawn: still pass with the new one.
    world.emailng("dkim", "retire", DOMAIN, "--force")
    text = world.publish_site_dns()
    assert "%s._domainkey" % old not in text
    assert send_and_judge(world, "after retirement") == (new, "pass")
