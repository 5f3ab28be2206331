"""Local trust on the full topology (issue 10): no log and no exported table
of any host (the relays' recipient and sender tables and their LMDB
databases, the policy tables) is readable by every local user, and on a
relay the content filter's ways in (amavisd's LMTP sockets, clamav-milter's
socket) are Postfix's only: no TCP port, sockets a local user cannot open."""

import errno
import json
import os
import pwd
import stat
import subprocess
import sys

RELAYS = ("relay1", "relay2")
FILTER_PORTS = {10024, 10026, 10027}

_CONNECT = r'''
import json, socket, sys
out = {}
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(path)
        out[path] = 0
    except OSError as e:
        out[path] = e.errno
    s.close()
print(json.dumps(out))
'''


def _connect_as(user, paths):
    pw = pwd.getpwnam(user)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    cp = subprocess.run([sys.executable, "-c", _CONNECT, *paths], preexec_fn=drop,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def test_filter_entries_are_postfix_only_on_each_relay(ha):
    for relay in RELAYS:
        cp = ha.netns(relay, "ss", "-Hltn")
        assert cp.returncode == 0, cp.stderr
        ports = {int(line.split()[3].rsplit(":", 1)[1]) for line in cp.stdout.splitlines()}
        assert not ports & FILTER_PORTS, (relay, sorted(ports))
        run = os.path.join(ha.state, "run", relay)
        paths = [os.path.join(run, "amavis", "lmtp", "mx"), os.path.join(run, "amavis", "lmtp", "submission"),
                 os.path.join(run, "clamav-milter", "milter")]
        for path in paths:
            assert stat.S_ISSOCK(os.stat(path).st_mode), path
        assert _connect_as("nobody", paths) == {p: errno.EACCES for p in paths}, relay
        assert _connect_as("postfix", paths) == {p: 0 for p in paths}, relay


def test_no_log_or_table_world_readable(ha):
    readable, tables = [], 0
    for top in ("log", "data"):
        for root, dirs, files in os.walk(os.path.join(ha.state, top)):
            # The test fabric's own DNS server (the "internet", docs/fabric.md)
            # is no part of a site and logs no user data.
            if top == "log" and root == os.path.join(ha.state, "log"):
                dirs[:] = [d for d in dirs if d != "fabric-dns"]
            for name in files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                rel = os.path.relpath(path, ha.state)
                is_table = name.startswith(("relay-recipients", "sender-logins")) or rel.endswith("policyd/table")
                tables += is_table
                if stat.S_ISREG(st.st_mode) and (top == "log" or is_table) and st.st_mode & stat.S_IROTH:
                    readable.append("%s %o" % (rel, stat.S_IMODE(st.st_mode)))
    assert tables >= 6, "expected every relay's tables under %s/data" % ha.state
    assert readable == [], "world-readable logs/tables: %s" % readable
