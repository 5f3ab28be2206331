"""A second store pair on a running site, and where new users go (issue
15, A2). The fixture has run `emailng up` again with store3/store4 added
as pair2 (conftest.py)."""

import imaplib
import json
import os
import re
import ssl
import subprocess
import time

from clients import active_store, new_msgid, send_by_mx, store_message_ids
from conftest import DOMAIN, TLS_NAME, resolve

PASSWORD = "pairs-e2e-Secret-7"


def sections(output):
    """`emailng up` of a fabric: each host's lines, by host name."""
    out, host = {}, None
    for line in output.splitlines():
        m = re.match(r"== (\S+) \(", line)
        if m:
            host = m.group(1)
            out[host] = ""
        elif host:
            out[host] += line + "\n"
    return out


def service_line(text, service):
    m = re.search(r"^  %s\s+(.*)$" % re.escape(service), text, re.M)
    assert m, "no line for %s in:\n%s" % (service, text)
    return m.group(1)


def add_user(site, local, *options):
    cp = site.emailng("user", "add", local, "--password-stdin", *options, input=PASSWORD + "\n", check=False)
    return cp


def login(site, user):
    m = imaplib.IMAP4(resolve(TLS_NAME, "A")[0].address, 143, timeout=15)
    m.host = TLS_NAME
    m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
    m.login(user, PASSWORD)
    return m


def test_second_pair_joins_running_site(pairs):
    out = pairs.grow_output
    hosts = sections(out)
    assert re.search(r"fabric \S+: store3=198\.18\.0\.33 store4=198\.18\.0\.34 added", out), out
    # The new stores start; the old pair's stores, the directory and the
    # proxies' Dovecot stay up (their configuration did not change).
    for store in ("store3", "store4"):
        for svc in ("dovecot", "postfix"):
            assert service_line(hosts[store], svc).startswith("starting ... up"), hosts[store]
    for host, svc in (("store1", "dovecot"), ("store2", "dovecot"), ("store1", "postfix"),
                      ("dir1", "slapd"), ("proxy1", "dovecot"), ("proxy2", "dovecot")):
        assert service_line(hosts[host], svc).startswith("already up"), (host, hosts[host])
    # The proxies' monitor learns pair2; the relays' quota checks too.
    for proxy in ("proxy1", "proxy2"):
        assert "restarting for the new configuration" in service_line(hosts[proxy], "healthd"), hosts[proxy]
    for relay in ("relay1", "relay2"):
        assert "restarting for the new configuration" in service_line(hosts[relay], "policyd"), hosts[relay]
    deadline = time.time() + 30
    while time.time() < deadline and not all(active_store(pairs, p, "pair2") == "198.18.0.33"
                                             for p in ("proxy1", "proxy2")):
        time.sleep(0.5)
    for proxy in ("proxy1", "proxy2"):
        assert active_store(pairs, proxy, "pair1") == "198.18.0.31"
        assert active_store(pairs, proxy, "pair2") == "198.18.0.33", proxy
    # Each new store replicates with its partner only.
    for store, partner in (("store3", "198.18.0.34"), ("store4", "198.18.0.33")):
        conf = "%s/etc/%s/dovecot/dovecot.conf" % (pairs.state, store)
        cp = subprocess.run(["doveadm", "-c", conf, "config", "-h", "plugin/mail_replica"],
                            capture_output=True, text=True, timeout=30)
        assert cp.stdout.strip() == "tcps:%s:12345" % partner, cp.stdout + cp.stderr
    print("second pair up on the running site in %.1f s" % pairs.grow_seconds)


def users_per_pair(site):
    counts = {"pair1": 0, "pair2": 0}
    for u in json.loads(site.emailng("user", "list", "--json").stdout)["users"]:
        if u["mail_host"] in counts:
            counts[u["mail_host"]] += 1
    return counts


def fewest(counts):
    return min(("pair1", "pair2"), key=lambda p: (counts[p], p))


def test_new_users_go_to_the_pair_with_fewest_users(pairs):
    # Fill pair2 up to pair1 (the demo users alice and bob are on pair1;
    # other tests may have moved users): each new user goes to the pair
    # with fewer users, pair1 on a tie.
    for n in range(4):
        counts = users_per_pair(pairs)
        want = fewest(counts)
        cp = add_user(pairs, "placed%d" % n)
        assert cp.returncode == 0, cp.stderr
        assert "store pair %s" % want in cp.stdout, (counts, cp.stdout)
        assert "store_pair: %s\n" % want in pairs.emailng("user", "show", "placed%d" % n).stdout
        assert users_per_pair(pairs)[want] == counts[want] + 1
    cp = add_user(pairs, "dave", "--pair", "pair1")
    assert cp.returncode == 0 and "store pair pair1" in cp.stdout, cp.stdout + cp.stderr
    assert "store_pair: pair1\n" in pairs.emailng("user", "show", "dave").stdout
    cp = add_user(pairs, "erin", "--pair", "pair9")
    assert cp.returncode == 1, cp.stdout
    assert '"pair9" is not a store pair of this site (pair1, pair2)' in cp.stderr, cp.stderr


def test_mail_for_the_new_pair_lands_on_both_its_stores(pairs):
    user = "gina@" + DOMAIN
    assert add_user(pairs, "gina", "--pair", "pair2").returncode == 0
    msgid = new_msgid("pair2")
    send_by_mx([user], msgid)
    deadline = time.time() + 90
    seen = {}
    while time.time() < deadline:
        seen = {s: store_message_ids(pairs, s, user)[msgid] for s in ("store3", "store4")}
        if all(seen.values()):
            break
        time.sleep(1)
    assert seen == {"store3": 1, "store4": 1}, seen
    # The first pair's stores hold no mailbox of the user.
    for store in ("store1", "store2"):
        assert not os.path.exists(os.path.join(pairs.state, "data", store, "mail", DOMAIN, "gina")), store
    # A client at the proxies reaches it.
    m = login(pairs, user)
    try:
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK"
        typ, found = m.search(None, "HEADER", "Message-ID", msgid)
        assert typ == "OK" and len(found[0].split()) == 1, found
    finally:
        m.logout()
