"""Shared folders across store pairs (issue 13, U5): `emailng share grant`
refuses an owner and a reader on different store pairs (cmd_share.c,
share_parties: their stores do not see each other's folders), says why,
and sets no ACL on any store; the same grant between two users of one pair
works."""

import os
import subprocess

from clients import message, netns, new_msgid
from conftest import DOMAIN
from test_move import add_user, login


def doveadm_acl(site, store, owner, folder):
    conf = os.path.join(site.state, "etc", store, "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", netns(site, store), "doveadm", "-c", conf, "acl", "get", "-u",
                         owner, folder], capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, "acl get on %s: %s%s" % (store, cp.stdout, cp.stderr)
    return cp.stdout


def test_share_grant_between_store_pairs_is_refused(pairs):
    owner, far, near = ("xowner@" + DOMAIN, "xreader@" + DOMAIN, "xneighbour@" + DOMAIN)
    add_user(pairs, "xowner", "pair1")
    add_user(pairs, "xreader", "pair2")
    add_user(pairs, "xneighbour", "pair1")
    m = login(pairs, owner)
    try:
        assert m.create("Crosspair")[0] == "OK"
        assert m.append("Crosspair", None, None, message([owner], new_msgid("xpair"), subject="x").encode())[0] == "OK"
    finally:
        m.logout()

    cp = pairs.emailng("share", "grant", owner, "Crosspair", far, check=False)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert ("%s is on store pair pair1 and %s on pair2: a folder can be shared only between users of the same "
            "store pair" % (owner, far)) in cp.stderr, cp.stderr
    # Nothing was set on either store of the owner's pair.
    for store in ("store1", "store2"):
        assert far not in doveadm_acl(pairs, store, owner, "Crosspair"), store

    # The same grant to a user of the owner's pair is set on both its stores.
    pairs.emailng("share", "grant", owner, "Crosspair", near)
    for store in ("store1", "store2"):
        acl = doveadm_acl(pairs, store, owner, "Crosspair")
        assert "user=" + near in acl and far not in acl, (store, acl)
