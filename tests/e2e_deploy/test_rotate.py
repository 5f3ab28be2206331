"""Rotation of the doveadm secret on a deployed site (issue 12):
`emailng deploy --rotate-secret doveadm` makes a new STATE/secrets/
doveadm-password on the control host, pushes it to every host that holds
it (stores, proxies, the directory), and the daemons that read it at start
take it: the stores' Dovecot reloads (its doveadm server and the pair's
dsync), their syncwatch and metricsd and the proxies' healthd restart;
nothing else does. Afterwards the old secret is refused by the stores'
doveadm servers, replication between the stores works with the new one,
and a second deploy changes nothing."""

import base64
import json
import os
import smtplib
import socket
import ssl
import threading
import time
import uuid

from conftest import HOSTS, PREFIX, ROLES, in_netns, recap

DOMAIN = "example.test"
USER = "alice@" + DOMAIN
SECRET = "/var/lib/emailng/secrets/doveadm-password"
DOVEADM_PORT = 12345                     # the stores' doveadm server (render.c PORT_DOVEADM)
HOLDERS = {host for host, role in ROLES.items() if role in ("store", "proxy", "directory")}
# What reads the secret at start and so must take the new one (secret_users.c).
RESTARTED = {("store1", "syncwatch"), ("store2", "syncwatch"), ("store1", "metricsd"), ("store2", "metricsd"),
             ("proxy1", "healthd"), ("proxy2", "healthd")}
RELOADED = {("store1", "dovecot"), ("store2", "dovecot")}   # SIGHUP: same pid


def _daemon_pids(deployed):
    pids = {}
    for host in HOSTS:
        out = deployed.emailng_on(host, "--host", host, "status", "--json").stdout
        for h in json.loads(out)["hosts"]:
            for svc in h["services"]:
                assert svc["state"] == "up", (host, svc)
                pids[(host, svc["name"])] = svc["pid"]
    return pids


def _replication_status(deployed, store, secret):
    """`emailng replication status` on proxy1 (a doveadm client of the
    stores, as its healthd is) against STORE's doveadm server, with the
    given secret on standard input."""
    return deployed.emailng_on("proxy1", "--host", "proxy1", "replication", "status", "--store", store,
                               "--password-stdin", check=False, input=secret + "\n")


class SecretProbe(threading.Thread):
    """Asks both stores' doveadm servers from proxy1's network, every
    0.25 s during the rotation, which secret they accept (the doveadm
    protocol's SASL PLAIN, doveadm_client.c): when each store switched,
    and so how long the pair's two stores disagreed (their dsync fails)."""

    def __init__(self, ca, control_secret, old):
        super().__init__(daemon=True)
        self.ca, self.control_secret, self.old = ca, control_secret, old
        self.stop = threading.Event()
        self.switched = {}           # store -> monotonic time its new secret was first accepted
        self.errors = []

    def _accepts(self, address, secret):
        ctx = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection((address, DOVEADM_PORT), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=address) as s:
                f = s.makefile("rb")
                s.sendall(b"VERSION\tdoveadm-server\t1\t0\n")
                if f.readline().strip() != b"-":
                    raise AssertionError("no password asked for")
                token = base64.b64encode(b"\0doveadm\0" + secret.encode())
                s.sendall(b"PLAIN\t" + token + b"\n")
                return f.readline().strip() == b"+"

    def run(self):
        with in_netns(PREFIX + "-proxy1"):
            while not self.stop.is_set():
                with open(self.control_secret) as f:
                    current = f.read()
                for store in ("store1", "store2"):
                    if current == self.old or store in self.switched:
                        continue
                    try:
                        if self._accepts(HOSTS[store], current):
                            self.switched[store] = time.monotonic()
                    except (OSError, AssertionError) as e:
                        self.errors.append((store, repr(e)))
                self.stop.wait(0.25)


def _store_count(deployed, store, message_id):
    conf = "/var/lib/emailng/etc/%s/dovecot/dovecot.conf" % store
    cp = deployed.on(store, "doveadm", "-c", conf, "-f", "tab", "fetch", "-u", USER, "hdr.message-id",
                     "mailbox", "INBOX")
    return cp.stdout.count(message_id)


