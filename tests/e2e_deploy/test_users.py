"""`emailng user add` / `user del` on the directory host of a deployed site
(issue 12): the stores' disks are not on that host, so the mailbox part
is done by each store's doveadm server (src/emailng/mailbox_remote.c).
A user added there is accepted by both relays within 10 s and logs in
through a proxy; a deleted user's mailbox is archived on both stores of
the pair (on each store's own disk) and the relays refuse the address; the
same address added again starts with an empty mailbox."""

import glob
import imaplib
import os
import smtplib
import ssl
import time
import uuid

from conftest import HOSTS, PREFIX, in_netns

DOMAIN = "example.test"
RELAYS = ("relay1", "relay2")
STORES = ("store1", "store2")
SITE_FILE = "/etc/emailng/site.yaml"


def _emailng_dir1(deployed, *args, check=True, input=None):
    return deployed.emailng_on("dir1", "--site", SITE_FILE, *args, check=check, input=input)


def _rcpt(relay, address):
    with in_netns(PREFIX + "-client"):
        with smtplib.SMTP(HOSTS[relay], 25, timeout=30) as s:
            s.ehlo("client.outside.test")
            code, _ = s.mail("sender@outside.test")
            assert code == 250
            code, text = s.rcpt(address)
            s.rset()
            return code, text.decode(errors="replace")


def _wait_rcpt(address, want, started, limit=10.0):
    """Seconds after `started` at which each relay answered `want` (250 or 550)."""
    seen = {}
    deadline = started + limit + 5
    while len(seen) < len(RELAYS) and time.monotonic() < deadline:
        for relay in RELAYS:
            if relay not in seen and _rcpt(relay, address)[0] == want:
                seen[relay] = time.monotonic() - started
        time.sleep(0.1)
    return seen


def _imap(deployed, address, password):
    ctx = ssl.create_default_context(cafile=deployed.ca)
    with in_netns(PREFIX + "-client"):
        m = imaplib.IMAP4_SSL(HOSTS["proxy1"], 993, ssl_context=ctx, timeout=30)
    m.login(address, password)
    return m


def _inbox(deployed, address, password):
    """(messages in INBOX, folders) as the user sees them through proxy1."""
    with in_netns(PREFIX + "-client"):
        m = _imap(deployed, address, password)
        try:
            typ, data = m.select("INBOX", readonly=True)
            assert typ == "OK"
            typ, folders = m.list()
            assert typ == "OK"
            return int(data[0]), [f.decode() for f in folders]
        finally:
            m.logout()


def _user_add(deployed, address, password):
    return _emailng_dir1(deployed, "user", "add", address, "--password-stdin", input=password + "\n")


def _mailbox_dir(deployed, store, address):
    local, domain = address.split("@")
    return deployed.host_file(store, "/var/lib/emailng/data/%s/mail/%s/%s" % (store, domain, local))


def _holds(tree, message_id):
    """Some m.* file below tree holds message_id (mdbox storage files)."""
    for d, _, files in os.walk(tree):
        for f in files:
            if f.startswith("m.") and message_id.strip("<>").encode() in open(os.path.join(d, f), "rb").read():
                return True
    return False


def _archives(deployed, store, address):
    local, domain = address.split("@")
    top = deployed.host_file(store, "/var/lib/emailng/data/%s/archive/%s" % (store, domain))
    return sorted(glob.glob(os.path.join(top, local + ".*")))


def test_user_add_on_directory_host_reaches_both_relays_and_logs_in(deployed):
    cp = deployed.runs[0][1]
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr       # the site these tests stand on
    address = "newuser-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    password = "pw-" + uuid.uuid4().hex
    for relay in RELAYS:
        assert _rcpt(relay, address)[0] == 550, relay
    started = time.monotonic()
    r = _user_add(deployed, address, password)
    returned = time.monotonic() - started
    assert "user %s added" % address in r.stdout, r.stdout + r.stderr
    accepted = _wait_rcpt(address, 250, started)
    assert set(accepted) == set(RELAYS), accepted
    assert max(accepted.values()) <= 10.0, accepted
    print("\nuser add (%.2f s on dir1) -> accepted at relay1 after %.2f s, relay2 after %.2f s"
          % (returned, accepted["relay1"], accepted["relay2"]))
    assert _inbox(deployed, address, password)[0] == 0


def _deliver(deployed, address):
    message_id = "<%s@outside.test>" % uuid.uuid4()
    message = ("From: sender@outside.test\r\nTo: %s\r\nSubject: before del\r\nMessage-ID: %s\r\n\r\n"
               "mail of the first holder of the address\r\n" % (address, message_id))
    with in_netns(PREFIX + "-client"):
        with smtplib.SMTP(HOSTS["relay1"], 25, timeout=120) as s:
            s.ehlo("client.outside.test")
            assert s.sendmail("sender@outside.test", [address], message) == {}
    return message_id


