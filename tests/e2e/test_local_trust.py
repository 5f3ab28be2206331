"""Local trust on the small site (issue 10): every role runs on one host, so
any local user is a potential attacker. These tests play that user: a child
process that has dropped to `nobody` (setuid) and tries the internal doors.

- LMTP (Dovecot's TCP port and unix socket) must not deliver for it;
- the content filter's return path into Postfix must not relay for it, and
  its ways in (amavisd's LMTP sockets, clamav-milter's socket) must not
  open for it: no TCP port 10024/10026/10027;
- the TCP services on loopback (postsrsd, the SRS and local reinjection
  listeners, quota-status) refuse it: the loopback guard;
- slapd must not check a user's password for it (simple bind over ldapi);
- no log file and no exported table may be readable by it;
- the public greetings name no software.
"""

import errno
import grp
import json
import os
import pwd
import socket
import stat
import subprocess
import sys
import urllib.parse

from conftest import HOST, PORTS, connect, log_tail, make_message, msgid, smtp_send, wait_for_message

NOBODY = pwd.getpwnam("nobody")

# Runs as nobody: tries an SMTP/LMTP transaction on each target (tcp
# "HOST:PORT" or a unix socket path) and reports how far it got.
_PROBE = r'''
import json, socket, sys
def talk(target, lmtp, rcpt):
    try:
        if target.startswith("/"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(target)
        else:
            host, port = target.rsplit(":", 1)
            s = socket.create_connection((host, int(port)), 10)
    except OSError as e:
        return {"stage": "connect", "error": str(e), "errno": e.errno}
    f = s.makefile("rb")
    def reply():
        lines = []
        while True:
            line = f.readline()
            if not line:
                return "closed"
            lines.append(line.decode(errors="replace").rstrip())
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)
    def cmd(text):
        s.sendall(text.encode() + b"\r\n")
        return reply()
    try:
        r = reply()
        if not r.startswith("220"):
            return {"stage": "greeting", "reply": r}
        r = cmd(("LHLO" if lmtp else "EHLO") + " attacker.local")
        if not r.startswith("250"):
            return {"stage": "hello", "reply": r}
        r = cmd("MAIL FROM:<attacker@example.org>")
        if not r.startswith("250"):
            return {"stage": "mail", "reply": r}
        r = cmd("RCPT TO:<%s>" % rcpt)
        if not r.startswith("250"):
            return {"stage": "rcpt", "reply": r}
        r = cmd("DATA")
        if not r.startswith("354"):
            return {"stage": "data", "reply": r}
        r = cmd("Subject: local trust probe\r\n\r\nprobe\r\n.")
        return {"stage": "accepted" if r.startswith("250") else "end-of-data", "reply": r}
    except OSError as e:
        return {"stage": "io", "error": str(e)}
    finally:
        s.close()
out = {}
for target, lmtp, rcpt in json.loads(sys.argv[1]):
    out[target] = talk(target, lmtp, rcpt)
print(json.dumps(out))
'''


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY.pw_gid)
    os.setuid(NOBODY.pw_uid)


def as_postfix():
    pw = pwd.getpwnam("postfix")
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def probe_as_nobody(targets, user=as_nobody):
    """targets: [(target, lmtp?, recipient)] -> {target: {"stage": ...}}."""
    cp = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(targets)], preexec_fn=user,
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def sockets_under(folder):
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                found.append(path)
    return found


def test_lmtp_refuses_local_users(site, alice):
    """Dovecot's LMTP has no authentication: a local user must reach neither
    a TCP port nor a unix socket of it (only Postfix's lmtp client may)."""
    rundir = os.path.join(site.state, "run", "mail", "dovecot")
    lmtp_sockets = [p for p in sockets_under(rundir) if "lmtp" in os.path.basename(p)]
    assert lmtp_sockets, "no LMTP socket under %s: %s" % (rundir, sockets_under(rundir))
    targets = [("127.0.0.1:24", True, alice[0]), ("%s:24" % HOST, True, alice[0])]
    targets += [(p, True, alice[0]) for p in lmtp_sockets]
    res = probe_as_nobody(targets)
    for target, r in res.items():
        assert r["stage"] == "connect", "nobody got to %s of LMTP %s: %r" % (r["stage"], target, r)


