"""Many concurrent IMAP sessions (issue 14, requirement C4 push at scale).

1,500 TLS IMAP sessions (port 993) from 150 client addresses, 10 users, each
LOGIN + SELECT INBOX + IDLE, held at the same time: more than any of
Dovecot's default limits (imap-login process_limit 100 with one process per
TLS session, default_process_limit 100 for imap, default_client_limit 1000)
and more IDLE processes of the mail uid (vmail) than the kernel's default
fs.inotify.max_user_instances (128). Then: the next login still works, a
delivery reaches every IDLE session of its user at once (inotify, not the
30 s polling Dovecot falls back to without an inotify instance), and no
session was dropped. Each user+address pair holds one session, well under
mail_max_userip_connections.

The client is one thread with selectors and non-blocking TLS sockets
(Python standard library only).
"""

import errno
import os
import selectors
import socket
import ssl
import time

from conftest import HOST, TLS_NAME, imap_connect, log_tail, make_message, msgid, smtp_send, tls_context

SESSIONS = 1500
ADDRESSES = 150            # 127.0.10.1 .. 127.0.10.150
USERS = SESSIONS // ADDRESSES
IN_FLIGHT = 64             # connections between connect and IDLE at a time
# All sessions in IDLE within this (seconds). Each LOGIN costs one yescrypt
# verification (about 30-60 ms of CPU) in Dovecot's single auth process:
# about 60 s for 1,500 on an idle 2-core machine, longer when it is shared.
OPEN_TIMEOUT = 240.0
PUSH_TIMEOUT = 10.0        # EXISTS at every IDLE session of the user within this


class Session:
    """One IMAP session driven step by step: connect, TLS, greeting, LOGIN,
    SELECT INBOX, IDLE. `lines` gathers the server's lines."""

    def __init__(self, ctx, source, user, password):
        self.source = source
        self.user = user
        self.password = password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((source, 0))
        self.ctx = ctx
        self.state = "connect"
        self.inbuf = b""
        self.outbuf = b""
        self.lines = []
        self.error = None
        err = self.sock.connect_ex((HOST, 993))
        if err not in (0, errno.EINPROGRESS):
            self.fail("connect: %s" % os.strerror(err))

    def fail(self, why):
        if self.error is None:
            self.error = "%s %s (%s): %s; last lines %r" % (self.user, self.source, self.state, why,
                                                            self.lines[-3:])
        self.state = "failed"

    def send(self, data):
        self.outbuf += data
        self.flush()

    def flush(self):
        while self.outbuf:
            try:
                n = self.sock.send(self.outbuf)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return
            self.outbuf = self.outbuf[n:]

    def events(self):
        if self.state == "connect":
            return selectors.EVENT_WRITE
        if self.state == "handshake" and self.want_write:
            return selectors.EVENT_WRITE
        return selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbuf else 0)

    def step(self):
        """Advances on readiness; returns False once the session failed."""
        try:
            if self.state == "connect":
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.fail("connect: %s" % os.strerror(err))
                    return False
                self.sock = self.ctx.wrap_socket(self.sock, server_hostname=TLS_NAME,
                                                 do_handshake_on_connect=False)
                self.state = "handshake"
                self.want_write = False
            if self.state == "handshake":
                try:
                    self.sock.do_handshake()
                except ssl.SSLWantReadError:
                    self.want_write = False
                    return True
                except ssl.SSLWantWriteError:
                    self.want_write = True
                    return True
                self.state = "greeting"
            self.flush()
            while True:
                try:
                    data = self.sock.recv(65536)
                except (ssl.SSLWantReadError, BlockingIOError):
                    break
                if not data:
                    self.fail("connection closed by the server")
                    return False
                self.inbuf += data
            while b"\r\n" in self.inbuf:
                line, self.inbuf = self.inbuf.split(b"\r\n", 1)
                self.lines.append(line)
                self.on_line(line)
        except (OSError, ssl.SSLError) as e:
            self.fail(repr(e))
        return self.state != "failed"

    def on_line(self, line):
        if self.state == "greeting":
            if not line.startswith(b"* OK"):
                return self.fail("greeting")
            self.state = "login"
            self.send(b'a LOGIN "%s" "%s"\r\n' % (self.user.encode(), self.password.encode()))
        elif self.state == "login" and line.startswith(b"a "):
            if not line.startswith(b"a OK"):
                return self.fail("LOGIN")
            self.state = "select"
            self.send(b"b SELECT INBOX\r\n")
        elif self.state == "select" and line.startswith(b"b "):
            if not line.startswith(b"b OK"):
                return self.fail("SELECT")
            self.state = "idle-start"
            self.send(b"c IDLE\r\n")
        elif self.state == "idle-start" and line.startswith(b"+"):
            self.state = "idle"
        elif self.state == "idle-start" and line.startswith(b"c "):
            self.fail("IDLE refused")
        elif self.state == "done" and line.startswith(b"c "):
            if not line.startswith(b"c OK"):
                return self.fail("IDLE end")
            self.state = "closed"
        elif line.startswith(b"* BYE") and self.state != "closed":
            self.fail("BYE")


