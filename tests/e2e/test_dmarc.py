"""DMARC of inbound mail (issue 11): OpenDMARC on the small site's MX, through
the real Postfix, Dovecot and the stores' global Sieve script.

The module runs its own small site (own_site) with `dmarc: {mode: enforce}`
and XCLIENT for the test client, and an authoritative DNS server (Debian's
nsd) on 127.0.0.154 serving the sender domains of the tests:

  reject.test      "v=DMARC1; p=reject",      SPF -all
  quarantine.test  "v=DMARC1; p=quarantine",  SPF -all
  pass.test        "v=DMARC1; p=reject",      SPF allows 192.0.2.0/24

OpenDMARC (and emailng-policyd's SPF helper) resolve through a resolv.conf
naming that server: the site's policy.spf.resolv_conf, the one resolver of
the border's sender checks. The client connects from loopback (which
OpenDMARC leaves alone, IgnoreHosts) and presents an internet address with
XCLIENT: Postfix hands the milters that address. The last tests start the
site again with dmarc.mode monitor, then off. Messages are counted by
Message-ID, per folder."""

import os
import shutil
import tempfile
import time

import pytest

from nsd import Nsd
from conftest import (SMTP, imap_connect, imap_find, log_tail, make_message, msgid, own_site,
                      wait_for_message)

DNS_ADDR = "127.0.0.154"
PUBLIC_NAME = "mail.example.test"
BOB = "bob@example.test"
INTERNET_CLIENT = "192.0.2.10"    # allowed by pass.test's SPF, by no other

ZONES = {
    "reject.test": ['_dmarc IN TXT "v=DMARC1; p=reject"', '@ IN TXT "v=spf1 -all"'],
    "quarantine.test": ['_dmarc IN TXT "v=DMARC1; p=quarantine"', '@ IN TXT "v=spf1 -all"'],
    "pass.test": ['_dmarc IN TXT "v=DMARC1; p=reject"', '@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"'],
}

SITE = """\
site: {{name: dmarc-e2e}}
domains: [example.test]
hosts:
  - {{name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}}
tls: {{names: [{public}, localhost, 127.0.0.1]}}
demo_users: true
filter: {{enabled: false}}
policy:
  spf: {{enabled: false, resolv_conf: {resolv}}}
  xclient_hosts: [127.0.0.2]
dmarc: {{mode: {mode}}}
"""


@pytest.fixture(scope="module")
def dns():
    if not shutil.which("nsd"):
        pytest.fail("nsd is not installed: run scripts/install-deps.sh (the DMARC tests need a real DNS server)")
    parent = os.environ.get("EMAILNG_E2E_TMP", tempfile.gettempdir())
    root = tempfile.mkdtemp(prefix="emailng-e2e-dmarc-dns-", dir=parent)
    os.chmod(root, 0o755)
    yield Nsd(root, DNS_ADDR)
    shutil.rmtree(root, ignore_errors=True)


def _tail(site):
    out = [log_tail(site)]
    p = os.path.join(site.state, "log", "mail", "opendmarc.log")
    try:
        with open(p, errors="replace") as f:
            out.append("== %s\n%s" % (p, "".join(f.readlines()[-20:])))
    except OSError:
        pass
    return "\n".join(out)


def _restart(site, dns, mode):
    """The running site with dmarc.mode = mode: `emailng up` with the changed
    file and no `down` before it, as an administrator would change it."""
    with open(site.site_file, "w") as f:
        f.write(SITE.format(public=PUBLIC_NAME, resolv=dns.resolv, mode=mode))
    r = site.run("up", "--site", site.site_file, timeout=300)
    assert r.rc == 0, "emailng up (dmarc.mode %s) failed: %r\n%s" % (mode, r, _tail(site))
    return r