def test_reinjection_refuses_local_users(site, alice):
    """amavisd hands scanned mail back to Postfix without filters and with
    relaying allowed: nobody else may use that door, by TCP or socket."""
    queue = os.path.join(site.state, "data", "mail", "postfix", "queue")
    reinject = os.path.join(queue, "public", "amavis-reinject")
    targets = [("127.0.0.1:10025", False, "victim@elsewhere.example"),
               (reinject, False, "victim@elsewhere.example"),
               ("127.0.0.1:10025", False, alice[0]),
               (reinject, False, alice[0])]
    res = probe_as_nobody(targets)
    for target, r in res.items():
        assert r["stage"] == "connect", "nobody got to %s of reinjection %s: %r" % (r["stage"], target, r)


def filter_sockets(site):
    """amavisd's two LMTP sockets and clamav-milter's socket, as configured."""
    run = os.path.join(site.state, "run", "mail")
    sockets = {"amavisd mx": os.path.join(run, "amavis", "lmtp", "mx"),
               "amavisd submission": os.path.join(run, "amavis", "lmtp", "submission"),
               "clamav-milter": os.path.join(run, "clamav-milter", "milter")}
    amavis = open(os.path.join(site.state, "etc", "mail", "amavis", "amavisd.conf")).read()
    milter = open(os.path.join(site.state, "etc", "mail", "clamav", "clamav-milter.conf")).read()
    master = open(os.path.join(site.state, "etc", "mail", "postfix", "master.cf")).read()
    assert "@listen_sockets = ('%s', '%s');" % (sockets["amavisd mx"], sockets["amavisd submission"]) in amavis
    assert "MilterSocket unix:%s\n" % sockets["clamav-milter"] in milter
    assert "-o content_filter=amavis:unix:%s\n" % sockets["amavisd mx"] in master
    assert "-o content_filter=amavis:unix:%s\n" % sockets["amavisd submission"] in master
    # OpenDKIM's milter first (issue 11, test_dkim.py), then clamav-milter.
    dkim = os.path.join(run, "opendkim", "milter")
    assert "-o smtpd_milters=unix:%s,unix:%s,$dmarc_milter\n" % (dkim, sockets["clamav-milter"]) in master
    for path in sockets.values():
        assert stat.S_ISSOCK(os.stat(path).st_mode), path
    return sockets


def test_filter_entries_refuse_local_users(site, alice):
    """Mail handed to amavisd is scanned and then relayed anywhere by the
    reinjection listener, and clamav-milter answers anyone: a local user
    reaches neither (no TCP port; the sockets' folders let only postfix in)."""
    ports = ["%s:%d" % (address, port) for address in ("127.0.0.1", HOST) for port in (10024, 10026, 10027)]
    res = probe_as_nobody([(t, False, "victim@elsewhere.example") for t in ports])
    for target, r in res.items():
        assert r["stage"] == "connect" and r["errno"] == errno.ECONNREFUSED, \
            "nobody got to %s of the filter at %s: %r" % (r["stage"], target, r)
    sockets = filter_sockets(site)
    res = probe_as_nobody([(sockets["amavisd mx"], True, "victim@elsewhere.example"),
                           (sockets["amavisd submission"], True, "victim@elsewhere.example"),
                           (sockets["clamav-milter"], False, alice[0])])
    for target, r in res.items():
        assert r["stage"] == "connect" and r["errno"] == errno.EACCES, \
            "nobody got to %s of the filter at %s: %r" % (r["stage"], target, r)
    # Nothing listens on those ports for anyone (root included).
    for port in (10024, 10026, 10027):
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED, "something listens on %d" % port
    # The folders are the lock: root, the daemon and the group postfix only.
    for path, owner in ((os.path.dirname(sockets["amavisd mx"]), "amavis"),
                        (os.path.dirname(sockets["clamav-milter"]), "clamav")):
        st = os.stat(path)
        assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                stat.S_IMODE(st.st_mode)) == (owner, "postfix", 0o750), path
    st = os.stat(sockets["clamav-milter"])
    assert grp.getgrgid(st.st_gid).gr_name == "postfix" and stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)


