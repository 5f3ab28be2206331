"""C4 (issue 13) on the full topology: mail clients configure themselves from
what nginx on BOTH proxies serves (Thunderbird autoconfig, Outlook
autodiscover POX and v2 JSON, the Apple .mobileconfig). As a client does,
the test looks the names up in the fabric's DNS (autoconfig.DOMAIN,
autodiscover.DOMAIN and mail.DOMAIN have one A record per proxy) and asks
each address in turn, TLS verified for the name against the site CA. Every
proxy must give the same answer; the answer names the proxies' public IMAP
name and the relays' own names, and the settings are then USED: IMAP
(and POP3) login at every address of the IMAP name, submission at each
relay the answer lists, on the port and socket type it gives, and the
message arrives (counted by Message-ID). The small site's hostile-input
tests (tests/e2e/test_autoconfig.py) cover the same static nginx files."""

import json
import plistlib
import socket
import ssl
import urllib.parse
import uuid

from autoconfig_answers import (OUTLOOK_HEADERS, OUTLOOK_REQUEST, TB_URL, https_request, imap_login, pop3_login,
                                pox_protocols, thunderbird_servers)
from autoconfig_answers import submit as submit_as_told
from clients import assert_exactly_once, new_msgid, wait_delivered
from conftest import DOMAIN, HOSTS, TLS_NAME, resolve

USER = "bob@" + DOMAIN
PROXIES = sorted([HOSTS["proxy1"], HOSTS["proxy2"]])
RELAY_NAMES = ["relay1." + DOMAIN, "relay2." + DOMAIN]
DELIVERY_TIMEOUT = 150


def addresses(name):
    """The A records of name in the fabric's DNS, sorted."""
    return sorted(a.address for a in resolve(name, "A"))


def _context(site):
    return ssl.create_default_context(cafile=site.ca)


def _connect_to(address):
    """A connect(host, port) that opens the TCP connection to this one address of host."""
    return lambda host, port: socket.create_connection((address, port), 30)


def https_each(site, name, path, method="GET", body=None, headers=None):
    """The request to https://NAME/PATH at every address NAME has (each proxy),
    TLS verified for NAME; the one answer all of them gave: (status, headers, body)."""
    found = addresses(name)
    assert found == PROXIES, "%s: %s, expected the proxies %s" % (name, found, PROXIES)
    answers = []
    for address in found:
        status, got_headers, got_body = https_request(_context(site), _connect_to(address), name, path, method,
                                                      body, headers)
        answers.append((status, {k: v for k, v in got_headers.items() if k != "date"}, got_body))
    assert all((a[0], a[2]) == (answers[0][0], answers[0][2]) for a in answers), \
        "the proxies answer %s differently: %r" % (path, [(a[0], a[2][:200]) for a in answers])
    return answers[0]


# --- using the settings -------------------------------------------------------------

def imap_login_each(site, host, port, socket_type, user, password):
    """LOGIN and SELECT INBOX at every address of host, as told (port, socket type)."""
    found = addresses(host)
    assert found == PROXIES, (host, found)
    for address in found:
        imap_login(_context(site), _connect_to(address), host, port, socket_type, user, password)


def pop3_login_each(site, host, port, socket_type, user, password):
    for address in addresses(host):
        pop3_login(_context(site), _connect_to(address), host, port, socket_type, user, password)


def submit(site, host, port, socket_type, user, password):
    """A message to the user itself, sent as a client told (host, port, socket
    type) does: host looked up in the fabric's DNS. Returns its Message-ID."""
    [address] = addresses(host)         # a relay's own name: its one address
    mid = new_msgid("autoconfig")
    message = ("From: %s\r\nTo: %s\r\nSubject: auto-configured client %s:%d\r\nMessage-ID: %s\r\n\r\n"
               "body of %s\r\n" % (user, user, host, port, mid, mid))
    submit_as_told(_context(site), _connect_to(address), host, port, socket_type, user, password, user, message,
                   "laptop.outside.test")
    return mid


def arrives(site, mids):
    assert_exactly_once(wait_delivered(site, USER, mids, DELIVERY_TIMEOUT), mids, "auto-configured submission")


# --- Thunderbird ----------------------------------------------------------------------

