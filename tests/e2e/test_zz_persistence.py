"""Persistence across `down` / `up` (runs last: the file name sorts last).
Mail, users, passwords, quotas, aliases and the CA survive a restart."""

import json
import os
import subprocess

import pytest

from conftest import (DATADIR, EMAILNG, PORTS, connect, imap_storage, make_message, msgid,
                      smtp_send, wait_for_message)


def _port_open(port):
    try:
        connect(port, timeout=2).close()
        return True
    except OSError:
        return False


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_down_up_keeps_mail_users_quotas_aliases(site, alice):
    """A5, U1, U2, U3, M1: after `down` and `up` the earlier mail, a user with its quota and password,
    an alias, the demo passwords and the CA are all still there."""
    user, pw = site.new_user(quota="3M", prefix="persist")
    alias = "%s@example.test" % site.unique("palias")
    site.run("alias", "add", alias, user, check=True)
    mid_user, mid_alice = msgid(), msgid()
    m1, body1 = make_message("bob@example.test", alias, mid_user, subject="before restart")
    m2, body2 = make_message("bob@example.test", alice[0], mid_alice, subject="before restart")
    smtp_send("bob@example.test", [alias], m1)
    smtp_send("bob@example.test", [alice[0]], m2)
    wait_for_message(site, user, mid_user, password=pw)
    wait_for_message(site, alice[0], mid_alice)
    assert imap_storage(site, user, pw)[1] == 3072

    ca = _read(site.ca)
    secrets = _read(os.path.join(site.state, "secrets", "demo-passwords"))

    r = site.run("down", timeout=120)
    assert r.rc == 0, r
    for port in PORTS.values():
        assert not _port_open(port), "port %d still open after down" % port
    st = site.run("status", "--json")
    svcs = {s["name"]: s for h in json.loads(st.out)["hosts"] for s in h["services"]}
    for name in ("slapd", "dovecot", "postfix"):
        assert svcs[name]["state"] == "down", svcs[name]

    # Run `up` as a shell pipeline would (`emailng up | tee`): with pipes for
    # stdout/stderr. It must finish, and the daemons must not keep the pipes open.
    env = dict(os.environ, EMAILNG_DATADIR=DATADIR)
    p = subprocess.Popen([EMAILNG, "up", "--state", site.state], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        exited = p.poll() is not None
        p.kill()
        p.wait()
        pytest.fail("emailng up exited (rc=%s) but its stdout/stderr pipes stayed open: the daemons "
                    "inherited them" % p.returncode if exited else "emailng up did not finish in 120 s")
    assert p.returncode == 0, (out, err)
    assert b"already" not in (out + err).lower(), (out, err)
    for name, s in site.services().items():
        assert s["state"] == "up", s

    assert _read(site.ca) == ca, "CA replaced by up"
    assert _read(os.path.join(site.state, "secrets", "demo-passwords")) == secrets
    got = wait_for_message(site, user, mid_user, password=pw, timeout=5)
    assert got.endswith(body1)
    got = wait_for_message(site, alice[0], mid_alice, timeout=5)
    assert got.endswith(body2)
    assert imap_storage(site, user, pw)[1] == 3072
    assert user in site.run("user", "list", check=True).out.split()
    assert alias in site.run("alias", "list", check=True).out

    mid = msgid()
    m3, _ = make_message("bob@example.test", alias, mid, subject="after restart")
    smtp_send("bob@example.test", [alias], m3)
    wait_for_message(site, user, mid, password=pw)
