"""C4 (issue 13): mail clients configure themselves from what the site's nginx
serves over HTTPS (Thunderbird autoconfig, Outlook autodiscover POX and v2
JSON, an Apple .mobileconfig) and the MTA-STS policy file. Each answer is
fetched the way its client fetches it, checked, and then USED: the host,
port, socket type and user name it gives log in over IMAP (and POP3) and
submit a message that arrives. Hostile requests get a clean error with a
fixed body (Outlook's POST is checked by emailng-autodiscover), never an
echo of their input."""

import grp
import http.client
import json
import os
import plistlib
import pwd
import re
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest

import autoconfig_answers as answers
from autoconfig_answers import (OUTLOOK_HEADERS, OUTLOOK_REQUEST, POX_NS, TB_URL, https_request, pox_protocols,
                                thunderbird_servers)
from conftest import (CLIENT_ADDR, DOMAIN, HOST, TLS_NAME, NetNS, Site, connect, make_message, msgid,
                      tls_context, wait_for_message)

HTTPS, HTTP = 443, 80
# The names `emailng dns` publishes for the one-host site (test_dns.py) all
# point at its one address: the test's resolver.
SITE_NAMES = {TLS_NAME, "autoconfig." + DOMAIN, "autodiscover." + DOMAIN, "mta-sts." + DOMAIN}


def resolve(name):
    assert name in SITE_NAMES, "%r is not a name the site publishes" % name
    return HOST


def https(site, host, path, method="GET", body=None, headers=None):
    """One request to https://HOST/PATH, TLS verified against the site CA for
    HOST; returns (status, headers with lower-case names, body bytes)."""
    return https_request(tls_context(site), _connect, host, path, method, body, headers)


