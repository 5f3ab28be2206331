"""Inbound mail from the internet (issue 11, S6): DMARC on our MX, judged
against the domains' own records in the internet's DNS."""

import smtplib

import pytest

from world import DOMAIN, MAIL, PUBLIC_NAME, make_message
from outside import authentication_results


def ours(msg):
    """The results our MX wrote (authserv-id = the public name)."""
    return authentication_results(msg, PUBLIC_NAME)


def test_valid_outside_mail_lands_in_inbox_with_our_results(world):
    """carol@outside.test writes from her own MX (SPF pass, aligned; her
    domain publishes p=reject): INBOX, with our Authentication-Results."""
    mid, msg = make_message("carol@outside.test", "alice@%s" % DOMAIN, subject="hello from outside")
    world.outside_sends("carol@outside.test", ["alice@%s" % DOMAIN], msg)
    [got] = world.wait_in_mailbox("alice", mid)
    results = ours(got)
    assert results.get("dmarc") == "pass", got.get_all("Authentication-Results")
    assert results.get("spf") == "pass", got.get_all("Authentication-Results")
    assert not world.mailbox_messages("alice", mid, "Junk")


def test_forged_from_of_a_reject_domain_is_refused_at_data(world):
    """A sender on the internet (SPF pass for its own client.test) writes
    From: ceo@reject.test (p=reject, neither SPF nor DKIM aligned): 5.7.x at
    end of DATA, so the sender's MTA reports it; nothing is delivered."""
    mid, msg = make_message("ceo@reject.test", "alice@%s" % DOMAIN, subject="wire the money")
    with smtplib.SMTP(MAIL, 25, local_hostname="client.client.test", timeout=60) as s:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            s.sendmail("sender@client.test", ["alice@%s" % DOMAIN], msg)
    assert refused.value.smtp_code == 550, refused.value
    assert refused.value.smtp_error.decode().startswith("5.7."), refused.value
    assert not world.mailbox_messages("alice", mid)
    assert not world.mailbox_messages("alice", mid, "Junk")


def test_forged_from_of_a_quarantine_domain_goes_to_junk(world):
    """The same forgery for quarantine.test (p=quarantine): delivered to
    Junk, not INBOX, once."""
    mid, msg = make_message("billing@quarantine.test", "alice@%s" % DOMAIN, subject="your invoice")
    with smtplib.SMTP(MAIL, 25, local_hostname="client.client.test", timeout=60) as s:
        s.sendmail("sender@client.test", ["alice@%s" % DOMAIN], msg)
    [got] = world.wait_in_mailbox("alice", mid, "Junk")
    assert ours(got).get("dmarc") == "fail", got.get_all("Authentication-Results")
    assert not world.mailbox_messages("alice", mid)
