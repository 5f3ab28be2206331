"""IDLE sessions hibernate (issue 14, requirement C4).

A session in IDLE for longer than imap_hibernate_timeout (5 s, templates/
dovecot/session-limits.conf) leaves its imap process: Dovecot's
imap-hibernate process holds it (the imap process exits, `ps` shows the
session count in imap-hibernate's title, `doveadm who` still lists the
user). A delivery to its mailbox still reaches it as an untagged EXISTS
within a few seconds, and the session still answers DONE with a tagged OK;
also after a reload of Dovecot, which a certificate renewal does.
"""

import os
import signal
import subprocess
import time

from conftest import CLIENT_ADDR, HOST, TLS_NAME, imap_connect, log_tail, make_message, msgid, smtp_send, \
    tls_context
from hibernation import HIBERNATE_WAIT, dovecot_processes, hibernation_state
from imap_load import Load, Session

HIBERNATE_TIMEOUT = 5.0    # imap_hibernate_timeout in session-limits.conf
PUSH_TIMEOUT = 5.0         # EXISTS after the delivery was accepted
RELOAD_PUSH_TIMEOUT = 60.0  # EXISTS in every session after the reload: six messages through the filter, a busy host


def _dovecot_conf(site):
    return os.path.join(site.state, "etc", "mail", "dovecot", "dovecot.conf")


