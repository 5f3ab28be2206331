"""A deleted user's mailbox on both stores of the pair (U6, M3): `user del` archives it on
store1 and store2 alike (replication would otherwise bring it back), and the address added
again starts empty on both."""

import glob
import os
import time

from test_replication import count, deliver, new_msgid, wait_until

from conftest import DOMAIN


def _mailbox(site, store, address):
    local, domain = address.split("@")
    return os.path.join(site.state, "data", store, "mail", domain, local)


def _archives(site, store, address):
    local, domain = address.split("@")
    return glob.glob(os.path.join(site.state, "data", store, "archive", domain, local + ".*"))


def test_del_archives_on_both_stores_and_readd_starts_empty(ha):
    user = "leaver-%d@%s" % (os.getpid(), DOMAIN)
    ha.emailng("user", "add", user, "--password-stdin", input="Leaver-pass-12345\n")
    msgid = new_msgid("leaver")
    deliver(ha, "store1", user, msgid)
    wait_until("%s replicated to store2" % msgid, lambda: count(ha, "store2", user, msgid) == 1)

    out = ha.emailng("user", "del", user).stdout
    for store in ("store1", "store2"):
        (archive,) = _archives(ha, store, user)
        assert "%s: mailbox archived in %s" % (store, archive) in out, out
        assert not os.path.exists(_mailbox(ha, store, user))

    ha.emailng("user", "add", user, "--password-stdin", input="Newcomer-pass-12345\n")
    fresh = new_msgid("newcomer")
    deliver(ha, "store1", user, fresh)
    wait_until("%s replicated to store2" % fresh, lambda: count(ha, "store2", user, fresh) == 1)
    time.sleep(3)       # any sync that could bring the old mail back has run by now
    for store in ("store1", "store2"):
        assert count(ha, store, user, msgid) == 0, "the old mail is back on %s" % store
        assert count(ha, store, user, fresh) == 1
    ha.emailng("user", "del", "--purge", user)
    for store in ("store1", "store2"):
        assert not os.path.exists(_mailbox(ha, store, user))