def test_thunderbird_autoconfig_from_both_proxies_works(ha):
    """Both proxies answer autoconfig.DOMAIN alike (and the well-known path); IMAP at the
    proxies' name, both relays on 465 (SSL) then 587 (STARTTLS); each setting works."""
    password = ha.password(USER)
    status, headers, body = https_each(ha, "autoconfig." + DOMAIN, TB_URL % urllib.parse.quote(USER))
    assert status == 200, body
    assert headers["content-type"].startswith("application/xml"), headers
    assert https_each(ha, "autoconfig." + DOMAIN, "/.well-known/autoconfig/mail/config-v1.1.xml")[::2] == (200, body)
    assert USER.encode() not in body

    incoming, outgoing = thunderbird_servers(body, DOMAIN)
    assert [(s["type"], s["host"], s["port"], s["socket"]) for s in incoming] == [
        ("imap", TLS_NAME, 993, "SSL"), ("imap", TLS_NAME, 143, "STARTTLS"), ("pop3", TLS_NAME, 995, "SSL")]
    assert [(s["host"], s["port"], s["socket"]) for s in outgoing] == \
        [(n, 465, "SSL") for n in RELAY_NAMES] + [(n, 587, "STARTTLS") for n in RELAY_NAMES]
    for s in incoming + outgoing:
        assert s["auth"] == "password-cleartext" and s["username"] == "%EMAILADDRESS%", s

    login = USER      # what Thunderbird puts for %EMAILADDRESS%
    for s in incoming:
        if s["type"] == "imap":
            imap_login_each(ha, s["host"], s["port"], s["socket"], login, password)
        else:
            pop3_login_each(ha, s["host"], s["port"], s["socket"], login, password)
    arrives(ha, [submit(ha, s["host"], s["port"], s["socket"], login, password) for s in outgoing])


# --- Outlook ------------------------------------------------------------------------

def _outlook_post(site, name, path="/autodiscover/autodiscover.xml"):
    return https_each(site, name, path, "POST", OUTLOOK_REQUEST % USER, OUTLOOK_HEADERS)


def test_outlook_autodiscover_pox_and_v2_from_both_proxies_work(ha):
    """The POX answer from both proxies: IMAP at the proxies' name (993, SSL), SMTP at the
    first relay (465, SSL), no LoginName (the address is the user name); the v2 JSON
    points at the POX URL, which both proxies serve; the settings work."""
    password = ha.password(USER)
    status, headers, body = _outlook_post(ha, "autodiscover." + DOMAIN)
    assert status == 200, body
    assert headers["content-type"].startswith("application/xml"), headers
    assert USER.encode() not in body
    protocols = pox_protocols(body)
    imap, smtp = protocols["IMAP"], protocols["SMTP"]
    assert (imap["Server"], imap["Port"], imap["SSL"], imap["SPA"]) == (TLS_NAME, "993", "on", "off")
    assert (smtp["Server"], smtp["Port"], smtp["SSL"], smtp["AuthRequired"]) == (RELAY_NAMES[0], "465", "on", "on")
    assert "LoginName" not in imap and "LoginName" not in smtp

    status, headers, v2 = https_each(ha, "autodiscover." + DOMAIN,
                                     "/autodiscover/autodiscover.json/v1.0/%s?Protocol=AutodiscoverV1" % USER)
    assert status == 200, v2
    assert headers["content-type"].startswith("application/json"), headers
    url = urllib.parse.urlsplit(json.loads(v2)["Url"])
    assert url.scheme == "https" and url.hostname == TLS_NAME and url.path.lower() == "/autodiscover/autodiscover.xml"
    assert _outlook_post(ha, url.hostname, url.path)[::2] == (200, body)

    imap_login_each(ha, imap["Server"], int(imap["Port"]), "SSL", USER, password)
    arrives(ha, [submit(ha, smtp["Server"], int(smtp["Port"]), "SSL", USER, password)])


# --- Apple ------------------------------------------------------------------------

def test_apple_mobileconfig_from_both_proxies_works(ha):
    """The unsigned profile from both proxies: IMAP at the proxies' name (993, SSL), SMTP at
    the first relay (465, SSL), no address or user name in it; the settings work."""
    password = ha.password(USER)
    status, headers, body = https_each(ha, TLS_NAME, "/apple/mail.mobileconfig")
    assert status == 200, body
    assert headers["content-type"].startswith("application/x-apple-aspen-config"), headers
    profile = plistlib.loads(body)
    assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
    uuid.UUID(profile["PayloadUUID"])
    [mail] = profile["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed" and mail["EmailAccountType"] == "EmailTypeIMAP"
    assert (mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"],
            mail["IncomingMailServerUseSSL"]) == (TLS_NAME, 993, True)
    assert (mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"],
            mail["OutgoingMailServerUseSSL"]) == (RELAY_NAMES[0], 465, True)
    assert "EmailAddress" not in mail and "IncomingMailServerUsername" not in mail
    imap_login_each(ha, mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"], "SSL", USER,
                    password)
    arrives(ha, [submit(ha, mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"], "SSL",
                        USER, password)])
