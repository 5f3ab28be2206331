"""`emailng deploy` of the full topology onto separate hosts over SSH
(issue 12, M2/M3): every host installed and started from the control host,
mail flowing through the deployed relays and proxies, a second run that
changes and restarts nothing, and hosts that share no files."""

import imaplib
import json
import os
import shutil
import smtplib
import ssl
import subprocess
import time
import uuid

from conftest import DATADIR, EMAILNG, HOSTS, PREFIX, ROLES, in_netns, recap

DOMAIN = "example.test"


def test_first_deploy_succeeds_on_every_host(deployed):
    elapsed, cp = deployed.runs[0]
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr
    hosts = recap(cp.stdout)
    assert set(hosts) == set(HOSTS)
    for host, (ok, changed, unreachable, failed) in hosts.items():
        assert (unreachable, failed) == (0, 0), host
        assert changed > 0, host         # fresh hosts: files pushed, daemons started
    print("\nfirst deploy: %.1f s" % elapsed)


def test_generated_ansible_is_lint_clean(deployed):
    tree = os.path.join(deployed.control, "ansible")
    for name in ("inventory.yml", "site.yml", "ansible.cfg"):
        assert os.path.isfile(os.path.join(tree, name)), name
    assert sorted(os.listdir(os.path.join(tree, "roles"))) == ["directory", "emailng_host", "proxy", "relay",
                                                                "store"]
    cp = subprocess.run(["ansible-lint", "--offline", tree], capture_output=True, text=True, timeout=300,
                        cwd=deployed.root)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def _password(deployed, address):
    out = deployed.on("dir1", "cat", "/var/lib/emailng/secrets/demo-passwords").stdout
    return dict(line.split() for line in out.splitlines())[address]


def _imap_count(deployed, address, password, message_id):
    ctx = ssl.create_default_context(cafile=deployed.ca)      # the site CA, hostname checked (the address)
    m = imaplib.IMAP4_SSL(HOSTS["proxy1"], 993, ssl_context=ctx, timeout=30)
    try:
        m.login(address, password)
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "HEADER", "Message-ID", message_id)
        assert typ == "OK"
        return len(data[0].split())
    finally:
        m.logout()


def test_mail_by_mx_is_read_through_the_proxy(deployed):
    address = "alice@" + DOMAIN
    password = _password(deployed, address)
    message_id = "<%s@outside.test>" % uuid.uuid4()
    message = ("From: sender@outside.test\r\nTo: %s\r\nSubject: deployed\r\nMessage-ID: %s\r\n\r\n"
               "through relay1 and proxy1 on separate hosts\r\n" % (address, message_id))
    with in_netns(PREFIX + "-client"):
        with smtplib.SMTP(HOSTS["relay1"], 25, timeout=120) as s:
            s.ehlo("client.outside.test")
            refused = s.sendmail("sender@outside.test", [address], message)
        assert refused == {}
        deadline = time.monotonic() + 120
        count = 0
        while time.monotonic() < deadline:
            count = _imap_count(deployed, address, password, message_id)
            if count:
                break
            time.sleep(1)
        time.sleep(2)                    # a duplicate would follow within moments
        count = _imap_count(deployed, address, password, message_id)
    assert count == 1


def _daemon_pids(deployed):
    pids = {}
    for host in HOSTS:
        out = deployed.emailng_on(host, "--host", host, "status", "--json").stdout
        for h in json.loads(out)["hosts"]:
            for svc in h["services"]:
                assert svc["state"] == "up", (host, svc)
                pids[(host, svc["name"])] = svc["pid"]
    return pids


def test_second_deploy_changes_nothing_and_restarts_nothing(deployed):
    before = _daemon_pids(deployed)
    assert len(before) > 30
    cp, elapsed = deployed.deploy()
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr
    hosts = recap(cp.stdout)
    assert set(hosts) == set(HOSTS)
    for host, (ok, changed, unreachable, failed) in hosts.items():
        assert (changed, unreachable, failed) == (0, 0, 0), host
    assert _daemon_pids(deployed) == before
    print("\nsecond deploy: %.1f s" % elapsed)


# What each role gets from the control host (cmd_deploy.c's table).
SECRETS = {"directory": {"healthd-probe", "doveadm-password"}, "store": {"doveadm-password"},
           "proxy": {"doveadm-password", "healthd-probe"}, "relay": {"srs-secret", "dkim"}}


