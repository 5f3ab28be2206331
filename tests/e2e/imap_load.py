"""Many IMAP sessions from one thread (selectors, non-blocking TLS; Python's
standard library only): each connects from a given source address over
implicit TLS, LOGINs, SELECTs INBOX and IDLEs. Used by tests/e2e/
test_sessions.py and (symbolic link) tests/e2e_ha/test_sessions.py; it
imports neither suite's conftest."""

import errno
import os
import selectors
import socket
import ssl
import time


class Session:
    """One IMAP session driven step by step: connect, TLS, greeting, LOGIN,
    SELECT INBOX, IDLE. `lines` gathers the server's lines."""

    def __init__(self, ctx, server, server_name, source, user, password, port=993):
        self.source = source
        self.user = user
        self.password = password
        self.server_name = server_name
        self.ctx = ctx
        self.state = "connect"
        self.want_write = False
        self.inbuf = b""
        self.outbuf = b""
        self.lines = []
        self.idle_from = None      # index in lines of the first line after "+ idling"
        self.error = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((source, 0))
        err = self.sock.connect_ex((server, port))
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
        if self.state == "connect" or (self.state == "handshake" and self.want_write):
            return selectors.EVENT_WRITE
        return selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbuf else 0)

    def saw(self, word):
        return any(word in line for line in self.lines)

    def pushed(self):
        """An untagged EXISTS arrived during IDLE (SELECT's own "* n EXISTS"
        does not count)."""
        return self.idle_from is not None and any(
            line.startswith(b"* ") and line.endswith(b" EXISTS") for line in self.lines[self.idle_from:])

    def step(self):
        """Advances on readiness; returns False once the session failed."""
        try:
            if self.state == "connect":
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.fail("connect: %s" % os.strerror(err))
                    return False
                self.sock = self.ctx.wrap_socket(self.sock, server_hostname=self.server_name,
                                                 do_handshake_on_connect=False)
                self.state = "handshake"
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
            self.idle_from = len(self.lines)
        elif self.state == "idle-start" and line.startswith(b"c "):
            self.fail("IDLE refused")
        elif self.state == "done" and line.startswith(b"c "):
            if not line.startswith(b"c OK"):
                return self.fail("IDLE end")
            self.state = "closed"
        elif line.startswith(b"* BYE") and self.state != "closed":
            self.fail("BYE")


class Load:
    """A set of sessions on one selector."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.sessions = []

    def pump(self, until, deadline):
        """Runs the event loop until until() or the deadline; False on the deadline."""
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in self.sel.select(min(left, 1.0)):
                s = key.data
                if s.step():
                    self.sel.modify(s.sock, s.events(), s)
                else:
                    self.sel.unregister(key.fileobj)
        return True

    def open(self, plan, make, in_flight, timeout):
        """Opens a session for each item of plan (make(item) -> Session),
        with at most in_flight between connect and IDLE at a time, as
        clients arriving over a while would. Returns the seconds taken; the
        sessions that did not reach IDLE are those with state != "idle"."""
        started = time.monotonic()
        deadline = started + timeout

        def opening():
            return sum(1 for s in self.sessions if s.state not in ("idle", "failed"))

        while len(self.sessions) < len(plan) and time.monotonic() < deadline:
            while len(self.sessions) < len(plan) and opening() < in_flight:
                s = make(plan[len(self.sessions)])
                self.sessions.append(s)
                if s.state != "failed":
                    self.sel.register(s.sock, s.events(), s)
            self.pump(lambda: opening() < in_flight, deadline)
        self.pump(lambda: opening() == 0, deadline)
        return time.monotonic() - started

    def wait_pushed(self, sessions, timeout):
        """Waits until each of sessions saw an untagged EXISTS in IDLE; the ones that did not."""
        self.pump(lambda: all(s.pushed() for s in sessions), time.monotonic() + timeout)
        return [s for s in sessions if not s.pushed()]

    def end_idle(self, timeout=30):
        """DONE to every session; the ones that did not answer with a tagged OK."""
        for s in self.sessions:
            if s.state == "failed":
                continue
            s.state = "done"
            s.send(b"DONE\r\n")
            self.sel.modify(s.sock, s.events(), s)
        self.pump(lambda: all(s.state in ("closed", "failed") for s in self.sessions),
                  time.monotonic() + timeout)
        return [s for s in self.sessions if s.state != "closed"]

    def close(self):
        for s in self.sessions:
            try:
                s.sock.close()
            except OSError:
                pass
        self.sel.close()