def test_idle_session_hibernates_and_gets_push(site):
    """C4: an IDLE session moves to imap-hibernate after the timeout and still receives EXISTS at once."""
    user, password = site.new_user(prefix="hib")
    m = imap_connect(site, user, password)     # the mailbox exists before the IDLE session
    try:
        assert m.select("INBOX")[0] == "OK"
    finally:
        m.logout()
    conf = _dovecot_conf(site)
    r = subprocess.run(["doveconf", "-c", conf, "-h", "imap_hibernate_timeout"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() in ("5s", "5 secs"), r

    _, held_before = hibernation_state(user)
    load = Load()
    try:
        load.open([user], lambda u: Session(tls_context(site), HOST, TLS_NAME, CLIENT_ADDR, u, password), 1, 60)
        s = load.sessions[0]
        assert s.state == "idle", "%s\n%s" % (s.error, log_tail(site, 20))
        idle_at = time.monotonic()
        serving, held = hibernation_state(user)
        assert serving, "no imap process serves %s right after IDLE: %s" % (user, dovecot_processes())

        # Hibernated: no imap process of the user any more, one more session in imap-hibernate.
        deadline = idle_at + HIBERNATE_WAIT
        while time.monotonic() < deadline:
            load.pump(lambda: False, time.monotonic() + 0.5)
            serving, held = hibernation_state(user)
            if not serving and held > held_before:
                break
        took = time.monotonic() - idle_at
        assert not serving and held > held_before, (
            "session of %s not hibernated %.0fs after IDLE: imap processes %s, imap-hibernate holds %d\n%s"
            % (user, HIBERNATE_WAIT, serving, held, log_tail(site, 20)))
        assert took >= HIBERNATE_TIMEOUT - 0.5, "hibernated after %.1fs, before the timeout" % took
        assert s.state == "idle", s.error
        who = subprocess.run(["doveadm", "-c", conf, "who", user], capture_output=True, text=True)
        assert who.returncode == 0 and user in who.stdout, who

        # Push still works: a delivery produces EXISTS in the hibernated session at once.
        smtp_send("sender@example.net", [user], make_message("sender@example.net", user, msgid())[0])
        sent = time.monotonic()
        late = load.wait_pushed([s], PUSH_TIMEOUT)
        assert not late, "no EXISTS within %.0fs of the delivery to hibernated %s (lines %r)\n%s" % (
            PUSH_TIMEOUT, user, s.lines[-5:], log_tail(site, 20))
        print("\nhibernated %.1fs after IDLE; EXISTS %.2fs after the delivery was accepted"
              % (took, time.monotonic() - sent))

        # And the session is intact: DONE ends the IDLE with a tagged OK.
        assert not load.end_idle(), s.error or s.state
    finally:
        load.close()


RELOAD_SESSIONS = 6        # hibernated sessions, one user each, across a reload
RELOAD_SETTLE = 10.0       # seconds the sessions stay in IDLE after the reload (Dovecot kills old processes after 6)


def _wait_all_hibernated(load, users):
    """Pumps the sessions until none of users has an imap process left; the imap-hibernate pids and titles."""
    deadline = time.monotonic() + HIBERNATE_WAIT
    while time.monotonic() < deadline:
        load.pump(lambda: False, time.monotonic() + 0.5)
        if not any(hibernation_state(u)[0] for u in users):
            break
    serving = [u for u in users if hibernation_state(u)[0]]
    assert not serving, "not hibernated %.0fs after IDLE: %s\n%s" % (HIBERNATE_WAIT, serving, dovecot_processes())
    return {pid: t for pid, t in dovecot_processes().items() if t.startswith("imap-hibernate")}


def test_reload_keeps_hibernated_sessions(site):
    """A Dovecot reload (SIGHUP, what `emailng tls renew` does) keeps hibernated IDLE sessions, also past the 6 s
    after which Dovecot's master kills the old configuration's processes unless shutdown_clients = no: none is
    closed, each gets EXISTS for a delivery after the reload, and each answers DONE with a tagged OK. (With
    Dovecot's default shutdown_clients = yes the old imap-hibernate stopped at the SIGHUP and closed every
    one of them.)"""
    users = [site.new_user(prefix="hibr") for _ in range(RELOAD_SESSIONS)]
    for user, password in users:     # the mailboxes exist before the IDLE sessions
        m = imap_connect(site, user, password)
        try:
            assert m.select("INBOX")[0] == "OK"
        finally:
            m.logout()
    passwords = dict(users)
    names = [u for u, _ in users]
    load = Load()
    try:
        load.open(names, lambda u: Session(tls_context(site), HOST, TLS_NAME, CLIENT_ADDR, u, passwords[u]), 2, 60)
        assert all(s.state == "idle" for s in load.sessions), [s.error for s in load.sessions]
        before = _wait_all_hibernated(load, names)

        master = site.services()["dovecot"]["pid"]
        os.kill(master, signal.SIGHUP)
        # The old imap-hibernate keeps its sessions (the reload starts a new, empty one beside it).
        load.pump(lambda: any(s.state != "idle" for s in load.sessions), time.monotonic() + RELOAD_SETTLE)
        assert all(s.state == "idle" for s in load.sessions), "closed by the reload: %s\n%s" % (
            [s.error for s in load.sessions if s.state != "idle"], log_tail(site, 20))
        after = {pid: t for pid, t in dovecot_processes().items() if t.startswith("imap-hibernate")}
        kept = [pid for pid in before if pid in after and "[0 connections]" not in after[pid]]
        assert kept, "no imap-hibernate of before the reload holds sessions: before %s, after %s" % (before, after)
        assert site.services()["dovecot"]["pid"] == master

        # Push and the session itself still work: each wakes into an imap process of the new configuration.
        for user in names:
            smtp_send("sender@example.net", [user], make_message("sender@example.net", user, msgid())[0])
        sent = time.monotonic()
        late = load.wait_pushed(load.sessions, RELOAD_PUSH_TIMEOUT)
        assert not late, "no EXISTS within %.0fs after the reload: %s\n%s" % (
            RELOAD_PUSH_TIMEOUT, [(s.user, s.state, s.error, s.lines[-3:]) for s in late], log_tail(site, 40))
        took = time.monotonic() - sent
        assert not load.end_idle(), [s.error or s.state for s in load.sessions if s.state != "closed"]
        print("\n%d hibernated sessions kept across a reload by imap-hibernate %s; EXISTS in all %.1fs after the"
              " deliveries" % (len(names), kept, took))
    finally:
        load.close()