def test_hosts_share_no_files(deployed):
    # A file one host writes is seen by no other.
    for host in HOSTS:
        deployed.on(host, "sh", "-c", "echo %s > /etc/marker-%s && echo %s > /var/lib/emailng/marker-%s"
                    % (host, host, host, host))
    for host in HOSTS:
        listing = deployed.on(host, "ls", "/etc", "/var/lib/emailng").stdout.split()
        markers = {name for name in listing if name.startswith("marker-")}
        assert markers == {"marker-" + host}, host
        assert deployed.on(host, "cat", "/etc/hostname").stdout.strip() == host
    for host, role in ROLES.items():
        # Only its own certificates; the CA key is on no host.
        tls = deployed.on(host, "ls", "/var/lib/emailng/tls").stdout.split()
        assert sorted(tls) == sorted(["ca.crt", host]), host
        # Only the secrets of its role (the directory makes its demo passwords itself).
        secrets = set(deployed.on(host, "ls", "/var/lib/emailng/secrets").stdout.split())
        own = {"demo-passwords"} if role == "directory" else set()
        assert secrets == SECRETS[role] | own, host
        mode = deployed.on(host, "stat", "-c", "%a %U", "/var/lib/emailng/secrets").stdout.split()
        assert mode == ["700", "root"], host
    assert not os.path.exists("/etc/marker-dir1")


def _rendered_hosts_that_differ(deployed, site_a, site_b):
    """The hosts whose rendered configuration differs between two site files."""
    outs = []
    for name, site in (("a", site_a), ("b", site_b)):
        out = os.path.join(deployed.root, "render-" + name)
        subprocess.run([EMAILNG, "--state", os.path.join(deployed.root, "render-state"), "--site", site,
                        "render", "--out", out], check=True, capture_output=True, timeout=120,
                       env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
        outs.append(out)
    differ = set()
    for host in HOSTS:
        cp = subprocess.run(["diff", "-rq", os.path.join(outs[0], host), os.path.join(outs[1], host)],
                            capture_output=True)
        if cp.returncode != 0:
            differ.add(host)
    return differ


def _served_certificate(address, port):
    with in_netns(PREFIX + "-client"):
        return ssl.get_server_certificate((address, port), timeout=30)


def _der(pem):
    return ssl.PEM_cert_to_DER_cert(pem)


def test_changed_site_and_rotated_certificate_restart_only_what_uses_them(deployed):
    """Runs last: it changes the deployed site (SRS off: the relays'
    business) and rotates proxy1's server certificate on the control host
    (its files removed there: deploy issues a new one and pushes it)."""
    before = _daemon_pids(deployed)
    old = os.path.join(deployed.root, "site-before.yaml")
    shutil.copy(deployed.site, old)
    with open(deployed.site) as f:
        text = f.read()
    assert "\nsrs: {enabled: true}\n" in text
    with open(deployed.site, "w") as f:
        f.write(text.replace("\nsrs: {enabled: true}\n", "\nsrs: {enabled: false}\n"))
    differ = _rendered_hosts_that_differ(deployed, old, deployed.site)
    assert differ == {"relay1", "relay2"}
    crt = os.path.join(deployed.control, "tls", "proxy1", "server.crt")
    with open(crt) as f:
        old_cert = f.read()
    assert _der(_served_certificate(HOSTS["proxy1"], 993)) == _der(old_cert)
    os.unlink(crt)
    os.unlink(os.path.join(deployed.control, "tls", "proxy1", "server.key"))

    cp, elapsed = deployed.deploy()
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr
    hosts = recap(cp.stdout)
    after = _daemon_pids(deployed)
    for host in HOSTS:
        mine_before = {k: v for k, v in before.items() if k[0] == host}
        mine_after = {k: v for k, v in after.items() if k[0] == host}
        if host in differ:
            assert hosts[host][1] >= 2, host          # the site file, then `up`
            assert (host, "postsrsd") in mine_before and (host, "postsrsd") not in mine_after
        elif host == "proxy1":
            assert hosts[host][1] >= 3, host          # the site file, the certificate, then `up`
            assert mine_after[(host, "dovecot")] != mine_before[(host, "dovecot")]
        else:
            assert hosts[host][1] == 1, host          # only the site file; `up`: nothing changed
            assert mine_after == mine_before, host
    with open(crt) as f:
        new_cert = f.read()
    assert new_cert != old_cert
    served = _served_certificate(HOSTS["proxy1"], 993)
    assert _der(served) == _der(new_cert)
    assert _der(_served_certificate(HOSTS["proxy2"], 993)) != _der(new_cert)
    print("\ndeploy of a changed site file and a rotated certificate: %.1f s" % elapsed)
