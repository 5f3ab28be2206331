"""Aliases with no account behind them (U3), managed with the admin tool (U6)."""


from conftest import SMTP, make_message, msgid, smtp_send, wait_for_message


def test_alias_without_account_delivers_to_all_destinations(site, alice, bob):
    """U3, U6: `alias add conference@example.test alice bob` -> one message reaches both mailboxes; `alias list` shows it."""
    alias = "conference@example.test"
    r = site.run("alias", "add", alias, alice[0], bob[0])
    assert r.rc == 0, r
    listing = site.run("alias", "list", check=True).out
    assert alias in listing, listing
    assert alice[0] in listing and bob[0] in listing, listing

    mid = msgid()
    message, body = make_message("someone@example.test", alias, mid, subject="conference")
    smtp_send("alice@example.test", [alias], message)
    got_a = wait_for_message(site, alice[0], mid)
    got_b = wait_for_message(site, bob[0], mid)
    assert got_a.endswith(body) and got_b.endswith(body)


def test_alias_del_removes_address(site, alice):
    """U3, U6, S3: after `alias del` the alias is gone from `alias list` and RCPT to it is 550 5.1.1."""
    alias = "%s@example.test" % site.unique("list")
    site.run("alias", "add", alias, alice[0], check=True)
    assert alias in site.run("alias", "list", check=True).out
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        s.mail("bob@example.test")
        code, msg = s.rcpt(alias)
        assert code == 250, (code, msg)
        s.rset()
    site.run("alias", "del", alias, check=True)
    assert alias not in site.run("alias", "list", check=True).out
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        s.mail("bob@example.test")
        code, msg = s.rcpt(alias)
        assert code == 550 and msg.startswith(b"5.1.1"), (code, msg)
