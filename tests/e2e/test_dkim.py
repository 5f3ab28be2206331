"""DKIM on the small site (issue 11): OpenDKIM signs what our users send
through submission, verifies what the internet sends on port 25 (our
Authentication-Results, with the public name), never signs internet mail
that claims one of our addresses, and the key rotation only switches once
the DNS serves the new record.

A site of its own (the rotation changes its keys). The verifier is a real
one: OpenDKIM's test mode (`opendkim -t`) in verify mode, with its DNS
lookups forwarded to Debian's nsd on 127.0.0.153 serving the zone that
`emailng dns` prints. `emailng dkim activate` looks the record up through
the system resolver: it runs in a private mount namespace whose
/etc/resolv.conf names that nsd."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from nsd import Nsd as SharedNsd
from conftest import (DATADIR, DOMAIN, EMAILNG, GOOD_SITE, SMTP, TLS_NAME, make_message, msgid, own_site,
                      smtp_send, tls_context, wait_for_message)

DNS_ADDR = "127.0.0.153"


class Nsd(SharedNsd):
    """nsd serving example.test on DNS_ADDR:53 from what `emailng dns` prints,
    and a verifier: OpenDKIM in verify mode, its libunbound forwarding to nsd."""

    def __init__(self, root):
        super().__init__(root, DNS_ADDR, attempts=2)
        self.unbound = os.path.join(root, "verifier-unbound.conf")
        with open(self.unbound, "w") as f:
            f.write('server:\n    do-not-query-localhost: no\n    local-zone: "test." nodefault\n'
                    'forward-zone:\n    name: "."\n    forward-addr: %s\n' % DNS_ADDR)
        self.verifier = os.path.join(root, "verifier.conf")
        with open(self.verifier, "w") as f:
            f.write("Mode v\nSyslog no\nAuthservID verifier.test\nResolverConfiguration %s\n" % self.unbound)

    def publish(self, zone_text):
        """Serve zone_text (zone-file lines); restarts nsd."""
        self.serve({DOMAIN: zone_text})

    def verify(self, raw, tmp):
        """OpenDKIM's own verdict on the message bytes: its output line."""
        path = os.path.join(tmp, "verify-%d.eml" % time.monotonic_ns())
        with open(path, "wb") as f:
            f.write(raw.replace(b"\r\n", b"\n"))
        cp = subprocess.run(["opendkim", "-x", self.verifier, "-t", path], capture_output=True, text=True)
        return cp.stdout + cp.stderr


def run_with_resolver(site, resolv, *args):
    """`emailng ARGS --state` with /etc/resolv.conf replaced by resolv in a
    private mount namespace (the system resolver then asks our nsd)."""
    cmd = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv,
           EMAILNG, *args, "--state", site.state]
    cp = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, EMAILNG_DATADIR=DATADIR),
                        timeout=120)
    return cp


@pytest.fixture(scope="module")
def dsite():
    if not shutil.which("nsd"):
        pytest.fail("nsd is not installed: run scripts/install-deps.sh (the DKIM tests need a real DNS server)")
    with own_site("dkim", GOOD_SITE) as s:
        yield s


@pytest.fixture(scope="module")
def dns(dsite, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("dkim-dns"))
    os.chmod(root, 0o755)
    n = Nsd(root)
    n.publish(dsite.run("dns", "--domain", DOMAIN, check=True).out)
    yield n
    n.stop()


def active_selector(site):
    data = json.loads(site.run("dkim", "list", "--json", check=True).out)
    dom = [d for d in data["domains"] if d["domain"] == DOMAIN][0]
    return [s for s in dom["selectors"] if s["state"] == "active"][0]["selector"]


def submit(site, subject):
    """alice -> bob through submission (587, STARTTLS, authenticated)."""
    mid = msgid()
    msg, _ = make_message("alice@" + DOMAIN, "bob@" + DOMAIN, mid, subject=subject)
    with SMTP(587) as s:
        s.starttls(context=tls_context(site))
        s.login("alice@" + DOMAIN, site.passwords["alice@" + DOMAIN])
        s.sendmail("alice@" + DOMAIN, ["bob@" + DOMAIN], msg)
    return wait_for_message(site, "bob@" + DOMAIN, mid)


def header_block(raw):
    return raw[:raw.find(b"\r\n\r\n")].decode(errors="replace")


def signature_tags(raw):
    """{tag: value} of every DKIM-Signature header (unfolded), in order."""
    sigs = []
    for m in re.finditer(r"^DKIM-Signature:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", header_block(raw), re.M | re.I):
        text = re.sub(r"\s+", "", m.group(1))
        sigs.append(dict(t.split("=", 1) for t in text.split(";") if "=" in t))
    return sigs