def _opendmarc_processes(site):
    """OpenDMARC processes started for this site (their command line names its state)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and os.path.basename(args[0]) == b"opendmarc" and site.state.encode() in b" ".join(args):
            found.append(int(pid))
    return found


@pytest.fixture(scope="module")
def dsite(dns):
    with own_site("dmarc", lambda state: SITE.format(public=PUBLIC_NAME, resolv=dns.resolv, mode="enforce"),
                  tail=_tail) as s:
        dns.serve({name: "\n".join(records) for name, records in ZONES.items()})
        try:
            yield s
        finally:
            dns.stop()


def _send(sender_domain, extra_headers=(), xclient=INTERNET_CLIENT, subject="dmarc e2e"):
    """One message from someone@sender_domain (envelope and header From:) to bob
    on port 25, the client presenting `xclient` (None: none, the loopback
    client itself). Returns (Message-ID, (code, reply) of DATA)."""
    sender = "someone@%s" % sender_domain
    mid = msgid()
    message, _ = make_message(sender, BOB, mid, subject=subject, extra_headers=extra_headers)
    with SMTP(25, timeout=60) as s:
        s.ehlo("client.e2e.test")
        if xclient:
            assert s.has_extn("xclient"), "XCLIENT not offered to the test client"
            code, msg = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE]" % xclient)
            assert code == 220, (code, msg)
            s.ehlo_resp = None
            s.esmtp_features = {}
            s.ehlo("mx.sender.example")
        assert s.mail(sender)[0] == 250
        code, msg = s.rcpt(BOB)
        assert code == 250, (code, msg)
        try:
            reply = s.data(message)
        except Exception as e:   # pragma: no cover - reported below
            reply = (None, repr(e).encode())
    return mid, reply


def _count(site, mid, mailbox):
    m = imap_connect(site, BOB, site.passwords[BOB])
    try:
        return len(imap_find(m, mid, mailbox))
    finally:
        m.logout()


def _headers(raw):
    """The header lines (unfolded) of a message as text."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    return [line for line in head.replace("\r\n\t", " ").replace("\r\n ", " ").split("\r\n")]


def _our_results(raw):
    """Values of the Authentication-Results fields with our authserv-id."""
    out = []
    for line in _headers(raw):
        name, _, value = line.partition(":")
        if name.lower() == "authentication-results":
            value = value.strip()
            if value.split(";", 1)[0].strip().lower() == PUBLIC_NAME:
                out.append(value)
    return out


def _wait_settled(site, mid, seconds=4.0):
    """Waits for delivery to settle, then (INBOX count, Junk count)."""
    time.sleep(seconds)
    return _count(site, mid, "INBOX"), _count(site, mid, "Junk")


# --- enforce ------------------------------------------------------------------

def test_opendmarc_runs_as_a_service(dsite):
    """`status` lists opendmarc on its milter socket (no port); the socket is
    reachable by Postfix's group only."""
    services = dsite.services()
    assert services["opendmarc"]["state"] == "up", services["opendmarc"]
    assert services["opendmarc"]["ports"] == [] and services["opendmarc"]["local"] == "milter socket"
    d = os.path.join(dsite.state, "run", "mail", "opendmarc")
    st = os.stat(d)
    assert st.st_mode & 0o007 == 0, oct(st.st_mode)


def test_reject_policy_failure_refused_at_data(dsite):
    """A forged From: in reject.test (p=reject, SPF -all) is refused at the end of
    DATA with 550 5.7.1, and nothing is delivered."""
    mid, (code, msg) = _send("reject.test")
    assert code == 550 and msg.startswith(b"5.7.1"), (code, msg, _tail(dsite))
    assert _wait_settled(dsite, mid) == (0, 0)


def test_quarantine_policy_failure_goes_to_junk(dsite):
    """A quarantine.test failure is delivered to bob's Junk, not his INBOX, with our
    Authentication-Results saying dmarc=fail for p=quarantine (the stores' Sieve
    files it; OpenDMARC itself has nothing held)."""
    mid, (code, msg) = _send("quarantine.test")
    assert code == 250, (code, msg, _tail(dsite))
    raw = wait_for_message(dsite, BOB, mid, mailbox="Junk")
    assert _count(dsite, mid, "INBOX") == 0
    results = _our_results(raw)
    assert any(r.startswith(PUBLIC_NAME + "; dmarc=fail (p=quarantine ") for r in results), results


def test_pass_goes_to_inbox_with_our_results(dsite):
    """A pass.test message from an address its SPF allows (presented with XCLIENT,
    so the milter sees the internet address) lands in INBOX with our
    Authentication-Results: authserv-id = the public name, spf=pass, dmarc=pass."""
    mid, (code, msg) = _send("pass.test")
    assert code == 250, (code, msg, _tail(dsite))
    raw = wait_for_message(dsite, BOB, mid)
    results = _our_results(raw)
    assert any(r.startswith(PUBLIC_NAME + "; dmarc=pass") and "header.from=pass.test" in r for r in results), \
        (results, raw[:2000])
    assert any("spf=pass smtp.mailfrom=pass.test" in r for r in results), results
    assert _wait_settled(dsite, mid, 1.0) == (1, 0)
    # S7: no internal host name in the results (the small site's host is "mail").
    assert not any("mail;" in r.split(" ")[0] for r in results), results


