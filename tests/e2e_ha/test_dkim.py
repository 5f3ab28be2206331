"""DKIM in the full topology (issue 11): both relays sign with the same key
(one selector, the state directory's), the signature verifies against the
record the fabric's nsd serves (rendered from `emailng dns`), and a relay's
OpenDKIM verifies inbound mail through the relay's own resolver: the signed
message, handed to the other relay's port 25 from the internet, gets our
Authentication-Results (public name) with dkim=pass.

The independent verifier is OpenDKIM's test mode in verify mode, its
libunbound forwarding to the fabric's DNS."""

import imaplib
import json
import os
import re
import smtplib
import ssl
import subprocess
import time
import uuid

from conftest import DOMAIN, FABRIC_DNS, HOSTS, TLS_NAME

DELIVERY_TIMEOUT = 60.0


def _submit(site, relay, msgid):
    ctx = ssl.create_default_context(cafile=site.ca)
    user = "alice@" + DOMAIN
    with smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=30) as s:
        s.ehlo()
        s._host = TLS_NAME
        s.starttls(context=ctx)
        s.ehlo()
        s.login(user, site.password(user))
        body = ("From: %s\r\nTo: bob@%s\r\nSubject: dkim via %s\r\nMessage-ID: %s\r\n\r\nsigned by %s\r\n"
                % (user, DOMAIN, relay, msgid, relay))
        assert s.sendmail(user, ["bob@" + DOMAIN], body) == {}


def _fetch(site, user, msgid):
    """The message's bytes once in the user's INBOX (IMAP at the proxies)."""
    deadline = time.time() + DELIVERY_TIMEOUT
    while time.time() < deadline:
        m = imaplib.IMAP4(HOSTS["proxy1"], 143, timeout=30)
        m.host = TLS_NAME
        try:
            m.starttls(ssl_context=ssl.create_default_context(cafile=site.ca))
            m.login(user, site.password(user))
            m.select("INBOX", readonly=True)
            typ, data = m.search(None, "HEADER", "Message-ID", msgid)
            if typ == "OK" and data[0].split():
                typ, data = m.fetch(data[0].split()[-1], "(BODY.PEEK[])")
                return [part[1] for part in data if isinstance(part, tuple)][0]
        finally:
            try:
                m.logout()
            except Exception:
                pass
        time.sleep(1)
    raise AssertionError("%s not delivered to %s within %ss" % (msgid, user, DELIVERY_TIMEOUT))


def _headers(raw):
    return raw[:raw.find(b"\r\n\r\n")].decode(errors="replace")


def _signatures(raw):
    sigs = []
    for m in re.finditer(r"^DKIM-Signature:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", _headers(raw), re.M | re.I):
        text = re.sub(r"\s+", "", m.group(1))
        sigs.append(dict(t.split("=", 1) for t in text.split(";") if "=" in t))
    return sigs


def _verify(raw, tmp_path):
    unbound = tmp_path / "unbound.conf"
    unbound.write_text('server:\n    local-zone: "test." nodefault\n'
                       'forward-zone:\n    name: "."\n    forward-addr: %s\n' % FABRIC_DNS)
    conf = tmp_path / "verifier.conf"
    conf.write_text("Mode v\nSyslog no\nAuthservID verifier.test\nResolverConfiguration %s\n" % unbound)
    msg = tmp_path / ("m-%s.eml" % uuid.uuid4().hex)
    msg.write_bytes(raw.replace(b"\r\n", b"\n"))
    cp = subprocess.run(["opendkim", "-x", str(conf), "-t", str(msg)], capture_output=True, text=True)
    return cp.stdout + cp.stderr


def test_both_relays_sign_with_the_one_key_and_it_verifies(ha, tmp_path):
    listing = json.loads(ha.emailng("dkim", "list", "--json").stdout)
    selector = [s for s in listing["domains"][0]["selectors"] if s["state"] == "active"][0]["selector"]
    seen = {}
    for relay in ("relay1", "relay2"):
        msgid = "<%s@example.test>" % uuid.uuid4()
        _submit(ha, relay, msgid)
        raw = _fetch(ha, "bob@" + DOMAIN, msgid)
        sigs = _signatures(raw)
        assert [(s["d"], s["s"]) for s in sigs] == [(DOMAIN, selector)], _headers(raw)
        verdict = _verify(raw, tmp_path)
        assert "verification (s=%s, d=%s, 2048-bit key) succeeded" % (selector, DOMAIN) in verdict, verdict
        seen[relay] = raw
    # Each relay runs its own OpenDKIM with its own copy of the same key.
    for relay in ("relay1", "relay2"):
        copy = os.path.join(ha.state, "data", relay, "opendkim", "%s.%s.private" % (DOMAIN, selector))
        with open(copy, "rb") as a, open(os.path.join(ha.state, "secrets", "dkim", DOMAIN,
                                                      selector + ".private"), "rb") as b:
            assert a.read() == b.read(), relay

    # relay2 verifies relay1's signature when the message comes from the
    # internet (the client namespace) on port 25: dkim=pass, public name.
    raw = seen["relay1"]
    body = raw[raw.find(b"\r\n\r\n") + 4:]
    # What the site added on the way in is left out (with its folded lines):
    # the copy arrives as the internet would send it.
    added = re.compile(r"(Return-Path|Delivered-To|X-[A-Za-z-]+|Received|Authentication-Results):", re.I)
    lines, skip = [], False
    for line in _headers(raw).split("\r\n"):
        if line[:1] not in (" ", "\t"):
            skip = bool(added.match(line))
        if not skip:
            lines.append(line)
    msgid = re.search(r"^Message-ID:\s*(<[^>]+>)", "\r\n".join(lines), re.M | re.I).group(1)
    again = ("\r\n".join(lines)).encode() + b"\r\n\r\n" + body
    # The same Message-ID (a new one would break the signature), to alice: her
    # mailbox has no copy yet, so the stores' duplicate filter lets it in.
    with smtplib.SMTP(HOSTS["relay2"], 25, local_hostname="sender.outside.test", timeout=30) as s:
        assert s.sendmail("someone@outside.test", ["alice@" + DOMAIN], again) == {}
    got = _fetch(ha, "alice@" + DOMAIN, msgid)
    results = [re.sub(r"\s+", " ", a) for a in
               re.findall(r"^Authentication-Results:[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", _headers(got), re.M)]
    ours = [a for a in results if a.startswith(TLS_NAME + ";")]
    # OpenDKIM's (one), then OpenDMARC's (dmarc=, spf=): each names only the public name.
    dkim = [a for a in ours if "dkim=" in a]
    assert len(dkim) == 1, results
    assert "dkim=pass" in dkim[0] and "header.d=%s" % DOMAIN in dkim[0], ours
    assert all("relay" not in a.split(";")[0] for a in results), results   # S7: the public name only