def http_plain(host, path):
    conn = http.client.HTTPConnection(host, HTTP, timeout=30)
    conn.sock = socket.create_connection((HOST, HTTP), 30, source_address=(CLIENT_ADDR, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


# --- using the settings an answer gives -------------------------------------------

def _connect(host, port):
    """The plain TCP connection a client here opens to host: from the client address."""
    return socket.create_connection((resolve(host), port), 30, source_address=(CLIENT_ADDR, 0))


def imap_login(site, host, port, socket_type, user, password):
    """Logs in as a client told (host, port, socket type) would; returns the mailbox count."""
    return answers.imap_login(tls_context(site), _connect, host, port, socket_type, user, password)


def pop3_login(site, host, port, socket_type, user, password):
    return answers.pop3_login(tls_context(site), _connect, host, port, socket_type, user, password)


def submit(site, host, port, socket_type, user, password, to):
    """Sends a message as a client told (host, port, socket type) would; returns its Message-ID."""
    mid = msgid()
    message, _ = make_message(user, to, mid, subject="auto-configured client")
    answers.submit(tls_context(site), _connect, host, port, socket_type, user, password, to, message,
                   "client.e2e.test")
    return mid


# --- Thunderbird ------------------------------------------------------------------

def test_thunderbird_autoconfig_gives_settings_that_work(site):
    user, password = site.new_user(prefix="tb")
    status, headers, body = https(site, "autoconfig." + DOMAIN, TB_URL % urllib.parse.quote(user))
    assert status == 200, body
    assert headers["content-type"].startswith("application/xml"), headers
    # The second place Thunderbird looks gives the same file.
    status2, _, body2 = https(site, "autoconfig." + DOMAIN, "/.well-known/autoconfig/mail/config-v1.1.xml")
    assert (status2, body2) == (200, body)
    assert user.encode() not in body       # the query is not echoed: %EMAILADDRESS% stands for it

    incoming, outgoing = thunderbird_servers(body, DOMAIN)
    assert [(s["type"], s["host"], s["port"], s["socket"]) for s in incoming] == [
        ("imap", TLS_NAME, 993, "SSL"), ("imap", TLS_NAME, 143, "STARTTLS"), ("pop3", TLS_NAME, 995, "SSL")]
    assert [(s["host"], s["port"], s["socket"]) for s in outgoing] == [
        (TLS_NAME, 465, "SSL"), (TLS_NAME, 587, "STARTTLS")]
    for s in incoming + outgoing:
        assert s["auth"] == "password-cleartext" and s["username"] == "%EMAILADDRESS%", s

    login = lambda s: s["username"].replace("%EMAILADDRESS%", user)   # noqa: E731 (what Thunderbird does)
    for s in incoming:
        if s["type"] == "imap":
            imap_login(site, s["host"], s["port"], s["socket"], login(s), password)
        else:
            pop3_login(site, s["host"], s["port"], s["socket"], login(s), password)
    for s in outgoing:
        mid = submit(site, s["host"], s["port"], s["socket"], login(s), password, user)
        wait_for_message(site, user, mid, password=password)


# --- Outlook ----------------------------------------------------------------------

def _outlook_post(site, host, user, path="/autodiscover/autodiscover.xml"):
    return https(site, host, path, "POST", OUTLOOK_REQUEST % user, OUTLOOK_HEADERS)


def test_outlook_autodiscover_gives_settings_that_work(site):
    user, password = site.new_user(prefix="ol")
    status, headers, body = _outlook_post(site, "autodiscover." + DOMAIN, user)
    assert status == 200, body
    assert headers["content-type"].startswith("application/xml"), headers
    # The static answer: the address the request carried is not in it.
    assert user.encode() not in body
    protocols = pox_protocols(body)
    imap, smtp = protocols["IMAP"], protocols["SMTP"]
    assert (imap["Server"], imap["Port"], imap["SSL"], imap["SPA"]) == (TLS_NAME, "993", "on", "off")
    assert (smtp["Server"], smtp["Port"], smtp["SSL"], smtp["AuthRequired"]) == (TLS_NAME, "465", "on", "on")
    # No LoginName: Outlook logs in with the address the user typed.
    assert "LoginName" not in imap and "LoginName" not in smtp
    imap_login(site, imap["Server"], int(imap["Port"]), "SSL", user, password)
    mid = submit(site, smtp["Server"], int(smtp["Port"]), "SSL", user, password, user)
    wait_for_message(site, user, mid, password=password)
    # Outlook writes the path in either case; the answer is the same.
    status, _, same = _outlook_post(site, "autodiscover." + DOMAIN, user, "/Autodiscover/Autodiscover.xml")
    assert (status, same) == (200, body)


def test_outlook_autodiscover_v2_json_points_at_the_pox_answer(site):
    user = "alice@" + DOMAIN
    status, headers, body = https(site, "autodiscover." + DOMAIN,
                                  "/autodiscover/autodiscover.json/v1.0/%s?Protocol=AutodiscoverV1" % user)
    assert status == 200, body
    assert headers["content-type"].startswith("application/json"), headers
    answer = json.loads(body)
    assert answer["Protocol"] == "AutodiscoverV1"
    url = urllib.parse.urlsplit(answer["Url"])
    assert url.scheme == "https" and url.path.lower() == "/autodiscover/autodiscover.xml", answer
    status, _, pox = _outlook_post(site, url.hostname, user, url.path)
    assert status == 200 and "IMAP" in pox_protocols(pox)
    # Protocols we do not offer (ActiveSync, EWS): a clean 400, the input not echoed.
    status, _, body = https(site, "autodiscover." + DOMAIN,
                            "/autodiscover/autodiscover.json/v1.0/%s?Protocol=ActiveSync%%3Cb%%3E" % user)
    assert status == 400, body
    assert json.loads(body)["ErrorCode"] == "InvalidProtocol"
    assert b"ActiveSync" not in body and b"<b>" not in body and user.encode() not in body


# --- Apple -----------------------------------------------------------------------

def test_apple_mobileconfig_gives_settings_that_work(site):
    user, password = site.new_user(prefix="ap")
    status, headers, body = https(site, TLS_NAME, "/apple/mail.mobileconfig")
    assert status == 200, body
    assert headers["content-type"].startswith("application/x-apple-aspen-config"), headers
    profile = plistlib.loads(body)
    assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
    uuid.UUID(profile["PayloadUUID"])
    [mail] = profile["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    uuid.UUID(mail["PayloadUUID"])
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert (mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"],
            mail["IncomingMailServerUseSSL"]) == (TLS_NAME, 993, True)
    assert (mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"],
            mail["OutgoingMailServerUseSSL"]) == (TLS_NAME, 465, True)
    # Unsigned, without an address or user name: the device asks for them.
    assert "EmailAddress" not in mail and "IncomingMailServerUsername" not in mail
    imap_login(site, mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"], "SSL", user, password)
    mid = submit(site, mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"], "SSL", user,
                 password, user)
    wait_for_message(site, user, mid, password=password)


# --- MTA-STS ----------------------------------------------------------------------

def test_mta_sts_policy_is_served_as_emailng_dns_prints_it(site):
    printed = json.loads(site.run("dns", "--json", check=True).out)
    domain = [d for d in printed["domains"] if d["domain"] == DOMAIN][0]
    url = urllib.parse.urlsplit(domain["mta_sts_policy_url"])
    status, headers, body = https(site, url.hostname, url.path)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain"), headers
    assert body.decode() == domain["mta_sts_policy"]
    assert body.startswith(b"version: STSv1\r\n") and b"\r\nmx: %s\r\n" % TLS_NAME.encode() in body


# --- hostile input, plain HTTP, the configuration ---------------------------------

def test_huge_autodiscover_body_is_refused_with_413(site):
    ctx = tls_context(site)
    raw = socket.create_connection((HOST, HTTPS), 30, source_address=(CLIENT_ADDR, 0))
    s = ctx.wrap_socket(raw, server_hostname="autodiscover." + DOMAIN)
    size = 10 * 1024 * 1024
    s.sendall(b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.%s\r\n"
              b"Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n" % (DOMAIN.encode(), size))
    chunk = b"<" * 65536
    try:
        for _ in range(size // len(chunk)):
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass            # nginx may stop reading once it has answered
    s.settimeout(30)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = s.recv(4096)
            if not data:
                break
            answer += data
    finally:
        s.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def _pox_error(body):
    """The ErrorCode of a POX error answer."""
    root = ET.fromstring(body)
    assert root.tag == "{%s}Autodiscover" % POX_NS["a"], root.tag
    code = root.findtext("a:Response/a:Error/a:ErrorCode", namespaces=POX_NS)
    assert code, body
    return code


def test_hostile_autodiscover_bodies_get_a_fixed_4xx_never_an_echo(site):
    """Entities (a billion laughs, an external entity), any DTD, malformed XML, an address of
    another domain, a missing or bad address, markup injected into the address, not XML at all:
    each gets a clean 4xx with a fixed POX error body from emailng-autodiscover (the same bytes
    for the same refusal, nothing of the request in it); a proper request still gets the
    settings. One log line per decision; the responder runs as its own user behind a socket
    only root and nginx's workers may open."""
    host = "autodiscover." + DOMAIN
    status, _, settings = _outlook_post(site, host, "alice@" + DOMAIN)
    assert status == 200 and "IMAP" in pox_protocols(settings)
    marker = "zq" + uuid.uuid4().hex
    ns = 'xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"'
    cases = [
        # (what, body, HTTP status, POX ErrorCode, verdict in the log)
        ("entity bomb and external entity",
         '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "%s"><!ENTITY y SYSTEM "file:///etc/passwd">'
         '<!ENTITY l "&x;&x;&x;&x;">]><Autodiscover %s><Request><EMailAddress>&l;&y;</EMailAddress>'
         '</Request></Autodiscover>' % (marker, ns), 400, "600", "dtd"),
        ("external DTD", (OUTLOOK_REQUEST % ("alice@" + DOMAIN)).replace(
            "?>\n", '?>\n<!DOCTYPE Autodiscover SYSTEM "http://%s.example/x.dtd">\n' % marker, 1), 400, "600", "dtd"),
        ("malformed, cut off", "<Autodiscover %s><Request><EMailAddress>%s@" % (ns, marker), 400, "600", "not-xml"),
        ("another domain", OUTLOOK_REQUEST % ("%s@other-domain.test" % marker), 404, "500", "other-domain"),
        ("markup in the address", OUTLOOK_REQUEST % ("</EMailAddress><x>%s</x>" % marker), 400, "600", "not-xml"),
        ("no address", OUTLOOK_REQUEST.replace("<EMailAddress>%s</EMailAddress>", ""), 400, "600", "no-address"),
        ("not an address", OUTLOOK_REQUEST % ("%s&lt;b&gt;" % marker), 400, "600", "bad-address"),
        ("not XML", marker * 100, 400, "600", "not-xml"),
    ]
    log = os.path.join(site.state, "log", "mail", "autodiscover.log")
    with open(log) as f:
        before = len(f.readlines())
    answers = {}
    for what, body, want_status, want_code, _ in cases:
        status, headers, answer = https(site, host, "/autodiscover/autodiscover.xml", "POST", body,
                                        {"Content-Type": "text/xml"})
        assert (status, _pox_error(answer)) == (want_status, want_code), (what, status, answer[:300])
        assert headers["content-type"].startswith("application/xml"), (what, headers)
        assert marker.encode() not in answer and b"root:" not in answer and b"IMAP" not in answer, what
        assert answers.setdefault(want_code, answer) == answer, "%s: not the fixed answer" % what
    # A proper request, after all that, still gets the settings.
    assert _outlook_post(site, host, "alice@" + DOMAIN)[::2] == (200, settings)
    with open(log) as f:
        lines = f.readlines()[before:]
    verdicts = re.findall(r'verdict="([a-z-]+)" status="(\d+)"', "".join(lines))
    assert verdicts == [(c[4], str(c[2])) for c in cases] + [("settings", "200")], lines
    # Other methods and paths: clean 4xx from nginx.
    assert https(site, host, "/autodiscover/autodiscover.xml", "PUT", "<x/>")[0] == 403
    assert https(site, host, "/autodiscover/autodiscover.xml")[0] == 403
    assert https(site, host, "/autodiscover/%s.php" % marker)[0] == 404
    status, _, body = https(site, host, "/%3Cscript%3E" + marker)
    assert status == 404 and marker.encode() not in body
    # Its own user; its socket root's and www-data's only.
    pid = site.services()["autodiscover"]["pid"]
    with open("/proc/%d/status" % pid) as f:
        uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
    assert int(uid) == pwd.getpwnam("emailng-autodiscover").pw_uid
    sock = os.stat(os.path.join(site.state, "run", "mail", "autodiscover", "fcgi.sock"))
    assert stat.S_IMODE(sock.st_mode) == 0o660 and sock.st_uid == 0
    assert sock.st_gid == grp.getgrnam("www-data").gr_gid


def test_plain_http_only_redirects_to_https(site):
    status, headers, body = http_plain("autoconfig." + DOMAIN, TB_URL % "alice%40example.test")
    assert status == 301, body
    assert headers["location"] == "https://autoconfig.%s%s" % (DOMAIN, TB_URL % "alice%40example.test")
    assert b"<clientConfig" not in body
    # A name that is not the site's is sent to the public name, not to itself.
    status, headers, _ = http_plain("evil.example.org", "/mail/config-v1.1.xml")
    assert status == 301 and headers["location"] == "https://%s/mail/config-v1.1.xml" % TLS_NAME, headers


def test_rendered_nginx_config_passes_nginx_t_and_runs_as_emailng_started_it(site):
    conf = os.path.join(site.state, "etc", "mail", "nginx", "nginx.conf")
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["/usr/sbin/nginx", "-t", "-c", conf, "-e", os.path.join(tmp, "error.log")],
                           capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr, r.stderr
    nginx = site.services()["nginx"]
    with open(os.path.join(site.state, "run", "mail", "nginx", "nginx.pid")) as f:
        assert nginx["pid"] == int(f.read())
    with open("/proc/%d/cmdline" % nginx["pid"], "rb") as f:
        assert conf.encode() in f.read()


def test_packaged_nginx_on_443_is_named_with_the_fix():
    """A web server already on 443 (Debian's packaged nginx) stops `up` at
    nginx with the message that says what to do."""
    state = tempfile.mkdtemp(prefix="emailng-e2e-web-")
    os.chmod(state, 0o755)
    conf = os.path.join(state, "foreign-nginx.conf")
    with open(conf, "w") as f:
        f.write("pid %s/foreign.pid;\nerror_log %s/foreign.log;\nevents {}\nhttp {\n"
                "  access_log off;\n  server { listen 127.0.0.1:443; return 204; }\n}\n" % (state, state))
    with NetNS("emailng-web-%d" % os.getpid()):
        _ip_up = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True)
        assert _ip_up.returncode == 0
        foreign = subprocess.run(["/usr/sbin/nginx", "-c", conf, "-e", os.path.join(state, "foreign.log")],
                                 capture_output=True, text=True)
        assert foreign.returncode == 0, foreign.stderr
        with open(os.path.join(state, "foreign.pid")) as f:
            foreign_pid = int(f.read())
        other = Site(state)
        try:
            r = other.run("up", timeout=300)
            assert r.rc == 1, repr(r)
            assert "port 443 on 127.0.0.1 (https for nginx) is already in use by pid %d (nginx)" % foreign_pid \
                in r.err, r.err
            assert "Debian's packaged nginx service" in r.err, r.err
            assert "systemctl disable --now nginx" in r.err, r.err
        finally:
            other.run("down", timeout=120)
            subprocess.run(["kill", str(foreign_pid)])
            time.sleep(0.5)
    subprocess.run(["rm", "-rf", state])
