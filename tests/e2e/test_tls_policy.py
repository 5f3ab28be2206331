"""TLS policy (issue 10, X3): every TLS port of the small site passes Debian's
testssl.sh with no finding rated worse than OK/INFO ("NOT ok" on its screen),
and `emailng up` renews a certificate close to expiry and restarts the daemons
so that they serve the new one.

testssl.sh runs offline: --ip (no name lookup), --nodns none, no --phone-out
(no OCSP/CRL fetching), the site CA as the only extra trust anchor (--add-ca).
Only the checks the policy is about: protocols (-p), cipher categories (-s,
whose "AVERAGE" class is the CBC suites), forward secrecy (-f) and the certificate (-S);
testssl's per-cipher scan (-e) took minutes, so the suites outside Mozilla
"intermediate" (CBC, CCM, CCM8) are tried with `openssl s_client` instead.
The eight ports are scanned four at a time.

Debian 12's testssl.sh (3.0.8) has no ManageSieve STARTTLS (-t sieve came
in 3.1): for port 4190 the test runs a small relay on loopback that does
Dovecot's STARTTLS and then passes bytes through, so testssl's handshakes
are Dovecot's own.
"""

import concurrent.futures
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import pytest

from conftest import HOST, TLS_NAME, connect, tls_context

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")

# port -> testssl's STARTTLS protocol (None: implicit TLS)
PORTS = {25: "smtp", 587: "smtp", 465: None, 143: "imap", 993: None,
         110: "pop3", 995: None, 4190: "sieve"}
OPENSSL_STARTTLS = {"smtp": "smtp", "imap": "imap", "pop3": "pop3", "sieve": "sieve"}

# testssl's severities that are not "ok": LOW .. CRITICAL are printed as
# "NOT ok" (or worse); WARN means a check could not run, which proves nothing.
BAD = {"LOW", "MEDIUM", "HIGH", "CRITICAL", "WARN", "FATAL"}

# Findings that are not about the server, or that configuration cannot fix;
# each is allowed only with exactly this severity and text, so a change shows.
# - engine_problem: about the scanning host's openssl (no GOST engine).
# - cert_revocation: the site CA publishes neither a CRL nor OCSP (no web
#   server in the site to serve them); testssl rates that HIGH. A CRL
#   distribution point nobody serves would only hide it. Open: issue 10.
KNOWN = {"engine_problem": ("WARN", "No engine or GOST support via engine with your /usr/bin/openssl"),
         "cert_revocation": ("HIGH", "Neither CRL nor OCSP URI provided")}


