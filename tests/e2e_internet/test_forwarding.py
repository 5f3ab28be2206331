"""Forwarding to the internet (issue 11, SRS): what the outside receiver,
with its own SPF check, makes of mail EmailNG forwards, and where its
bounces go."""

import os
import subprocess

from world import DOMAIN, make_message
from outside import authentication_results


def return_path(msg):
    return msg.get("Return-Path", "").strip().strip("<>")


def sieve_put(world, user, name, script):
    """The user's active Sieve script, put by the administrator (doveadm)."""
    conf = os.path.join(world.state, "etc", "mail", "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", world.ns("mail"), "doveadm", "-c", conf, "sieve", "put", "-a",
                         "-u", "%s@%s" % (user, DOMAIN), name], input=script, capture_output=True, text=True,
                        timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_alias_to_outside_member_passes_spf_with_srs(world):
    """sender@client.test (SPF: only 198.18.0.100) writes to an alias whose
    member is carol@outside.test: the receiver sees an SRS0 sender of ours
    and its own SPF check passes; From: is the author's, untouched."""
    world.emailng("alias", "add", "team-out@%s" % DOMAIN, "carol@outside.test")
    mid, msg = make_message("sender@client.test", "team-out@%s" % DOMAIN, subject="to the team")
    world.send_mx("sender@client.test", ["team-out@%s" % DOMAIN], msg)
    [got] = world.mta.wait_for("carol", mid)
    assert return_path(got).startswith("SRS0=") and return_path(got).endswith("@%s" % DOMAIN), return_path(got)
    assert got["From"] == "sender@client.test"
    assert authentication_results(got).get("spf") == "pass", got.get_all("Authentication-Results")


def test_sieve_redirect_to_outside_passes_spf_with_srs(world):
    """alice redirects everything to dave@outside.test: the redirected copy
    reaches him with an SRS0 sender and spf=pass at his MX."""
    sieve_put(world, "alice", "away", 'redirect "dave@outside.test";\n')
    try:
        mid, msg = make_message("sender@client.test", "alice@%s" % DOMAIN, subject="redirect me")
        world.send_mx("sender@client.test", ["alice@%s" % DOMAIN], msg)
        [got] = world.mta.wait_for("dave", mid)
    finally:
        sieve_put(world, "alice", "keep", "keep;\n")
    assert return_path(got).startswith("SRS0="), return_path(got)
    assert authentication_results(got).get("spf") == "pass", got.get_all("Authentication-Results")


def test_bounce_to_the_srs_address_reaches_the_original_sender(world):
    """bob@outside.test writes to an alias that forwards to gone@outside.test,
    which his MX accepts and then bounces, to the SRS address: our MX
    reverses it and the bounce reaches bob, once."""
    world.emailng("alias", "add", "old-friend@%s" % DOMAIN, "gone@outside.test")
    mid, msg = make_message("bob@outside.test", "old-friend@%s" % DOMAIN, subject="are you there")
    world.outside_sends("bob@outside.test", ["old-friend@%s" % DOMAIN], msg)
    bounces = world.mta.wait_for_text("bob", mid, lambda m: m.get("Message-ID", "").strip() != mid)
    assert len(bounces) == 1, [b.get("Subject") for b in bounces]
    assert return_path(bounces[0]) == "", return_path(bounces[0])