def test_opendkim_runs_as_opendkim_and_only_postfix_reaches_it(dsite):
    svc = dsite.services()["opendkim"]
    assert svc["state"] == "up", svc
    with open("/proc/%d/status" % svc["pid"]) as f:
        status = f.read()
    import pwd
    import grp
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
    assert pwd.getpwuid(uid).pw_name == "opendkim"
    sock = os.path.join(dsite.state, "run", "mail", "opendkim", "milter")
    st = os.stat(sock)
    assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name) == ("opendkim", "postfix")
    assert st.st_mode & 0o777 == 0o660
    # The master keys: root only; the relay's copy: opendkim only.
    keydir = os.path.join(dsite.state, "secrets", "dkim", DOMAIN)
    for name in os.listdir(keydir):
        st = os.stat(os.path.join(keydir, name))
        assert st.st_uid == 0 and st.st_mode & 0o077 == 0, name
    copy = os.path.join(dsite.state, "data", "mail", "opendkim")
    assert os.stat(copy).st_mode & 0o777 == 0o700
    for name in os.listdir(copy):
        st = os.stat(os.path.join(copy, name))
        assert pwd.getpwuid(st.st_uid).pw_name == "opendkim" and st.st_mode & 0o077 == 0, name


def _connect_as(user, path):
    """Connects to the unix socket as user (no other groups): "ok" or the errno name."""
    import pwd
    pw = pwd.getpwnam(user)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    script = ("import errno, socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
              "try:\n    s.connect(sys.argv[1])\n    print('ok')\n"
              "except OSError as e:\n    print(errno.errorcode[e.errno])\n")
    cp = subprocess.run(["python3", "-c", script, path], preexec_fn=drop, capture_output=True, text=True,
                        timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.strip()


def test_only_postfix_connects_to_the_milter(dsite):
    sock = os.path.join(dsite.state, "run", "mail", "opendkim", "milter")
    assert _connect_as("nobody", sock) == "EACCES"
    assert _connect_as("postfix", sock) == "ok"


def test_submission_is_signed_and_verifies_after_amavisd(dsite, dns, tmp_path):
    """alice's mail is signed d=example.test with the active selector; the
    copy bob receives (after amavisd added its headers) still verifies."""
    raw = submit(dsite, "dkim signed")
    sigs = signature_tags(raw)
    assert len(sigs) == 1, header_block(raw)
    assert sigs[0]["d"] == DOMAIN and sigs[0]["s"] == active_selector(dsite)
    assert "X-Virus-Scanned:" in header_block(raw)       # amavisd's path was taken
    verdict = dns.verify(raw, str(tmp_path))
    assert "verification (s=%s, d=%s, 2048-bit key) succeeded" % (sigs[0]["s"], DOMAIN) in verdict, verdict
    # The same verifier refuses a changed body: the check is not always green.
    tampered = raw.replace(b"Hello from the EmailNG", b"Hello from someone else")
    verdict = dns.verify(tampered, str(tmp_path))
    assert "failed: signature verification failed" in verdict, verdict


def test_internet_mail_with_our_from_is_not_signed_and_gets_our_results(dsite):
    """Port 25 from outside with From: alice@example.test: no signature; one
    Authentication-Results, ours (the public name, dkim=none); the forged
    one claiming our name is gone, a foreign one stays."""
    mid = msgid()
    msg, _ = make_message("alice@" + DOMAIN, "bob@" + DOMAIN, mid, subject="dkim forged", extra_headers=(
        "Authentication-Results: %s; dkim=pass header.d=%s; spf=pass" % (TLS_NAME, DOMAIN),
        "Authentication-Results: other.example.net; dkim=pass header.d=other.example.net",
    ))
    smtp_send("someone@outside.test", ["bob@" + DOMAIN], msg)
    raw = wait_for_message(dsite, "bob@" + DOMAIN, mid)
    hdrs = header_block(raw)
    assert signature_tags(raw) == [], hdrs
    ours = re.findall(r"^Authentication-Results:[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", hdrs, re.M)
    ours = [re.sub(r"\s+", " ", a) for a in ours]
    assert len([a for a in ours if a.startswith(TLS_NAME)]) == 1, ours
    mine = [a for a in ours if a.startswith(TLS_NAME)][0]
    assert mine.startswith(TLS_NAME + "; dkim=none"), mine
    assert "spf=pass" not in mine, "the forged result survived: %r" % ours
    assert any(a.startswith("other.example.net;") for a in ours), ours
    # S7: no internal host name in what we added.
    assert "mail;" not in mine and "localhost" not in mine


def test_rotation_switches_only_once_the_dns_serves_the_new_key(dsite, dns, tmp_path):
    old = active_selector(dsite)
    r = dsite.run("dkim", "rotate", DOMAIN, "--selector", "next1")
    assert r.rc == 0, r
    assert "next1._domainkey.%s. IN TXT \"v=DKIM1; k=rsa; p=" % DOMAIN in r.out, r.out
    listing = json.loads(dsite.run("dkim", "list", "--json", check=True).out)
    states = {s["selector"]: s["state"] for s in listing["domains"][0]["selectors"]}
    assert states == {old: "active", "next1": "pending"}, states
    # `emailng dns` publishes both records; a second rotate is refused.
    zone = dsite.run("dns", "--domain", DOMAIN, check=True).out
    assert "%s._domainkey.%s. IN TXT" % (old, DOMAIN) in zone and "next1._domainkey.%s. IN TXT" % DOMAIN in zone
    assert dsite.run("dkim", "rotate", DOMAIN).rc == 1

    # Pending: mail is still signed with the old selector.
    raw = submit(dsite, "dkim before activation")
    assert [s["s"] for s in signature_tags(raw)] == [old]

    # The DNS does not serve the new record yet (the old zone): refused, named.
    cp = run_with_resolver(dsite, dns.resolv, "dkim", "activate", DOMAIN)
    assert cp.returncode == 1, cp
    assert "next1._domainkey.%s" % DOMAIN in cp.stderr and "not activated" in cp.stderr, cp.stderr
    assert active_selector(dsite) == old
    raw = submit(dsite, "dkim after refused activation")
    assert [s["s"] for s in signature_tags(raw)] == [old]

    # Published: accepted; OpenDKIM reloads (same pid) and signs with next1.
    pid = dsite.services()["opendkim"]["pid"]
    dns.publish(zone)
    cp = run_with_resolver(dsite, dns.resolv, "dkim", "activate", DOMAIN)
    assert cp.returncode == 0, cp
    assert "OpenDKIM reloaded" in cp.stdout, cp.stdout
    assert active_selector(dsite) == "next1"
    assert dsite.services()["opendkim"]["pid"] == pid
    raw = submit(dsite, "dkim after activation")
    sigs = signature_tags(raw)
    assert [s["s"] for s in sigs] == ["next1"]
    verdict = dns.verify(raw, str(tmp_path))
    assert "verification (s=next1, d=%s, 2048-bit key) succeeded" % DOMAIN in verdict, verdict

    # The old selector stays published, retiring, until retire (not before
    # dkim.retire_after_days unless --force).
    listing = json.loads(dsite.run("dkim", "list", "--json", check=True).out)
    states = {s["selector"]: s["state"] for s in listing["domains"][0]["selectors"]}
    assert states == {old: "retiring", "next1": "active"}, states
    assert "%s._domainkey.%s. IN TXT" % (old, DOMAIN) in dsite.run("dns", check=True).out
    r = dsite.run("dkim", "retire", DOMAIN)
    assert r.rc == 1 and "younger than 7 days" in r.err, r
    r = dsite.run("dkim", "retire", DOMAIN, "--force")
    assert r.rc == 0, r
    assert "%s._domainkey" % old not in dsite.run("dns", check=True).out
    assert not os.path.exists(os.path.join(dsite.state, "secrets", "dkim", DOMAIN, old + ".private"))


@pytest.mark.parametrize("args,rc,text", [
    (["rotate", "example.test/../../etc"], 2, "not a domain of site"),
    (["rotate", "evil.test"], 2, "not a domain of site"),
    (["rotate", DOMAIN, "--selector", "a;b"], 2, "not a selector"),
    (["rotate", DOMAIN, "--selector", "../x"], 2, "not a selector"),
    (["rotate", DOMAIN, "--selector", "-x"], 2, "not a selector"),
    (["rotate", DOMAIN, "--selector", "s" * 64], 2, "not a selector"),
    (["activate"], 2, "which DOMAIN"),
    (["frobnicate"], 2, "unknown action"),
])
def test_hostile_domain_or_selector_refused(dsite, args, rc, text):
    r = dsite.run("dkim", *args)
    assert r.rc == rc and text in r.err, r
    assert not os.path.exists(os.path.join(dsite.state, "secrets", "dkim", "evil.test"))
