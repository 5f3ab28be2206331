"""The outside world of the internet tests: what EmailNG does not configure.

Everything here is set up by the test fixture by hand, in a few plain
lines per daemon, from Debian's packages as they are:

- InternetDNS: nsd, authoritative for the outside domains, for the reverse
  zone of the fabric, and for the EmailNG domain's public records, which
  the fixture takes from `emailng dns` as an administrator would publish
  them (the zone file is just those lines under an SOA and NS).
- OutsideMTA: an independent receiving Postfix for outside.test with
  OpenDKIM in verify mode, OpenDMARC and Debian's postfix-policyd-spf-python,
  delivering into Maildirs under its root. Its Authentication-Results
  headers (authserv-id mx.outside.test) are what the tests parse.

Both run in their own network namespaces of the fabric (conftest.py).
"""

import email
import email.policy
import glob
import os
import pwd
import shutil
import subprocess
import time

OUTSIDE_DOMAIN = "outside.test"
OUTSIDE_MX = "mx.outside.test"
# The mailboxes of outside.test; mail to gone@ is accepted, then bounced.
OUTSIDE_USERS = ("bob", "carol", "dave", "gone")


def netns_run(ns, argv, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=120, **kw)


def _wait_pidfile(path, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            time.sleep(0.1)
    raise AssertionError("%s did not start (no live pid in %s)" % (what, path))


def _stop_pidfile(path):
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 15)
    except (OSError, ValueError, IndexError):
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)


# --- the internet's DNS --------------------------------------------------------

SOA = """$TTL 30
@ IN SOA ns.{zone}. hostmaster.{zone}. {serial} 3600 600 86400 30
@ IN NS ns.outside.test.
"""


