"""emailng-policyd over the raw Postfix policy protocol (TCP), the way
iRedAPD's tests talk to it: the real daemon, real LMDB state, the real
SPF helper and a real DNS server. Requirements S5, S6 (SPF), X4."""
import os
import socket
import subprocess
import threading
import time

from conftest import POLICYD, policy, read_answer

TABLE = """emailng-policyd-table 1
mailbox alice@example.test pair1
mailbox bob@example.test pair1
alias team@example.test alice@example.test bob@example.test
limit alice@example.test msgs_per_hour=10
"""


def rcpt(**kw):
    base = dict(protocol_state="RCPT", protocol_name="ESMTP", client_address="198.51.100.7",
                client_name="unknown", helo_name="mx.example.org", sender="x@example.org",
                recipient="alice@example.test", queue_id="", instance="1.1", size="1000")
    base.update(kw)
    return base


def test_config_check():
    r = subprocess.run([POLICYD, "-t", "-c", "/nonexistent.conf"], capture_output=True, text=True)
    assert r.returncode == 1 and "/nonexistent.conf" in r.stderr


def test_eleventh_message_in_an_hour_is_deferred(make_daemon):
    d = make_daemon("quota: {enabled: false}\n", TABLE)
    s = d.connect()
    for i in range(10):
        assert policy(s, **rcpt(sasl_username="alice@example.test", instance=f"m{i}",
                                recipient="someone@example.org")) == "DUNNO"
        assert policy(s, **rcpt(protocol_state="END-OF-MESSAGE", sasl_username="alice@example.test",
                                instance=f"m{i}", recipient="", recipient_count="1")) == "DUNNO"
    answer = policy(s, **rcpt(sasl_username="alice@example.test", instance="m11", recipient="someone@example.org"))
    assert answer.startswith("450 4.7.1 "), answer
    assert "10 messages in the last hour" in answer
    # counters survive a restart of the daemon
    d.stop()
    d.start()
    s = d.connect()
    answer = policy(s, **rcpt(sasl_username="alice@example.test", instance="m12", recipient="someone@example.org"))
    assert answer.startswith("450 4.7.1 ")
    # one log line per decision, with the queue id, client, sender, recipient, action, reason
    log = d.read_log()
    line = [l for l in log.splitlines() if 'instance' not in l and 'action="450' in l][0]
    for field in ("queue_id=", 'client="198.51.100.7"', 'sender="x@example.org"',
                  'recipient="someone@example.org"', "reason=", 'sasl_user="alice@example.test"'):
        assert field in line, line


def test_greylisting_first_attempt_deferred_retry_passes(make_daemon):
    d = make_daemon("quota: {enabled: false}\ngreylist: {enabled: true, delay: 2}\n", TABLE)
    s = d.connect()
    first = policy(s, **rcpt())
    assert first.startswith("DEFER_IF_PERMIT 4.7.1 Greylisted"), first
    assert policy(s, **rcpt(instance="1.2")).startswith("DEFER_IF_PERMIT")
    time.sleep(2.2)
    assert policy(s, **rcpt(instance="1.3")) == "DUNNO"
    # authenticated clients are never greylisted
    assert policy(s, **rcpt(client_address="203.0.113.9", sasl_username="bob@example.test",
                            instance="2.1")) == "DUNNO"


def test_spf_against_local_dns(make_daemon, dns):
    d = make_daemon(f"quota: {{enabled: false}}\nspf: {{enabled: true, reject_fail: true, "
                    f"resolv_conf: {dns['resolv_conf']}, trusted_forwarders: [203.0.113.0/24]}}\n", TABLE)
    s = d.connect()
    fail = policy(s, **rcpt(sender="someone@fail.spf.test", client_address="198.51.100.7", instance="a"))
    assert fail.startswith("550 5.7.23 "), fail
    ok = policy(s, **rcpt(sender="someone@pass.spf.test", client_address="192.0.2.10", instance="b"))
    assert ok.startswith("PREPEND Received-SPF: pass"), ok
    # one header per message, not per recipient
    assert policy(s, **rcpt(sender="someone@pass.spf.test", client_address="192.0.2.10", instance="b",
                            recipient="bob@example.test")) == "DUNNO"
    soft = policy(s, **rcpt(sender="someone@soft.spf.test", instance="c"))
    assert soft.startswith("PREPEND Received-SPF: softfail"), soft
    neutral = policy(s, **rcpt(sender="someone@neutral.spf.test", instance="d"))
    assert neutral.startswith("PREPEND Received-SPF: neutral"), neutral
    macro = policy(s, **rcpt(sender="a.b-c+d@macro.spf.test", instance="e"))
    assert macro.startswith("550 5.7.23") or macro.startswith("PREPEND"), macro
    # never on authenticated submission, never from trusted forwarders
    assert policy(s, **rcpt(sender="someone@fail.spf.test", sasl_username="alice@example.test",
                            instance="f")) == "DUNNO"
    assert policy(s, **rcpt(sender="someone@fail.spf.test", client_address="203.0.113.4",
                            instance="g")) == "DUNNO"