def test_rotated_doveadm_secret_reaches_every_holder_and_the_old_one_is_refused(deployed):
    control_secret = os.path.join(deployed.control, "secrets", "doveadm-password")
    with open(control_secret) as f:
        old = f.read()
    for store in ("store1", "store2"):
        cp = _replication_status(deployed, store, old)
        assert cp.returncode == 0, cp.stdout + cp.stderr    # the old secret works before the rotation
    before = _daemon_pids(deployed)
    assert {key for key in RESTARTED if key[1] != "metricsd"} | RELOADED <= set(before)

    probe = SecretProbe(deployed.ca, control_secret, old)
    probe.start()
    started = time.monotonic()
    try:
        cp, elapsed = deployed.deploy("--rotate-secret", "doveadm")
    finally:
        probe.stop.set()
        probe.join()
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr
    # Both stores switched during the run.
    assert set(probe.switched) == {"store1", "store2"}, probe.errors
    if probe.errors:
        print("\nprobes that got no answer: %r" % probe.errors[:5])
    print("\nstores accept the new secret %.1f s and %.1f s into the run; the pair disagreed for %.1f s"
          % (probe.switched["store1"] - started, probe.switched["store2"] - started,
             abs(probe.switched["store1"] - probe.switched["store2"])))
    assert "secret doveadm rotated" in cp.stdout
    with open(control_secret) as f:
        new = f.read()
    assert new != old and len(new) == len(old)
    assert not os.path.exists(control_secret + ".new")

    # Every holder has the new bytes, root's, 0600; the relays have none.
    for host in HOSTS:
        if host in HOLDERS:
            assert deployed.on(host, "cat", SECRET).stdout == new, host
            assert deployed.on(host, "stat", "-c", "%a %U %G", SECRET).stdout.split() == ["600", "root", "root"]
        else:
            assert deployed.on(host, "test", "-e", SECRET, check=False).returncode == 1, host

    # Only the daemons that hold the secret took it; Dovecot by a reload.
    hosts = recap(cp.stdout)
    assert set(hosts) == set(HOSTS)
    after = _daemon_pids(deployed)
    assert set(after) == set(before)
    for key in before:
        if key in RESTARTED:
            assert after[key] != before[key], key
        else:
            assert after[key] == before[key], key
    for host in HOSTS:
        ok, changed, unreachable, failed = hosts[host]
        assert (unreachable, failed) == (0, 0), host
        if host in ("store1", "store2", "proxy1", "proxy2"):
            assert changed == 2, host        # the secret, then `up` (a reload or restarts)
        elif host == "dir1":
            assert changed == 1, host        # the secret only: `user add` reads it on every use
        else:
            assert changed == 0, host
    print("\nrotation of the doveadm secret: %.1f s" % elapsed)

    # The stores' doveadm servers refuse the old secret and take the new one.
    for store in ("store1", "store2"):
        cp = _replication_status(deployed, store, old)
        assert cp.returncode != 0, store
        assert "refused the password" in cp.stderr, cp.stderr
        cp = _replication_status(deployed, store, new)
        assert cp.returncode == 0, cp.stdout + cp.stderr


def test_replication_works_with_the_new_secret(deployed):
    """A message the relay delivers to the pair's store reaches the other
    store: the pair's dsync authenticates with the new secret."""
    message_id = "<%s@outside.test>" % uuid.uuid4()
    message = ("From: sender@outside.test\r\nTo: %s\r\nSubject: after rotation\r\nMessage-ID: %s\r\n\r\n"
               "replicated with the new doveadm secret\r\n" % (USER, message_id))
    with in_netns(PREFIX + "-client"):
        with smtplib.SMTP(HOSTS["relay1"], 25, timeout=120) as s:
            s.ehlo("client.outside.test")
            assert s.sendmail("sender@outside.test", [USER], message) == {}
    deadline = time.monotonic() + 180
    counts = {}
    while time.monotonic() < deadline:
        counts = {store: _store_count(deployed, store, message_id) for store in ("store1", "store2")}
        if all(counts.values()):
            break
        time.sleep(2)
    assert counts == {"store1": 1, "store2": 1}


def test_deploy_after_the_rotation_changes_nothing(deployed):
    before = _daemon_pids(deployed)
    cp, elapsed = deployed.deploy()
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr
    hosts = recap(cp.stdout)
    assert set(hosts) == set(HOSTS)
    for host, (ok, changed, unreachable, failed) in hosts.items():
        assert (changed, unreachable, failed) == (0, 0, 0), host
    assert _daemon_pids(deployed) == before


def test_unknown_secret_is_refused_before_anything_changes(deployed):
    control_secret = os.path.join(deployed.control, "secrets", "doveadm-password")
    with open(control_secret) as f:
        kept = f.read()
    cp, _ = deployed.deploy("--rotate-secret", "ca-key")
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert "the secrets that can be rotated are: doveadm" in cp.stderr
    assert recap(cp.stdout) == {}                     # ansible-playbook never ran
    with open(control_secret) as f:
        assert f.read() == kept