class SieveStartTLS:
    """Listens on HOST:<free port>; each connection: ManageSieve greeting and
    STARTTLS with Dovecot on 4190, then bytes both ways unchanged."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind((HOST, 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _read_until_ok(sock):
        data = b""
        while not (data.startswith(b"OK") or b"\r\nOK" in data):
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("ManageSieve closed before OK")
            data += chunk

    def _serve(self, client):
        try:
            server = socket.create_connection((HOST, 4190), 10)
            self._read_until_ok(server)
            server.sendall(b"STARTTLS\r\n")
            self._read_until_ok(server)
            server.settimeout(None)
        except OSError:
            client.close()
            return
        def pump(a, b):
            try:
                while True:
                    chunk = a.recv(65536)
                    if not chunk:
                        break
                    b.sendall(chunk)
            except OSError:
                pass
            for sock in (a, b):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(server, client), daemon=True).start()
        pump(client, server)
        client.close()
        server.close()

    def close(self):
        self.listener.close()


def run_testssl(site, port, outdir, sieve_relay):
    jsonfile = os.path.join(outdir, "testssl-%d.json" % port)
    if os.path.exists(jsonfile):            # a second run: testssl would append
        os.unlink(jsonfile)
    argv = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
            "--ip", HOST, "--add-ca", site.ca, "--connect-timeout", "10",
            "--openssl-timeout", "10", "--jsonfile", jsonfile, "-p", "-s", "-f", "-S"]
    target = port
    if port == 4190:
        target = sieve_relay.port          # implicit TLS to the relay
    elif PORTS[port]:
        argv += ["-t", PORTS[port]]
    argv.append("%s:%d" % (TLS_NAME, target))
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert os.path.exists(jsonfile), "testssl on %d wrote no JSON (rc %d):\n%s\n%s" % (
        port, cp.returncode, cp.stdout[-3000:], cp.stderr[-3000:])
    with open(jsonfile) as f:
        return json.load(f), cp.stdout


@pytest.fixture(scope="module")
def scans(site):
    assert TESTSSL, "testssl.sh is not installed (scripts/install-deps.sh installs it)"
    outdir = tempfile.mkdtemp(prefix="emailng-testssl-")
    relay = SieveStartTLS()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = {p: pool.submit(run_testssl, site, p, outdir, relay) for p in PORTS}
            results = {p: f.result() for p, f in futures.items()}
        # A check testssl could not finish proves nothing either way: WARN
        # "check failed because of connect problem" (a loaded machine), or
        # "check failed, pls report" (its session-ID resumption heuristic
        # saw "Reused" but byte counts that say new, or the reverse; each
        # imap-login process has its own session cache, so a second
        # connection may or may not resume). Scan that port again, alone,
        # at most twice. A WARN that stays fails the test.
        for p in PORTS:
            for _ in range(2):
                if not any(f["severity"] == "WARN" and f["finding"].startswith("check failed")
                           for f in results[p][0]):
                    break
                results[p] = run_testssl(site, p, outdir, relay)
    finally:
        relay.close()
        shutil.rmtree(outdir, ignore_errors=True)
    yield results


@pytest.mark.parametrize("port", sorted(PORTS))
def test_testssl_no_finding_not_ok(scans, port):
    findings, screen = scans[port]
    bad = ["%s %s: %s" % (f["severity"], f["id"], f["finding"]) for f in findings
           if f["severity"] in BAD and KNOWN.get(f["id"]) != (f["severity"], f["finding"])]
    assert not bad, "port %d:\n%s\n--- testssl ---\n%s" % (port, "\n".join(bad), screen[-6000:])
    by_id = {f["id"]: f for f in findings}
    # The checks did run: protocols, the certificate, and the cipher list.
    assert by_id["TLS1_2"]["finding"] == "offered", by_id.get("TLS1_2")
    assert by_id["TLS1_3"]["finding"].startswith("offered"), by_id.get("TLS1_3")
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert by_id[old]["finding"] == "not offered", by_id.get(old)
    assert by_id["cert_chain_of_trust"]["severity"] == "OK", by_id.get("cert_chain_of_trust")
    assert by_id["cipherlist_AVERAGE"]["finding"] == "not offered", by_id.get("cipherlist_AVERAGE")


def s_client(port, *args):
    argv = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-servername", TLS_NAME]
    if PORTS[port]:
        argv += ["-starttls", OPENSSL_STARTTLS[PORTS[port]]]
    cp = subprocess.run(argv + list(args), input="", capture_output=True, text=True, timeout=30)
    return cp.returncode == 0 and "Cipher is (NONE)" not in cp.stdout, cp.stdout + cp.stderr


# What Mozilla "intermediate" leaves out and OpenSSL's client still offers
# (at its security level 0): every TLS 1.2 suite but AES-GCM/ChaCha20, and
# TLS 1.3's CCM suites.
@pytest.mark.parametrize("port", sorted(PORTS))
def test_no_suite_outside_intermediate(port):
    ok, out = s_client(port, "-tls1_2", "-cipher", "ALL:COMPLEMENTOFALL:!AESGCM:!CHACHA20:@SECLEVEL=0")
    assert not ok, "port %d: TLS 1.2 handshake with a CBC/CCM/other suite succeeded:\n%s" % (port, out[-2000:])
    for suite in ("TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_SHA256"):
        ok, out = s_client(port, "-tls1_3", "-ciphersuites", suite)
        assert not ok, "port %d accepts %s:\n%s" % (port, suite, out[-2000:])
    # The policy's own suites do work (the negative checks above mean something).
    ok, out = s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert ok, "port %d: ECDHE-ECDSA-AES128-GCM-SHA256 refused:\n%s" % (port, out[-2000:])
    ok, out = s_client(port, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    assert ok, "port %d: TLS_CHACHA20_POLY1305_SHA256 refused:\n%s" % (port, out[-2000:])


def served_serial(site, port=993):
    ctx = tls_context(site)
    with ctx.wrap_socket(connect(port), server_hostname=TLS_NAME) as s:
        der = s.getpeercert(binary_form=True)
    cp = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                        capture_output=True, check=True)
    return cp.stdout.decode().strip()


def file_serial(path):
    cp = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial", "-enddate"],
                        capture_output=True, text=True, check=True)
    return cp.stdout.splitlines()[0].strip()


def test_up_renews_expiring_certificate_and_daemons_serve_it(site, scans):
    """A server certificate with 5 days left (issued by the site CA for the
    same names) is renewed by `up`, and Dovecot and Postfix restart to serve
    the new one. Runs after the scans (their fixture), so that they see one
    certificate throughout."""
    tls = os.path.join(site.state, "tls")
    crt, key = os.path.join(tls, "server.crt"), os.path.join(tls, "server.key")
    before = served_serial(site)
    assert before == file_serial(crt)
    with tempfile.TemporaryDirectory() as tmp:
        ext = os.path.join(tmp, "ext.cnf")
        with open(ext, "w") as f:
            f.write("[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=DNS:mail.example.test,DNS:localhost,IP:127.0.0.1\n")
        csr = os.path.join(tmp, "short.csr")
        subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + TLS_NAME, "-out", csr],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", site.ca,
                        "-CAkey", os.path.join(tls, "ca.key"), "-set_serial", "0x4242", "-days", "5",
                        "-extfile", ext, "-extensions", "v3", "-out", crt + ".new"],
                       check=True, capture_output=True)
        os.replace(crt + ".new", crt)
    assert file_serial(crt) == "serial=4242"
    r = site.run("up", timeout=180, check=True)
    assert "certificates made or renewed" in r.out, repr(r)
    renewed = file_serial(crt)
    assert renewed not in ("serial=4242", before)
    assert "restarting for the new certificate" in r.out, repr(r)
    # What the daemons now present: the renewed certificate, on IMAP and SMTP.
    assert served_serial(site, 993) == renewed
    assert served_serial(site, 465) == renewed
    r = site.run("up", timeout=180, check=True)
    assert "nothing changed" in r.out, repr(r)
