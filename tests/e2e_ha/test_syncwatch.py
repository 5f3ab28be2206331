"""emailng-syncwatch on the stores (src/syncwatch/main.c, docs/architecture.md 5).

Dovecot 2.3.19 can leave a dsync-server waiting for its master's handshake
(seen when both stores sync one user at once): no -T or -l timeout covers
that phase, Dovecot itself ends it only after 10 minutes, and the user's
replication waits meanwhile. The state is made here for real: a client in
store2's namespace (the partner's address) logs in to store1's doveadm
server with the pair's secret and starts `dsync-server` for alice, then
sends nothing, which is exactly what the stuck master does. store1's
Dovecot then has a doveadm-server titled "... alice@example.test
slave_recv_handshake]". store1's emailng-syncwatch must kill it after 60 s
(its rounds are 5 s apart), log the decision, and ask store2's replicator
to sync alice at once. The same from proxy1 (not the partner) is ended but
not retried.
"""

import os
import re
import subprocess
import time

from conftest import DOMAIN, HOSTS
from test_replication import _ns, doveadm

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
STALL = 60           # syncwatch_service.h: SYNCWATCH_STALL_SECONDS
INTERVAL = 5         # SYNCWATCH_INTERVAL_SECONDS

# A doveadm client that starts a dsync-server and then says nothing.
# Prints the seconds until the server closed the connection.
STUCK_MASTER = r"""
import base64, socket, ssl, sys, time
ca, address, port, user, secret_file = sys.argv[1:6]
secret = open(secret_file, "rb").read().strip()
ctx = ssl.create_default_context(cafile=ca)
sock = ctx.wrap_socket(socket.create_connection((address, int(port)), timeout=10), server_hostname=address)
f = sock.makefile("rwb")
f.write(b"VERSION\tdoveadm-server\t1\t0\n"); f.flush()
if f.readline().strip() == b"-":
    f.write(b"PLAIN\t" + base64.b64encode(b"\0doveadm\0" + secret) + b"\n"); f.flush()
    assert f.readline().strip() == b"+", "doveadm authentication failed"
f.write(("\t%s\tdsync-server\t-u%s\n" % (user, user)).encode()); f.flush()
print("started", flush=True)
sock.settimeout(600)
start = time.monotonic()
while sock.recv(4096):
    pass
print("closed after %.1f" % (time.monotonic() - start), flush=True)
"""


def _start_stuck_master(site, from_host, to_store, user):
    return subprocess.Popen(
        _ns(site, from_host) + ["python3", "-c", STUCK_MASTER, site.ca, HOSTS[to_store], "12345", user,
                                os.path.join(site.state, "secrets", "doveadm-password")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _waiting_slaves(site, store):
    """(pid, client, user) of the store's doveadm-servers waiting for a handshake: processes
    in the store's network namespace only (another suite's fabric may have a store1 too)."""
    ns = os.stat("/run/netns/%s-%s" % (site.prefix, store)).st_ino
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat("/proc/%s/ns/net" % pid).st_ino != ns:
                continue
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        m = re.fullmatch(r"dovecot-emailng-%s/doveadm-server \[(\S+) (\S+) slave_recv_handshake\]" % store, title)
        if m:
            found.append((int(pid), m.group(1), m.group(2)))
    return found


def _log(site, store):
    path = os.path.join(site.state, "log", store, "syncwatch.log")
    with open(path) as f:
        return f.read()


def _fast_sync_age(site, store, user):
    """Seconds since the store's replicator last started a sync of user."""
    line = doveadm(site, store, "replicator", "status", user).splitlines()[1].split()
    h, m, s = (int(x) for x in line[2].split(":"))
    return h * 3600 + m * 60 + s


def test_syncwatch_runs_on_both_stores_only(ha):
    status = ha.emailng("status").stdout
    for store in ("store1", "store2"):
        assert re.search(r"^%s\s+syncwatch\s+up\s+\d+" % store, status, re.M), status
        assert "started: watching dovecot-emailng-%s/doveadm-server" % store in _log(ha, store)
    assert not re.search(r"^(relay|proxy|dir)\d\s+syncwatch", status, re.M), status


def test_a_dsync_stuck_before_its_handshake_is_ended_and_the_partner_retries(ha):
    log_before = len(_log(ha, "store1"))
    from_partner = _start_stuck_master(ha, "store2", "store1", ALICE)
    from_proxy = _start_stuck_master(ha, "proxy1", "store1", BOB)
    try:
        for p in (from_partner, from_proxy):
            assert p.stdout.readline().strip() == "started", p.stderr.read()
        # Dovecot's own state: a doveadm-server per client waiting for the handshake.
        deadline = time.monotonic() + 10
        while True:
            slaves = {(client, user): pid for pid, client, user in _waiting_slaves(ha, "store1")}
            if {(HOSTS["store2"], ALICE), (HOSTS["proxy1"], BOB)} <= set(slaves):
                break
            assert time.monotonic() < deadline, "no waiting dsync-server on store1: %s" % slaves
            time.sleep(0.2)
        closed_at = {}
        for p in (from_partner, from_proxy):
            out, err = p.communicate(timeout=STALL + 2 * INTERVAL + 20)
            closed_at[p] = time.monotonic()
            assert p.returncode == 0, err
            closed = float(re.search(r"closed after ([0-9.]+)", out).group(1))
            # Not before the bound, and within one round after it.
            assert STALL - 2 <= closed <= STALL + INTERVAL + 5, out
    finally:
        for p in (from_partner, from_proxy):
            if p.poll() is None:
                p.kill()
                p.wait()
    for pid in slaves.values():
        assert not os.path.exists("/proc/%d" % pid), "dsync-server %d is still there" % pid
    # The retry line is written once the partner has answered (syncwatch
    # waits up to 10 s for it), so it may follow the kill by a moment.
    deadline = time.monotonic() + 15
    while True:
        log = _log(ha, "store1")[log_before:]
        if log.count('action="retry"') >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    pid_alice, pid_bob = slaves[(HOSTS["store2"], ALICE)], slaves[(HOSTS["proxy1"], BOB)]
    assert re.search(r'action="end" pid="%d" waited_s="\d+" partner="%s" user="%s" result="SIGKILL"'
                     % (pid_alice, re.escape(HOSTS["store2"]), re.escape(ALICE)), log), log
    assert re.search(r'action="end" pid="%d" waited_s="\d+" partner="%s" user="%s" result="SIGKILL"'
                     % (pid_bob, re.escape(HOSTS["proxy1"]), re.escape(BOB)), log), log
    # The partner is asked to sync alice again; a client that is not the partner is not.
    assert re.search(r'action="retry" partner="%s" user="%s" result="requested"'
                     % (re.escape(HOSTS["store2"]), re.escape(ALICE)), log), log
    assert re.search(r'action="retry" partner="%s" user="%s" result="skipped: the client is not the partner"'
                     % (re.escape(HOSTS["proxy1"]), re.escape(BOB)), log), log
    # store2's replicator started a sync of alice after the kill.
    assert _fast_sync_age(ha, "store2", ALICE) <= time.monotonic() - closed_at[from_partner] + 3