def test_filter_entries_serve_postfix(site):
    """User postfix (what Postfix's lmtp client and smtpd run as) does get
    in: amavisd greets on both LMTP sockets, clamav-milter accepts."""
    sockets = filter_sockets(site)
    script = ("import socket, sys\nfor p in sys.argv[1:]:\n"
              "    s = socket.socket(socket.AF_UNIX)\n    s.settimeout(10)\n    s.connect(p)\n"
              "    print(p, s.recv(200).decode(errors='replace').split()[0] if 'milter' not in p else 'ok')\n"
              "    s.close()\n")
    cp = subprocess.run([sys.executable, "-c", script, *sockets.values()], preexec_fn=as_postfix,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split("\n")[:3] == ["%s 220" % sockets["amavisd mx"], "%s 220" % sockets["amavisd submission"],
                                         "%s ok" % sockets["clamav-milter"]], cp.stdout


def test_reinjection_socket_serves_amavisd(site):
    """The return path exists where amavisd sends (mail flow tests show it works)."""
    conf = open(os.path.join(site.state, "etc", "mail", "amavis", "amavisd.conf")).read()
    path = os.path.join(site.state, "data", "mail", "postfix", "queue", "public", "amavis-reinject")
    assert "$forward_method = 'smtp:%s';" % path in conf
    assert stat.S_ISSOCK(os.stat(path).st_mode)


_USERDB_LIST = r'''
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("refused:", e)
    sys.exit(0)
s.sendall(b"VERSION\t1\t0\nLIST\t1\t\n")
data = b""
while b"DONE\t1" not in data and b"FAIL\t1" not in data:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode(errors="replace"))
'''


def test_auth_userdb_refuses_local_users(site, alice):
    """Dovecot's auth-userdb socket lists every user (and their mail
    locations): only Dovecot's own processes may use it, not nobody."""
    path = os.path.join(site.state, "run", "mail", "dovecot", "auth-userdb")
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    cp = subprocess.run([sys.executable, "-c", _USERDB_LIST, path], preexec_fn=as_nobody,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert alice[0] not in cp.stdout, "nobody listed the users: %s" % cp.stdout[:300]
    assert cp.stdout.startswith("refused:"), cp.stdout[:300]


def test_slapd_refuses_simple_bind_by_local_user(site, alice):
    """A simple bind with the right password would let any local user guess
    passwords at full speed, past Dovecot's penalty: refused."""
    sock = os.path.join(site.state, "run", "mail", "ldapi")
    uri = "ldapi://" + urllib.parse.quote(sock, safe="")
    dn = "mail=%s,ou=users,dc=example,dc=test" % alice[0]
    cp = subprocess.run(["ldapwhoami", "-x", "-H", uri, "-D", dn, "-w", alice[1]], preexec_fn=as_nobody,
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode != 0, "simple bind as %s succeeded for nobody: %s" % (alice[0], cp.stdout)
    # The password is right: what refuses the bind is the server's policy.
    assert "Invalid credentials" in cp.stderr or "nwilling" in cp.stderr or "Inappropriate" in cp.stderr, \
        cp.stderr


def test_no_log_or_table_world_readable(site, alice, bob):
    """Logs (addresses, logins) and the exported tables (every mailbox and
    alias) are for the daemons that need them, not for every local user."""
    # Make sure every log has something in it (logins, deliveries).
    mid = msgid()
    smtp_send(bob[0], [alice[0]], make_message(bob[0], alice[0], mid)[0])
    wait_for_message(site, alice[0], mid)
    site.run("alias", "add", "trust-%s@example.test" % mid[1:9], alice[0], check=True)
    readable = []
    for top in ("log", "data"):
        for root, dirs, files in os.walk(os.path.join(site.state, top)):
            for name in files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or not st.st_mode & stat.S_IROTH:
                    continue
                rel = os.path.relpath(path, site.state)
                if rel.endswith(".prom"):
                    continue    # counters for emailng-metricsd (Prometheus text), neither log nor table
                if top == "log" or "policyd" in rel.split(os.sep) or rel.endswith((".lmdb", ".db")) \
                        or "table" in name:
                    readable.append("%s %o" % (rel, stat.S_IMODE(st.st_mode)))
    assert readable == [], "world-readable logs/tables: %s" % readable
    # And nobody cannot open them even by name.
    logs = [os.path.join(site.state, "log", "mail", n) for n in ("postfix.log", "dovecot.log", "slapd.log")]
    table = os.path.join(site.state, "data", "mail", "policyd", "table")
    script = "import sys\nfor p in sys.argv[1:]:\n    try:\n        open(p).read(1)\n        print(p)\n" \
             "    except OSError:\n        pass\n"
    cp = subprocess.run([sys.executable, "-c", script, *logs, table], preexec_fn=as_nobody,
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "", "nobody read: %s" % cp.stdout


def greeting(port, until):
    with connect(port) as s:
        f = s.makefile("rb")
        text = b""
        while True:
            line = f.readline()
            if not line:
                break
            text += line
            if until(line):
                break
        return text.decode(errors="replace")


def test_greetings_name_no_software(site):
    imap = greeting(PORTS["imap"], lambda line: True)
    pop3 = greeting(PORTS["pop3"], lambda line: True)
    sieve = greeting(PORTS["managesieve"], lambda line: line.startswith((b"OK", b"NO", b"BYE")))
    for proto, text in (("IMAP", imap), ("POP3", pop3), ("ManageSieve", sieve)):
        assert text.strip(), "%s: no greeting" % proto
        for word in ("Dovecot", "Pigeonhole", "Debian"):
            assert word not in text, "%s greeting names %s: %r" % (proto, word, text)
    assert imap.startswith("* OK") and pop3.startswith("+OK") and "\nOK" in "\n" + sieve, (imap, pop3, sieve)
    assert '"IMPLEMENTATION"' in sieve, sieve
    # IMAP ID (RFC 2971) would name the server too.
    with connect(PORTS["imap"]) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b'a1 ID ("name" "e2e")\r\n')
        answer = b""
        while not answer.endswith(b"\n") or not answer.splitlines()[-1].startswith(b"a1 "):
            line = f.readline()
            assert line, "IMAP closed the connection after ID: %r" % answer
            answer += line
    assert b"a1 OK" in answer and b"Dovecot" not in answer, answer


def test_lmtp_and_reinjection_still_deliver(site, alice, bob):
    """The restricted paths still carry mail: MX -> amavisd -> reinjection ->
    LMTP socket -> mailbox (the log shows the socket was used)."""
    mid = msgid()
    smtp_send(bob[0], [alice[0]], make_message(bob[0], alice[0], mid)[0])
    wait_for_message(site, alice[0], mid)
    with open(os.path.join(site.state, "log", "mail", "postfix.log"), errors="replace") as f:
        text = f.read()
    reinject = os.path.join(site.state, "data", "mail", "postfix", "queue", "public", "amavis-reinject")
    lmtp = os.path.join(site.state, "run", "mail", "dovecot", "lmtp")
    assert "MTA(smtp:%s): 250 2.0.0 Ok" % reinject in text, log_tail(site)
    # MX mail reached amavisd over LMTP on its socket (not a TCP port)
    mx = os.path.join(site.state, "run", "mail", "amavis", "lmtp", "mx")
    assert "relay=mail.example.test[%s]" % mx in text, log_tail(site)
    assert "relay=mail.example.test[%s]" % lmtp in text, log_tail(site)


# The loopback services whose clients cannot use a unix socket, and the
# daemon users that may reach them (src/lib/loopback_guard.c).
GUARDED = {10001: "postfix", 10002: "postfix", 10029: "postfix", 10028: "vmail",
           12340: "emailng-policyd",    # 12340: ports.quota_status
           10037: "emailng-list"}       # the mailing lists' reinjection listener

_CONNECT = ("import json, socket, sys\nout = {}\nfor port in json.loads(sys.argv[1]):\n"
            "    s = socket.socket()\n    s.settimeout(5)\n"
            "    out[port] = s.connect_ex(('127.0.0.1', port))\n    s.close()\n"
            "print(json.dumps(out))\n")


def connect_as(user, ports):
    """{port: errno of connect()} for a child that dropped to USER."""
    pw = pwd.getpwnam(user)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    cp = subprocess.run([sys.executable, "-c", _CONNECT, json.dumps(ports)], preexec_fn=drop,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return {int(k): v for k, v in json.loads(cp.stdout).items()}


def test_loopback_services_refuse_local_users(site):
    """postsrsd's tables, the SRS and local reinjection listeners and
    quota-status listen on loopback TCP (their clients cannot use unix
    sockets): the loopback guard refuses every other user (a reset, as if
    nothing listened) and lets each daemon's own user in."""
    for port in GUARDED:
        with socket.socket() as s:      # root: they do listen
            s.settimeout(5)
            assert s.connect_ex(("127.0.0.1", port)) == 0, "nothing listens on %d" % port
    refused = connect_as("nobody", list(GUARDED))
    assert refused == {port: errno.ECONNREFUSED for port in GUARDED}, refused
    for port, user in GUARDED.items():
        assert connect_as(user, [port]) == {port: 0}, (port, user)
