"""C4: fetching, reading and USING the answers mail clients configure themselves
from (Thunderbird autoconfig, Outlook autodiscover POX). Shared by the small
site's tests (tests/e2e/test_autoconfig.py) and, through a symbolic link, the
full topology's (tests/e2e_ha/test_autoconfig.py): the two differ only in how
a name becomes an address, so every function here takes a `connect(host,
port)` that returns the plain TCP socket the caller's client would open, and
the ssl context verifying against the site CA."""

import http.client
import imaplib
import poplib
import smtplib
import xml.etree.ElementTree as ET

TB_URL = "/mail/config-v1.1.xml?emailaddress=%s"
OUTLOOK_REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>%s</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>
"""
POX_NS = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
          "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
OUTLOOK_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def https_request(ctx, connect, host, path, method="GET", body=None, headers=None):
    """One request to https://HOST/PATH over connect(host, 443), TLS verified by
    ctx for HOST; returns (status, headers with lower-case names, body bytes)."""
    conn = http.client.HTTPSConnection(host, 443, timeout=30, context=ctx)
    conn.sock = ctx.wrap_socket(connect(host, 443), server_hostname=host)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _socket(ctx, connect, host, port, implicit):
    sock = connect(host, port)
    return ctx.wrap_socket(sock, server_hostname=host) if implicit else sock


def imap_login(ctx, connect, host, port, socket_type, user, password):
    """Logs in and SELECTs INBOX as a client told (host, port, socket type)
    would; returns the mailbox's message count."""
    assert socket_type in ("SSL", "STARTTLS"), socket_type
    implicit = socket_type == "SSL"

    class Client(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return _socket(ctx, connect, self.host, self.port, implicit)

    m = Client(host, port, timeout=30)
    try:
        if not implicit:
            m.starttls(ssl_context=ctx)
        typ, _ = m.login(user, password)
        assert typ == "OK"
        typ, data = m.select("INBOX")
        assert typ == "OK", data
        return int(data[0])
    finally:
        m.logout()


def pop3_login(ctx, connect, host, port, socket_type, user, password):
    """Logs in over POP3 (implicit TLS, the only kind offered); returns STAT."""
    assert socket_type == "SSL", socket_type

    class Client(poplib.POP3):
        def _create_socket(self, timeout):
            return _socket(ctx, connect, self.host, self.port, True)

    p = Client(host, port, timeout=30)
    try:
        p.user(user)
        assert p.pass_(password).startswith(b"+OK")
        return p.stat()
    finally:
        p.quit()


def submit(ctx, connect, host, port, socket_type, user, password, to, message, ehlo_name):
    """Sends message (which the caller made, Message-ID and all) as a client told
    (host, port, socket type) would, EHLO ehlo_name; nothing may be refused."""
    assert socket_type in ("SSL", "STARTTLS"), socket_type
    implicit = socket_type == "SSL"

    class Client(smtplib.SMTP):
        def _get_socket(self, h, p, timeout):
            return _socket(ctx, connect, h, p, implicit)

    with Client(host, port, local_hostname=ehlo_name, timeout=30) as s:
        s.ehlo()
        if not implicit:
            s.starttls(context=ctx)
            s.ehlo()
        s.login(user, password)
        refused = s.sendmail(user, [to], message)
        assert not refused, refused


def thunderbird_servers(body, domain):
    """The (incoming, outgoing) servers of a Thunderbird config-v1.1 answer for
    domain, each a dict of type, host, port, socket, auth and username."""
    root = ET.fromstring(body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None
    assert domain in [d.text for d in provider.findall("domain")]

    def server(e):
        return dict(type=e.get("type"), host=e.findtext("hostname"), port=int(e.findtext("port")),
                    socket=e.findtext("socketType"), auth=e.findtext("authentication"),
                    username=e.findtext("username"))
    return ([server(e) for e in provider.findall("incomingServer")],
            [server(e) for e in provider.findall("outgoingServer")])


def pox_protocols(body):
    """The settings of an Outlook POX answer: {protocol type: {element: text}}."""
    root = ET.fromstring(body)
    assert root.tag == "{%s}Autodiscover" % POX_NS["a"], root.tag
    account = root.find("o:Response/o:Account", POX_NS)
    assert account.findtext("o:AccountType", namespaces=POX_NS) == "email"
    assert account.findtext("o:Action", namespaces=POX_NS) == "settings"
    return {p.findtext("o:Type", namespaces=POX_NS): {e.tag.split("}")[1]: e.text for e in p}
            for p in account.findall("o:Protocol", POX_NS)}
