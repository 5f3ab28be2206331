"""postmaster@ and abuse@ of every domain (RFC 5321 4.5.1, RFC 2142; issue 11).

`emailng up` creates them as aliases to the site's `admin_address` (by
default alice@ the primary domain, only when the site has demo users),
when they are missing, and keeps them when the administrator changed
them. The session site checks the default; this module's own site (two
domains, `admin_address: bob@...`) the rest."""


import pytest

from conftest import own_site, SMTP, make_message, msgid, wait_for_message

OTHER = "second.test"

SITE = """\
site: {name: postmaster-e2e}
domains: [example.test, %s]
hosts:
  - {name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}
tls: {names: [mail.example.test, localhost, 127.0.0.1]}
demo_users: true
admin_address: bob@example.test
filter: {enabled: false}
""" % OTHER


def _mx(sender, rcpt):
    """One message from outside on port 25; returns its Message-ID."""
    mid = msgid()
    message, _ = make_message(sender, rcpt, mid, subject="to " + rcpt)
    with SMTP(25, timeout=60) as s:
        s.ehlo("mx.outside.test")
        assert s.mail(sender)[0] == 250
        code, msg = s.rcpt(rcpt)
        assert code == 250, (code, msg)
        code, msg = s.data(message)
        assert code == 250, (code, msg)
    return mid


def _aliases(site):
    return site.run("alias", "list", check=True).out


@pytest.mark.parametrize("local", ["postmaster", "abuse"])
def test_role_addresses_default_to_alice(site, alice, local):
    """RFC 5321/2142: on the default small site postmaster@ and abuse@ reach alice (the admin
    address defaults to alice@ the primary domain with demo users)."""
    mid = _mx("someone@outside.test", "%s@example.test" % local)
    wait_for_message(site, alice[0], mid)


@pytest.fixture(scope="module")
def psite():
    with own_site("postmaster", SITE, timeout=180) as s:
        yield s


def test_every_domain_has_postmaster_and_abuse(psite):
    """RFC 5321/2142: mail to postmaster@ and abuse@ of each domain is delivered to admin_address."""
    bob = "bob@example.test"
    listing = _aliases(psite)
    for domain in ("example.test", OTHER):
        for local in ("postmaster", "abuse"):
            rcpt = "%s@%s" % (local, domain)
            assert rcpt in listing, listing
            mid = _mx("someone@outside.test", rcpt)
            wait_for_message(psite, bob, mid, password=psite.passwords[bob])


def test_changed_role_alias_kept_missing_one_recreated(psite):
    """Issue 11: `up` keeps a postmaster@ alias the administrator changed and creates a
    deleted abuse@ again."""
    alice, bob = "alice@example.test", "bob@example.test"
    pm, ab = "postmaster@" + OTHER, "abuse@" + OTHER
    psite.run("alias", "add", pm, alice, check=True)
    psite.run("alias", "del", pm, bob, check=True)
    psite.run("alias", "del", ab, check=True)
    assert ab not in _aliases(psite)
    r = psite.run("up", "--site", psite.site_file, timeout=180)
    assert r.rc == 0, r
    mid = _mx("someone@outside.test", pm)
    wait_for_message(psite, alice, mid, password=psite.passwords[alice])
    mid = _mx("someone@outside.test", ab)
    wait_for_message(psite, bob, mid, password=psite.passwords[bob])