class InternetDNS:
    """nsd on ADDRESS:53 in namespace NS; zones are plain text, replaced
    by publish() (nsd is restarted, as an admin's provider reloads)."""

    def __init__(self, root, ns, address):
        self.root, self.ns, self.address = root, ns, address
        self.zones = {}
        self.serial = int(time.time())
        os.makedirs(root, exist_ok=True)

    def set_zone(self, zone, records):
        """records: zone-file lines (absolute names, or relative to zone)."""
        self.zones[zone] = records

    def _write(self):
        self.serial += 1
        conf = ["server:", "  ip-address: %s" % self.address, "  port: 53", "  username: \"\"",
                "  zonesdir: \"%s\"" % self.root, "  pidfile: \"%s/nsd.pid\"" % self.root,
                "  database: \"\"", "  zonelistfile: \"%s/zone.list\"" % self.root,
                "  xfrdfile: \"%s/xfrd.state\"" % self.root, "  logfile: \"%s/nsd.log\"" % self.root,
                "  server-count: 1", "  verbosity: 1", "remote-control:", "  control-enable: no"]
        for zone, records in sorted(self.zones.items()):
            path = os.path.join(self.root, zone + ".zone")
            with open(path, "w") as f:
                f.write(SOA.format(zone=zone, serial=self.serial))
                f.write("\n".join(records) + "\n")
            cp = subprocess.run(["nsd-checkzone", zone, path], capture_output=True, text=True)
            assert cp.returncode == 0, "zone %s does not load: %s%s\n%s" % (zone, cp.stdout, cp.stderr,
                                                                          "\n".join(records))
            conf += ["zone:", "  name: %s" % zone, "  zonefile: \"%s\"" % path]
        with open(os.path.join(self.root, "nsd.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")

    def publish(self):
        """(Re)starts nsd with the current zones and waits until it answers."""
        self.stop()
        self._write()
        cp = netns_run(self.ns, ["nsd", "-c", os.path.join(self.root, "nsd.conf")])
        assert cp.returncode == 0, "nsd: %s%s" % (cp.stdout, cp.stderr)
        _wait_pidfile(os.path.join(self.root, "nsd.pid"), "nsd")
        zone = sorted(self.zones)[0]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            cp = netns_run(self.ns, ["dig", "+short", "+norecurse", "@" + self.address, "SOA", zone])
            if cp.returncode == 0 and cp.stdout.strip():
                return
            time.sleep(0.2)
        raise AssertionError("nsd on %s does not answer for %s" % (self.address, zone))

    def stop(self):
        _stop_pidfile(os.path.join(self.root, "nsd.pid"))


def zone_lines_from_emailng_dns(text):
    """The record lines of `emailng dns` output (comments dropped)."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(";")]


# --- the outside MTA ---------------------------------------------------------

OUTSIDE_MAIN_CF = """\
compatibility_level = 3.6
myhostname = {mx}
mydomain = {domain}
myorigin = {domain}
mydestination =
inet_interfaces = {address}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
alias_maps =
alias_database =
smtpd_banner = $myhostname ESMTP
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/etc/mailboxes
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
transport_maps = texthash:{root}/etc/transport
smtpd_tls_cert_file = {root}/etc/server.crt
smtpd_tls_key_file = {root}/etc/server.key
smtpd_tls_security_level = may
smtp_tls_security_level = may
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,
    check_policy_service unix:private/policyd-spf
policyd-spf_time_limit = 3600
smtpd_milters = unix:{root}/opendkim/opendkim.sock, unix:{root}/opendmarc/opendmarc.sock
non_smtpd_milters =
milter_default_action = tempfail
"""

OPENDKIM_CONF = """\
Mode v
Socket local:{root}/opendkim/opendkim.sock
PidFile {root}/opendkim/opendkim.pid
UserID opendkim:postfix
UMask 007
AuthservID {mx}
Syslog yes
ResolverConfiguration {root}/opendkim-resolver.conf
"""

# Debian's OpenDKIM resolves with libunbound, not /etc/resolv.conf: ask the
# internet's DNS, and let the special-use name test. through.
OPENDKIM_RESOLVER_CONF = """\
server:
  local-zone: "test." nodefault
forward-zone:
  name: "."
  forward-addr: {dns}
"""

# Debian's defaults, with the result written as Authentication-Results.
POLICYD_SPF_CONF = """\
debugLevel = 1
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
Header_Type = AR
Authserv_Id = {mx}
"""

OPENDMARC_CONF = """\
Socket local:{root}/opendmarc/opendmarc.sock
PidFile {root}/opendmarc/opendmarc.pid
UserID opendmarc:postfix
UMask 007
AuthservID {mx}
TrustedAuthservIDs {mx}
IgnoreHosts {root}/opendmarc/ignore
SPFSelfValidate true
RejectFailures true
Syslog true
"""


class OutsideMTA:
    """Postfix for outside.test + OpenDKIM (verify) + OpenDMARC + policyd-spf."""

    def __init__(self, root, ns, address, dns):
        self.root, self.ns, self.address, self.dns = root, ns, address, dns
        self.etc = os.path.join(root, "etc")

    def start(self):
        nobody = pwd.getpwnam("nobody")
        for d in ("etc", "mail", "opendkim", "opendmarc", "spool"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        shutil.chown(os.path.join(self.root, "mail"), nobody.pw_uid, nobody.pw_gid)
        shutil.chown(os.path.join(self.root, "opendkim"), "opendkim", "postfix")
        shutil.chown(os.path.join(self.root, "opendmarc"), "opendmarc", "postfix")
        os.chmod(os.path.join(self.root, "opendkim"), 0o750)
        os.chmod(os.path.join(self.root, "opendmarc"), 0o750)
        fields = dict(root=self.root, mx=OUTSIDE_MX, domain=OUTSIDE_DOMAIN, address=self.address, dns=self.dns,
                      uid=nobody.pw_uid, gid=nobody.pw_gid)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(OUTSIDE_MAIN_CF.format(**fields))
        with open("/usr/share/postfix/master.cf.dist") as f:
            master = f.read()
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(master + "policyd-spf unix - n n - 0 spawn user=nobody argv=/usr/bin/policyd-spf %s\n"
                    % os.path.join(self.etc, "policyd-spf.conf"))
        with open(os.path.join(self.etc, "policyd-spf.conf"), "w") as f:
            f.write(POLICYD_SPF_CONF.format(**fields))
        with open(os.path.join(self.etc, "mailboxes"), "w") as f:
            f.write("".join("%s@%s %s/\n" % (u, OUTSIDE_DOMAIN, u) for u in OUTSIDE_USERS))
        with open(os.path.join(self.etc, "transport"), "w") as f:
            f.write("gone@outside.test error:5.1.1 this mailbox is gone\n")
        with open(os.path.join(self.root, "opendkim.conf"), "w") as f:
            f.write(OPENDKIM_CONF.format(**fields))
        with open(os.path.join(self.root, "opendkim-resolver.conf"), "w") as f:
            f.write(OPENDKIM_RESOLVER_CONF.format(**fields))
        with open(os.path.join(self.root, "opendmarc.conf"), "w") as f:
            f.write(OPENDMARC_CONF.format(**fields))
        open(os.path.join(self.root, "opendmarc", "ignore"), "w").close()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", "/CN=" + OUTSIDE_MX, "-keyout", os.path.join(self.etc, "server.key"),
                        "-out", os.path.join(self.etc, "server.crt")], capture_output=True, check=True)
        cp = netns_run(self.ns, ["opendkim", "-x", os.path.join(self.root, "opendkim.conf")])
        assert cp.returncode == 0, "opendkim: %s%s" % (cp.stdout, cp.stderr)
        cp = netns_run(self.ns, ["opendmarc", "-c", os.path.join(self.root, "opendmarc.conf")])
        assert cp.returncode == 0, "opendmarc: %s%s" % (cp.stdout, cp.stderr)
        _wait_pidfile(os.path.join(self.root, "opendkim", "opendkim.pid"), "opendkim")
        _wait_pidfile(os.path.join(self.root, "opendmarc", "opendmarc.pid"), "opendmarc")
        # Debian's master.cf.dist chroots smtpd; this one lives outside a
        # chroot. One smtpd at a time: Debian's OpenDKIM 2.11 re-reads its
        # ResolverConfiguration file (which this verifier needs, to let
        # libunbound ask for names under test.) for every message, with a
        # parser that is not thread-safe (docs/internals.md, opendkim_dns).
        subprocess.run(["postconf", "-c", self.etc, "-F", "*/*/chroot=n", "smtp/inet/process_limit=1"], check=True)
        cp = netns_run(self.ns, ["postfix", "-c", self.etc, "start"])
        assert cp.returncode == 0, "outside postfix: %s%s" % (cp.stdout, cp.stderr)
        _wait_pidfile(os.path.join(self.root, "spool", "pid", "master.pid"), "outside postfix")

    def stop(self):
        netns_run(self.ns, ["postfix", "-c", self.etc, "stop"])
        _stop_pidfile(os.path.join(self.root, "opendmarc", "opendmarc.pid"))
        _stop_pidfile(os.path.join(self.root, "opendkim", "opendkim.pid"))

    def log(self):
        try:
            with open(os.path.join(self.root, "maillog"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def messages(self, user):
        """Every message in USER@outside.test's Maildir, parsed."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.root, "mail", user, "new", "*")) +
                           glob.glob(os.path.join(self.root, "mail", user, "cur", "*"))):
            with open(path, "rb") as f:
                out.append(email.message_from_bytes(f.read(), policy=email.policy.compat32))
        return out

    def wait_for(self, user, message_id, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages(user) if m.get("Message-ID", "").strip() == message_id]
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError("%s never reached %s@%s; outside MTA log:\n%s"
                             % (message_id, user, OUTSIDE_DOMAIN, self.log()[-4000:]))

    def wait_for_text(self, user, text, select=lambda m: True, timeout=120):
        """Messages in USER's Maildir whose whole text contains TEXT (e.g. a
        bounce quoting a Message-ID) and that SELECT accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages(user) if text in _text(m) and select(m)]
            if found:
                time.sleep(2)       # a second copy would have come with the first
                return [m for m in self.messages(user) if text in _text(m) and select(m)]
            time.sleep(0.5)
        raise AssertionError("nothing with %s reached %s@%s; outside MTA log:\n%s"
                             % (text, user, OUTSIDE_DOMAIN, self.log()[-4000:]))


def _text(msg):
    return msg.as_bytes().decode(errors="replace")


def authentication_results(msg, authserv_id=OUTSIDE_MX):
    """{method: result} from the Authentication-Results headers that
    AUTHSERV_ID wrote (RFC 8601: "authserv-id; method=result ...; ...")."""
    results = {}
    for value in msg.get_all("Authentication-Results", []):
        text = " ".join(value.split())
        head, _, rest = text.partition(";")
        if head.strip().split()[0] != authserv_id:
            continue
        for clause in rest.split(";"):
            words = clause.strip().split()
            if words and "=" in words[0]:
                method, _, result = words[0].partition("=")
                results.setdefault(method.lower(), result.lower())
    return results