def _pump(sel, sessions, until, deadline):
    """Runs the event loop until until() or the deadline."""
    while not until():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        for key, _ in sel.select(min(left, 1.0)):
            s = key.data
            ok = s.step()
            if not ok:
                sel.unregister(key.fileobj)
            else:
                sel.modify(s.sock, s.events(), s)
    return True


def _dovecot_pss_kb(site):
    return site.services()["dovecot"]["pss_kb"]


def test_1500_idle_sessions_and_next_login(site):
    """C4: 1,500 concurrent TLS IMAP sessions in IDLE; none dropped, push reaches them, the next login works."""
    users = [site.new_user(prefix="idle") for _ in range(USERS)]
    ctx = tls_context(site)
    sources = ["127.0.10.%d" % (i + 1) for i in range(ADDRESSES)]
    plan = [(src, users[j]) for src in sources for j in range(USERS)]
    pss_before = _dovecot_pss_kb(site)
    # `up` raised the kernel's inotify limits (this test runs as root with
    # a writable /proc/sys); status reports them.
    host = [h for h in site.status()["hosts"] if h["name"] == "mail"][0]
    assert host["kernel"]["ok"] is True, host["kernel"]
    assert host["kernel"]["fs.inotify.max_user_instances"] >= 2 * SESSIONS, host["kernel"]

    sel = selectors.DefaultSelector()
    sessions = []
    started = time.monotonic()
    deadline = started + OPEN_TIMEOUT
    try:
        def opening():
            return sum(1 for s in sessions if s.state not in ("idle", "failed"))

        # Open with at most IN_FLIGHT sessions between connect and IDLE, as
        # clients arriving over a few seconds would.
        while len(sessions) < len(plan) and time.monotonic() < deadline:
            while len(sessions) < len(plan) and opening() < IN_FLIGHT:
                src, (user, password) = plan[len(sessions)]
                s = Session(ctx, src, user, password)
                sessions.append(s)
                if s.state != "failed":
                    sel.register(s.sock, s.events(), s)
            _pump(sel, sessions, lambda: opening() < IN_FLIGHT, deadline)
        _pump(sel, sessions, lambda: opening() == 0, deadline)
        opened = time.monotonic() - started
        failed = [s.error or s.state for s in sessions if s.state != "idle"]
        assert not failed and len(sessions) == SESSIONS, (
            "%d of %d sessions did not reach IDLE in %.0fs, e.g. %s\n%s"
            % (len(failed) + SESSIONS - len(sessions), SESSIONS, OPEN_TIMEOUT, failed[:5],
               log_tail(site, 20)))

        pss_held = _dovecot_pss_kb(site)
        print("\n%d sessions in IDLE after %.1f s (%.0f logins/s); dovecot PSS %.1f MiB before, %.1f MiB held "
              "(%.1f KiB per session)" % (SESSIONS, opened, SESSIONS / opened, pss_before / 1024, pss_held / 1024,
                                         (pss_held - pss_before) / SESSIONS))

        # The next login (another address, a fresh TLS session) still works.
        m = imap_connect(site, *users[0])
        try:
            typ, _ = m.select("INBOX")
            assert typ == "OK"
        finally:
            m.logout()

        # A delivery to one user is pushed to all of its IDLE sessions.
        target = users[1][0]
        mid = msgid()
        smtp_send("sender@example.net", [target], make_message("sender@example.net", target, mid)[0])
        watchers = [s for s in sessions if s.user == target]
        pushed = _pump(sel, sessions, lambda: all(any(b"EXISTS" in x for x in s.lines) for s in watchers),
                       time.monotonic() + PUSH_TIMEOUT)
        late = [s.source for s in watchers if not any(b"EXISTS" in x for x in s.lines)]
        assert pushed, "%d of %d IDLE sessions of %s saw no EXISTS within %.0fs: %s\n%s" % (
            len(late), len(watchers), target, PUSH_TIMEOUT, late[:10], log_tail(site, 20))

        # No session was dropped: each one ends its IDLE with a tagged OK.
        for s in sessions:
            s.state = "done"
            s.send(b"DONE\r\n")
            sel.modify(s.sock, s.events(), s)
        _pump(sel, sessions, lambda: all(s.state in ("closed", "failed") for s in sessions),
              time.monotonic() + 30)
        dropped = [s.error or s.state for s in sessions if s.state != "closed"]
        assert not dropped, "%d sessions dropped, e.g. %s" % (len(dropped), dropped[:5])

        log = os.path.join(site.state, "log", "mail", "dovecot.log")
        with open(log, errors="replace") as f:
            text = f.read()
        for bad in ("process_limit", "client_limit", "Inotify instance limit", "fd limit"):
            assert bad not in text, "dovecot.log: %s" % [x for x in text.splitlines() if bad in x][:3]
    finally:
        for s in sessions:
            try:
                s.sock.close()
            except OSError:
                pass
        sel.close()
