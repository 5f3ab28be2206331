"""The public certificate's checks shared by the small site's tests
(tests/e2e/test_certificates.py) and, through a symbolic link, the full
topology's (tests/e2e_ha/test_certificates.py): a PKI of the test's own
(openssl(1)), what a TLS port presents (`openssl s_client -showcerts`), and
Debian's pebble as the ACME CA. Where the two differ (addresses, names, the
DNS server pebble asks) the caller says."""
import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import time
import urllib.request


def sh(*argv, **kw):
    cp = subprocess.run(list(argv), capture_output=True, text=True, **kw)
    assert cp.returncode == 0, "%s -> %d\n%s%s" % (" ".join(argv), cp.returncode, cp.stdout, cp.stderr)
    return cp.stdout


class Pki:
    """A root, an intermediate, and leaves the intermediate signs; `label`
    names them ("Test LABEL Root")."""

    def __init__(self, folder, label):
        self.dir = folder
        self.root_key, self.root_crt = self.p("root.key"), self.p("root.crt")
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", self.root_key, "-out", self.root_crt, "-days", "30", "-subj", "/CN=Test %s Root" % label,
           "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.inter_crt, self.inter_key = self.sign(
            "inter", "/CN=Test %s Intermediate" % label, self.root_crt, self.root_key,
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")

    def p(self, name):
        return os.path.join(self.dir, name)

    def sign(self, name, subj, ca_crt, ca_key, ext):
        """A new key and a certificate for subj, signed by ca_crt/ca_key with the
        extensions ext (openssl extfile text); returns (crt, key) paths."""
        key, csr, crt, extfile = (self.p(name + s) for s in (".key", ".csr", ".crt", ".ext"))
        sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", key, "-out", csr, "-subj", subj)
        with open(extfile, "w") as f:
            f.write(ext)
        sh("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
           "-out", crt, "-days", "20", "-extfile", extfile)
        return crt, key

    def server_leaf(self, name, common_name, alt_names):
        """A server certificate the intermediate signs, for alt_names ("DNS:x", "IP:y")."""
        ext = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
               "subjectAltName=%s\n" % ",".join(alt_names))
        return self.sign(name, "/CN=%s" % common_name, self.inter_crt, self.inter_key, ext)


PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n?", re.S)


def der_list(pem_text):
    return [ssl.PEM_cert_to_DER_cert(m.group(0)) for m in PEM_RE.finditer(pem_text)]


def der_file(path):
    with open(path) as f:
        return der_list(f.read())


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns


def served(address, port, name, starttls, cafile):
    """(chain as DER list, verify return code) that address:port presents for
    name (starttls: s_client's -starttls arguments, [] for implicit TLS)."""
    cp = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (address, port), "-servername", name,
                         "-showcerts", "-CAfile", cafile, "-verify_hostname", name, *starttls],
                        input="", capture_output=True, text=True, timeout=30)
    m = re.search(r"Verify return code: (\d+)", cp.stdout)
    assert m, "s_client on %s:%d gave no verify result:\n%s%s" % (address, port, cp.stdout, cp.stderr)
    return der_list(cp.stdout), int(m.group(1))


class Pebble:
    """Debian's pebble on ADDRESS:14000 (ACME) and :15000 (management), HTTPS
    with a certificate (subject, alt_names) of the test's root; challenges on
    port 80 of what dns_server (ADDRESS:53) says each name is."""

    def __init__(self, folder, pki, address, subject, alt_names, dns_server):
        self.folder = folder
        self.dir_url = "https://%s:14000/dir" % address
        self.mgmt_url = "https://%s:15000" % address
        self.dns_server = dns_server
        crt, key = pki.sign("pebble", subject, pki.root_crt, pki.root_key,
                            "subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join(alt_names))
        self.ca_bundle = pki.root_crt
        self.conf = os.path.join(folder, "pebble.json")
        with open(self.conf, "w") as f:
            json.dump({"pebble": {"listenAddress": "%s:14000" % address,
                                  "managementListenAddress": "%s:15000" % address,
                                  "certificate": crt, "privateKey": key, "httpPort": 80, "tlsPort": 5001,
                                  "ocspResponderURL": "", "externalAccountBindingRequired": False}}, f)
        self.proc = None
        self.log = None

    def start(self):
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        self.log = open(os.path.join(self.folder, "pebble.log"), "a")
        self.proc = subprocess.Popen(["pebble", "-config", self.conf, "-dnsserver", "%s:53" % self.dns_server],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        ctx = ssl.create_default_context(cafile=self.ca_bundle)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.dir_url, context=ctx, timeout=2).read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("pebble did not answer on %s" % self.dir_url)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None

    def pem(self, *paths):
        """What the management API serves at paths ("/roots/0", "/intermediates/0";
        they change at every start), concatenated."""
        ctx = ssl.create_default_context(cafile=self.ca_bundle)
        return "".join(urllib.request.urlopen(self.mgmt_url + path, context=ctx, timeout=10).read().decode()
                       for path in paths)