def test_bad_input_is_answered_or_closed_and_daemon_survives(make_daemon):
    d = make_daemon("quota: {enabled: false}\nmax_line: 256\nmax_request: 2048\n", TABLE)
    # an oversized attribute: answered (on_error), logged
    s = d.connect()
    s.sendall(b"request=smtpd_access_policy\nsender=" + b"a" * 1000 + b"\n\n")
    assert read_answer(s) == "DUNNO"
    # the same connection still works
    assert policy(s, **rcpt()) == "DUNNO"
    # binary junk, then a request with no blank line: closed
    s2 = d.connect()
    s2.sendall(bytes(range(256)) * 4 + b"\n\n")
    try:
        s2.sendall(b"x=y\n" * 1000)
        s2.settimeout(5)
        while s2.recv(4096):
            pass
    except OSError:
        pass
    # a client that never finishes: closed after request_timeout (2 s)
    s3 = d.connect()
    s3.sendall(b"request=smtpd_access_policy\nsender=slow@example.org\n")
    s3.settimeout(6)
    t0 = time.time()
    assert s3.recv(100) == b""
    assert time.time() - t0 < 5
    # many connections at once (over max_connections=200): extra ones closed, daemon fine
    socks = []
    for _ in range(300):
        try:
            socks.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
        except OSError:
            break
    time.sleep(0.5)
    for c in socks:
        c.close()
    time.sleep(0.5)
    assert d.alive()
    s4 = d.connect()
    assert policy(s4, **rcpt()) == "DUNNO"
    log = d.read_log()
    assert "line too long" in log
    assert "request not finished in 2 s" in log
    assert "max_connections" in log


def test_table_reload_and_bad_table_kept(make_daemon):
    d = make_daemon("quota: {enabled: false}\n", TABLE)
    s = d.connect()
    with open(d.table, "w") as f:
        f.write("emailng-policyd-table 1\nmailbox broken\n")
    time.sleep(2.5)
    assert "table not loaded, keeping the one in use" in d.read_log()
    assert "table:2" in d.read_log()
    assert policy(s, **rcpt()) == "DUNNO"
    assert d.alive()


def test_concurrent_connections(make_daemon):
    d = make_daemon("quota: {enabled: false}\n", TABLE)
    errors = []

    def worker(n):
        try:
            s = d.connect()
            for i in range(50):
                a = policy(s, **rcpt(instance=f"{n}.{i}", client_address=f"198.51.100.{n}"))
                if a != "DUNNO":
                    errors.append(a)
            s.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 41)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_privileges_dropped(make_daemon):
    d = make_daemon("quota: {enabled: false}\n", TABLE)
    status = open(f"/proc/{d.pid}/status").read()
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
    assert uid_line.split()[1:] != ["0", "0", "0", "0"], uid_line
    import pwd
    assert int(uid_line.split()[1]) == pwd.getpwnam("emailng-policyd").pw_uid


