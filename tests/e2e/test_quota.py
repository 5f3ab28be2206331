"""Quota: per-user quota from the directory, enforced by Dovecot, and
over-quota recipients refused during the SMTP dialogue (with grace)."""

import base64
import os

from conftest import SMTP, imap_storage, make_message, msgid, wait_for_message

KIB = 1024


def _body(size):
    raw = base64.b64encode(os.urandom(size * 3 // 4))
    lines = [raw[i:i + 76] for i in range(0, len(raw), 76)]
    return b"\r\n".join(lines) + b"\r\n"


def test_default_quota_is_1g(site, alice):
    """U2: a user without a quota of their own gets the site default (1G): STORAGE limit 1048576 KiB."""
    assert imap_storage(site, *alice)[1] == 1024 * 1024


def test_user_quota_command_changes_limit(site):
    """U2, U6: `user quota ADDR 2M` and `user quota ADDR default` change the limit IMAP reports, immediately."""
    user, pw = site.new_user()
    assert imap_storage(site, user, pw)[1] == 1024 * 1024
    site.run("user", "quota", user, "2M", check=True)
    assert imap_storage(site, user, pw)[1] == 2048
    shown = site.run("user", "show", user, check=True).out
    assert "2097152" in shown or "2M" in shown or "2.0M" in shown or "2 MiB" in shown, shown
    site.run("user", "quota", user, "default", check=True)
    assert imap_storage(site, user, pw)[1] == 1024 * 1024


def test_over_quota_rejected_at_rcpt_552_522(site):
    """S4, U2: a 1M user is filled with ~300 KB messages; once limit+grace (1M+10%) would be
    exceeded, RCPT is refused with 552 5.2.2 during the dialogue; GETQUOTAROOT shows limit 1024 KiB."""
    user, pw = site.new_user(quota="1M")
    used, limit = imap_storage(site, user, pw)
    assert (used, limit) == (0, 1024), (used, limit)

    accepted = 0
    refusal = None
    for i in range(6):
        mid = msgid()
        message, _ = make_message("bob@example.test", user, mid, subject="fill %d" % i,
                                  body=_body(300 * KIB))
        with SMTP(25, timeout=60) as s:
            s.ehlo("client.e2e.test")
            code, msg = s.mail("bob@example.test", ["SIZE=%d" % len(message)])
            assert code == 250, (code, msg)
            code, msg = s.rcpt(user)
            if code != 250:
                refusal = (code, msg)
                break
            code, msg = s.data(message)
            assert code == 250, (code, msg)
        wait_for_message(site, user, mid, password=pw)
        accepted += 1

    # 3 x 300 KB = 900 KB fits under 1024 KiB; after 4 the user is past 1M+10%
    # (1126 KiB), so the 4th or at the latest the 5th RCPT must be refused.
    assert refusal is not None, "no refusal after %d x 300 KB into a 1M quota" % accepted
    assert 3 <= accepted <= 4, (accepted, refusal)
    code, msg = refusal
    assert code == 552, refusal
    assert msg.startswith(b"5.2.2"), refusal

    used, limit = imap_storage(site, user, pw)
    assert limit == 1024, limit
    assert used >= 900, used

    # The refusal is stable: the next attempt is refused the same way.
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        assert s.mail("bob@example.test", ["SIZE=%d" % (300 * KIB)])[0] == 250
        code, msg = s.rcpt(user)
        assert code == 552 and msg.startswith(b"5.2.2"), (code, msg)