def test_user_del_archives_on_both_stores_and_readd_starts_empty(deployed):
    address = "leaver-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    password = "pw-" + uuid.uuid4().hex
    _user_add(deployed, address, password)
    assert set(_wait_rcpt(address, 250, time.monotonic())) == set(RELAYS)
    with in_netns(PREFIX + "-client"):
        m = _imap(deployed, address, password)
        try:
            assert m.create("Projects")[0] == "OK"
        finally:
            m.logout()
    message_id = _deliver(deployed, address)
    # Delivered, and replicated: the message on both stores' disks.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(_holds(_mailbox_dir(deployed, s, address), message_id)
                                                   for s in STORES):
        time.sleep(1)
    assert all(_holds(_mailbox_dir(deployed, s, address), message_id) for s in STORES)

    r = _emailng_dir1(deployed, "user", "del", address, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "user %s deleted" % address in r.stdout, r.stdout
    for store in STORES:
        archives = _archives(deployed, store, address)
        assert len(archives) == 1, (store, archives, r.stdout)
        on_host = archives[0].replace(deployed.host_file(store, "/var/lib/emailng/"), "/var/lib/emailng/")
        assert "%s: mailbox archived in %s" % (store, on_host) in r.stdout, r.stdout
        assert _holds(archives[0], message_id), store
        assert os.path.isdir(os.path.join(archives[0], "mailboxes", "Projects")), store
        st = os.stat(archives[0])
        assert st.st_uid == 0 and st.st_mode & 0o077 == 0, (store, oct(st.st_mode))
        assert not os.path.exists(_mailbox_dir(deployed, store, address)), store
    refused = _wait_rcpt(address, 550, time.monotonic())
    assert set(refused) == set(RELAYS), refused

    # The address again, for someone else: an empty mailbox, no old folder.
    password2 = "pw-" + uuid.uuid4().hex
    r = _user_add(deployed, address, password2)
    assert "old mailbox" not in r.stdout, r.stdout
    assert set(_wait_rcpt(address, 250, time.monotonic())) == set(RELAYS)
    count, folders = _inbox(deployed, address, password2)
    assert count == 0
    assert not any("Projects" in f for f in folders), folders
    for store in STORES:
        assert not _holds(_mailbox_dir(deployed, store, address), message_id), store


def test_user_add_archives_a_leftover_mailbox_on_the_stores(deployed):
    """A mailbox folder at a free address (restored by hand, say) is put
    away by the stores before the new entry exists."""
    address = "leftover-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    for store in STORES:
        tree = _mailbox_dir(deployed, store, address)
        os.makedirs(os.path.join(tree, "storage"))
        with open(os.path.join(tree, "storage", "m.1"), "w") as f:
            f.write("Message-ID: <old-%s@outside.test>\n" % store)
    r = _user_add(deployed, address, "pw-" + uuid.uuid4().hex)
    assert "an old mailbox of %s was found and put away" % address in r.stdout, r.stdout
    for store in STORES:
        archives = _archives(deployed, store, address)
        assert len(archives) == 1, (store, archives)
        assert os.path.isfile(os.path.join(archives[0], "storage", "m.1"))
        assert not os.path.exists(_mailbox_dir(deployed, store, address))


def test_user_del_with_a_store_down_keeps_the_entry_inactive_for_a_retry(deployed):
    address = "retry-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    password = "pw-" + uuid.uuid4().hex
    _user_add(deployed, address, password)
    assert _inbox(deployed, address, password)[0] == 0        # a mailbox on the active store
    # store2's doveadm port dropped by its firewall for the directory host.
    rule = ["nft", "insert", "rule", "inet", "emailng", "input", "ip", "saddr", HOSTS["dir1"], "tcp", "dport",
            "12345", "drop"]
    deployed.on("store2", *rule)
    try:
        r = _emailng_dir1(deployed, "user", "del", address, check=False)
    finally:
        handle = deployed.on("store2", "sh", "-c", "nft -a list chain inet emailng input | grep '%s' | "
                             "sed -n 's/.*# handle //p'" % HOSTS["dir1"]).stdout.split()
        for h in handle:
            deployed.on("store2", "nft", "delete", "rule", "inet", "emailng", "input", "handle", h)
    assert r.returncode != 0, r.stdout
    assert "store2" in r.stderr and "does not answer" in r.stderr, r.stderr
    assert "run `emailng user del %s` again" % address in r.stderr, r.stderr
    out = _emailng_dir1(deployed, "user", "show", address, check=False)
    assert "deleting" in out.stdout, out.stdout + out.stderr
    refused = _wait_rcpt(address, 550, time.monotonic())
    assert set(refused) == set(RELAYS), refused
    r = _emailng_dir1(deployed, "user", "del", address, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "user %s deleted" % address in r.stdout