def _as_user(user, groups, path):
    """Connects to the unix socket path as user (with the supplementary
    groups), sends a policy request: the answer, or "refused: ERROR"."""
    import pwd
    pw = pwd.getpwnam(user)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups(groups)
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                out = policy(s, **rcpt(instance="u.1"))
            except (OSError, AssertionError) as e:
                out = "refused: %s" % type(e).__name__
            os.write(w, out.encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return out.decode()


def test_unix_socket_serves_only_peer_users(make_daemon):
    """Local trust: on its unix socket (mode 0660, socket_group) the daemon
    answers root and peer_users only. A user who cannot open the socket gets
    EACCES from the kernel; one who can (here: nobody in the socket's group)
    is refused by SO_PEERCRED with one log line per refused connection."""
    import grp
    import pwd
    import stat
    group = grp.getgrnam("postfix")
    d = make_daemon("quota: {enabled: false}\nsocket_group: postfix\npeer_users: [postfix]\n", TABLE,
                    listen=lambda root: f"unix:{root}/policy")
    path = os.path.join(d.root, "policy")
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == group.gr_gid
    # root (the test) and postfix are served
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    assert policy(s, **rcpt()) == "DUNNO"
    s.close()
    assert _as_user("postfix", [], path) == "DUNNO"
    # nobody: not even connected
    assert _as_user("nobody", [], path) == "refused: PermissionError"
    # nobody in group postfix: connected, refused by the daemon, one line each
    nobody = pwd.getpwnam("nobody").pw_uid
    for _ in range(2):
        assert _as_user("nobody", [group.gr_gid], path).startswith("refused: ")
    time.sleep(0.3)
    log = d.read_log()
    lines = [l for l in log.splitlines() if "refusing a connection from uid %d " % nobody in l]
    assert len(lines) == 2, log
    assert "not root or one of peer_users" in lines[0]
    assert d.alive()


def test_metrics_file_counts_requests_policies_and_latency(make_daemon):
    """metrics_file (docs/policyd.md, "Metrics"): written at start, again
    within metrics_interval of a change and at exit, in the Prometheus text
    format; counts every answer by state and action, each policy's answer,
    bad requests, and the latency histogram over all of them. Its folder is
    made for the daemon's user."""
    import pwd
    import shutil
    import tempfile
    from prometheus_client.parser import text_string_to_metric_families
    top = tempfile.mkdtemp(prefix="policyd-metrics-")
    os.chmod(top, 0o755)     # the daemon, once its own user, passes through
    path = os.path.join(top, "metrics", "policyd.prom")
    try:
        d = make_daemon("quota: {enabled: false}\ngreylist: {enabled: true, delay: 60}\n"
                        f"metrics_file: {path}\nmetrics_interval: 1\n", TABLE)

        def figures():
            with open(path) as f:
                text = f.read()
            return {(s.name, frozenset(s.labels.items())): s.value
                    for fam in text_string_to_metric_families(text) for s in fam.samples}

        def v(m, name, **labels):
            return m[(name, frozenset(labels.items()))]
        start = figures()
        assert v(start, "emailng_policyd_request_duration_seconds_count") == 0
        assert pwd.getpwuid(os.stat(os.path.dirname(path)).st_uid).pw_name == "emailng-policyd"
        assert os.stat(path).st_mode & 0o777 == 0o644
        s = d.connect()
        assert policy(s, **rcpt()).startswith("DEFER_IF_PERMIT")             # greylisted
        assert policy(s, **rcpt(sasl_username="bob@example.test", instance="2",
                                recipient="x@example.org")) == "DUNNO"        # authenticated
        assert policy(s, **rcpt(protocol_state="END-OF-MESSAGE", sasl_username="bob@example.test",
                                instance="2", recipient="", recipient_count="1")) == "DUNNO"
        s.sendall(b"request=smtpd_access_policy\nsender=" + b"a" * 5000 + b"\n\n")  # over max_line
        assert read_answer(s) == "DUNNO"
        time.sleep(2.5)
        m = figures()
        assert v(m, "emailng_policyd_requests_total", state="RCPT", action="defer") == 1
        assert v(m, "emailng_policyd_requests_total", state="RCPT", action="dunno") == 1
        assert v(m, "emailng_policyd_requests_total", state="END-OF-MESSAGE", action="dunno") == 1
        assert v(m, "emailng_policyd_bad_requests_total") == 1
        assert v(m, "emailng_policyd_actions_total", policy="greylist", action="defer") == 1
        assert v(m, "emailng_policyd_actions_total", policy="greylist", action="dunno") == 1
        assert v(m, "emailng_policyd_actions_total", policy="ratelimit", action="dunno") == 2
        assert v(m, "emailng_policyd_actions_total", policy="quota", action="dunno") == 2    # off: dunno
        assert v(m, "emailng_policyd_request_duration_seconds_count") == 4
        assert v(m, "emailng_policyd_request_duration_seconds_bucket", le="+Inf") == 4
        assert 0 < v(m, "emailng_policyd_request_duration_seconds_sum") < 4
        # the last answers before a stop are in the file written at exit
        assert policy(s, **rcpt(instance="3", client_address="203.0.113.5")).startswith("DEFER_IF_PERMIT")
        d.stop()
        assert v(figures(), "emailng_policyd_request_duration_seconds_count") == 5
    finally:
        shutil.rmtree(top, ignore_errors=True)