def test_forged_results_do_not_make_a_pass(dsite):
    """A message from reject.test carrying a forged Authentication-Results under our
    authserv-id ("dkim=pass ... dmarc=pass") is still a DMARC failure: Postfix
    drops the forged field before OpenDMARC reads it, so it is refused."""
    forged = ("Authentication-Results: %s; dkim=pass header.d=reject.test header.b=abcd; "
              "spf=pass smtp.mailfrom=reject.test; dmarc=pass (p=reject dis=none) header.from=reject.test"
              % PUBLIC_NAME)
    mid, (code, msg) = _send("reject.test", extra_headers=(forged,))
    assert code == 550 and msg.startswith(b"5.7.1"), (code, msg, _tail(dsite))
    assert _wait_settled(dsite, mid) == (0, 0)


def test_forged_results_do_not_junk_or_unjunk(dsite):
    """A forged quarantine verdict under our authserv-id does not junk a valid
    pass.test message, and a forged pass does not rescue a quarantine.test
    failure from Junk; the delivered copies carry only our relay's results."""
    forged_fail = ("Authentication-Results: %s; dmarc=fail (p=quarantine dis=none) header.from=pass.test"
                   % PUBLIC_NAME)
    mid_ok, (code, msg) = _send("pass.test", extra_headers=(forged_fail,))
    assert code == 250, (code, msg)
    forged_pass = ("Authentication-Results: %s; dmarc=pass (p=quarantine dis=none) header.from=quarantine.test"
                   % PUBLIC_NAME)
    mid_bad, (code, msg) = _send("quarantine.test", extra_headers=(forged_pass,))
    assert code == 250, (code, msg)

    raw = wait_for_message(dsite, BOB, mid_ok)
    assert not any("dmarc=fail" in r for r in _our_results(raw)), _our_results(raw)
    raw = wait_for_message(dsite, BOB, mid_bad, mailbox="Junk")
    assert not any("dmarc=pass" in r for r in _our_results(raw)), _our_results(raw)
    assert _wait_settled(dsite, mid_ok, 1.0) == (1, 0)
    assert _wait_settled(dsite, mid_bad, 0.0) == (0, 1)


def test_loopback_client_not_checked(dsite):
    """Programs on the host itself (loopback, no XCLIENT) are not DMARC-checked
    (IgnoreHosts): even reject.test is delivered, without a DMARC result of
    ours (OpenDKIM, first in the list, may still say dkim=none)."""
    mid, (code, msg) = _send("reject.test", xclient=None)
    assert code == 250, (code, msg)
    raw = wait_for_message(dsite, BOB, mid)
    assert not any("dmarc=" in r for r in _our_results(raw)), _our_results(raw)


# --- monitor, then off ---------------------------------------------------------

def test_monitor_mode_only_reports(dsite, dns):
    """dmarc.mode monitor: nothing is refused or junked; the results still say
    dmarc=fail and the sender's policy."""
    _restart(dsite, dns, "monitor")
    mid_r, (code, msg) = _send("reject.test")
    assert code == 250, (code, msg, _tail(dsite))
    mid_q, (code, msg) = _send("quarantine.test")
    assert code == 250, (code, msg)
    raw = wait_for_message(dsite, BOB, mid_r)
    assert any("dmarc=fail (p=reject dis=none) header.from=reject.test" in r for r in _our_results(raw)), \
        _our_results(raw)
    raw = wait_for_message(dsite, BOB, mid_q)
    assert any("dmarc=fail (p=quarantine dis=none)" in r for r in _our_results(raw)), _our_results(raw)
    assert _wait_settled(dsite, mid_q, 1.0) == (1, 0)
    assert _wait_settled(dsite, mid_r, 0.0) == (1, 0)


def test_off_mode_no_opendmarc(dsite, dns):
    """dmarc.mode off: no OpenDMARC runs, Postfix asks no DMARC milter, and mail
    from reject.test is delivered without our DMARC result."""
    assert _opendmarc_processes(dsite), "OpenDMARC should run before the switch"
    r = _restart(dsite, dns, "off")
    assert "opendmarc stopped, no longer wanted by the site file" in r.out, r.out
    assert "opendmarc" not in dsite.services()
    assert _opendmarc_processes(dsite) == []
    mid, (code, msg) = _send("reject.test")
    assert code == 250, (code, msg, _tail(dsite))
    raw = wait_for_message(dsite, BOB, mid)
    assert not any("dmarc=" in r for r in _our_results(raw)), _our_results(raw)
