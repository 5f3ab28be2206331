"""The administration tool: site file checking and rendering (A6, X4), the
lifecycle commands (A5, O1) and user management effective immediately (U1, U6)."""

import imaplib
import os
import poplib
import re
import smtplib
import subprocess
import threading

import pytest

from conftest import GOOD_SITE, POP3_SSL, SMTP, SMTP_SSL, imap_connect

# --- check -------------------------------------------------------------------------


def _site_file(tmp_path, text, name="site.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _replace_line(n, new):
    lines = GOOD_SITE.splitlines(keepends=True)
    lines[n - 1] = new + "\n"
    return "".join(lines)


def _insert_line(n, new):
    lines = GOOD_SITE.splitlines(keepends=True)
    lines.insert(n - 1, new + "\n")
    return "".join(lines)


def test_check_good_site(site, tmp_path):
    """A6: `check` on the contract's small-site file exits 0 and prints no error."""
    r = site.run("check", "--site", _site_file(tmp_path, GOOD_SITE), state=False)
    assert r.rc == 0, r
    assert not re.search(r":\d+:\d+:", r.err), r


BROKEN = {
    # name: (text, (line, column) the error must name: the offending key or value)
    "yaml-syntax": (_replace_line(7, "quota: default: 1G"), (7, 15)),
    "unknown-top-key": (_insert_line(8, "colour: blue"), (8, 1)),
    "unknown-nested-key": (_replace_line(7, "quota: {default: 1G, grace: 10%, colour: blue}"), (7, 34)),
    "roles-wrong-type": (_replace_line(5, "  - {name: mail, address: 127.0.0.1, roles: 5}"), (5, 45)),
    "unknown-role": (_replace_line(5, "  - {name: mail, address: 127.0.0.1, roles: [relay, mixer]}"), (5, 53)),
    "bad-domain": (_replace_line(2, 'domains: ["exa mple..test"]'), (2, 11)),
    "bad-quota-size": (_replace_line(7, "quota: {default: lots, grace: 10%}"), (7, 18)),
    "quota-too-large": (_replace_line(7, "quota: {default: 8388608T, grace: 10%}"), (7, 18)),
    "bad-address": (_replace_line(5, "  - {name: mail, address: 999.1.1.1, roles: [relay, proxy, store, directory]}"), (5, 27)),
    # a key given twice: at the second (libyaml keeps both silently)
    "duplicate-top-key": (_insert_line(8, "quota: {default: 2G}"), (8, 1)),
    "duplicate-nested-key": (_replace_line(7, "quota: {default: 1G, grace: 10%, default: 2G}"), (7, 34)),
    "duplicate-host-key": (_replace_line(5, "  - {name: mail, address: 127.0.0.1, address: 127.0.0.2, roles: [relay, proxy, store, directory]}"), (5, 38)),
    # rules over several fields: at the field, not at the top of the file
    "roles-missing": (_replace_line(5, "  - {name: mail, address: 127.0.0.1, roles: [relay, proxy]}"), (4, 1)),
    "port-clash": (_insert_line(8, "ports: {smtp: 2525, imap: 2525}"), (8, 27)),
    "greylist-not-ours": (_insert_line(8, "policy: {greylist: {domains: [other.test]}}"), (8, 31)),
    "admin-hosts-one-host": (_insert_line(8, "admin_hosts: [192.0.2.0/24]"), (8, 1)),
    # issue 11: where postmaster@ and abuse@ go
    "admin-address-bad": (_insert_line(8, "admin_address: not-an-address"), (8, 16)),
    "admin-address-loop": (_insert_line(8, "admin_address: postmaster@example.test"), (8, 16)),
    "admin-address-required": (_replace_line(9, "demo_users: false"), (9, 13)),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_check_broken_site_names_line(site, tmp_path, case):
    """A6, X4: `check` on a broken site file exits 1 with `FILE:LINE:COL: message` naming the faulty line."""
    text, (line, col) = BROKEN[case]
    path = _site_file(tmp_path, text, name=case + ".yaml")
    r = site.run("check", "--site", path, state=False)
    assert r.rc == 1, r
    pat = re.compile(r"^%s:(\d+):(\d+): \S.*" % re.escape(path), re.M)
    found = [(int(a), int(b)) for a, b in pat.findall(r.err)]
    assert found, "no FILE:LINE:COL: line on stderr: %r" % r
    assert (line, col) in found, "expected %d:%d, got %s\n%r" % (line, col, found, r)
    assert found == sorted(found), "errors not sorted by line and column: %s\n%r" % (found, r)


def test_check_reports_every_error_sorted(site, tmp_path):
    """X4: every error of a site file at once, each at its field and sorted by line and column,
    whatever the order the checks run in (rules over several fields run after the walk)."""
    text = _insert_line(2, "policy: {greylist: {domains: [other.test]}}")
    text += "colour: blue\nquota: {default: 2G}\n"
    path = _site_file(tmp_path, text, name="many.yaml")
    r = site.run("check", "--site", path, state=False)
    assert r.rc == 1, r
    pat = re.compile(r"^%s:(\d+):(\d+): \S.*" % re.escape(path), re.M)
    found = [(int(a), int(b)) for a, b in pat.findall(r.err)]
    assert found == [(2, 31), (11, 1), (12, 1)], r


def test_check_missing_file(site, tmp_path):
    """X4, U6: `check` on a missing file fails with a clear `emailng:` message."""
    r = site.run("check", "--site", str(tmp_path / "nope.yaml"), state=False)
    assert r.rc == 1, r
    assert "nope.yaml" in r.err, r


# --- render ------------------------------------------------------------------------


def _tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if not os.path.isfile(p) or os.path.islink(p):
                continue
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


@pytest.fixture(scope="module")
def rendered(site, tmp_path_factory):
    base = tmp_path_factory.mktemp("render")
    path = _site_file(base, GOOD_SITE)
    outs = []
    for n in (1, 2):
        out = str(base / ("out%d" % n))
        r = site.run("render", "--site", path, "--out", out)
        assert r.rc == 0, r
        outs.append(out)
    return outs


def test_render_is_deterministic(rendered):
    """A6: two renders of the same site file give the same files, byte for byte."""
    a, b = (_tree(d) for d in rendered)
    assert a, "render wrote nothing"
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k] == b[k], "render differs in %s" % k
    for f in ("mail/postfix/main.cf", "mail/dovecot/dovecot.conf", "mail/slapd/slapd.conf"):
        assert f in a, sorted(a)


def test_render_matches_running_config(site, tmp_path):
    """A5, A6: `render` of the contract's small-site file (the built-in default `up` used) writes
    exactly the configuration the daemons run with (DIR/etc)."""
    out = str(tmp_path / "out")
    r = site.run("render", "--site", _site_file(tmp_path, GOOD_SITE), "--out", out)
    assert r.rc == 0, r
    running = _tree(os.path.join(site.state, "etc"))
    fresh = _tree(out)
    assert sorted(fresh) == sorted(running)
    for k in fresh:
        assert fresh[k] == running[k], "running config differs from render in %s" % k


def test_state_keeps_copy_of_site_file(site, tmp_path):
    """A6 (docs/internals.md "State directory"): DIR/site.yaml is the site file `up` used (here the
    built-in default); it passes `check`, and rendering it gives the running configuration."""
    path = os.path.join(site.state, "site.yaml")
    assert os.path.isfile(path), "no %s after up" % path
    assert site.run("check", "--site", path, state=False).rc == 0
    out = str(tmp_path / "out")
    site.run("render", "--site", path, "--out", out, check=True)
    assert _tree(out) == _tree(os.path.join(site.state, "etc"))


def test_render_contains_no_secret(site, rendered):
    """A6, X3: no demo password appears in any rendered file."""
    tree = _tree(rendered[0])
    for user, pw in site.passwords.items():
        for name, data in tree.items():
            assert pw.encode() not in data, "password of %s in %s" % (user, name)


def _tool(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_rendered_postfix_config_valid(rendered):
    """A6: the rendered main.cf passes `postconf -c DIR -n` without warnings."""
    cp = _tool(["postconf", "-c", os.path.join(rendered[0], "mail", "postfix"), "-n"])
    assert cp.returncode == 0, cp
    assert "warning" not in cp.stderr and "fatal" not in cp.stderr, cp.stderr
    assert "myhostname = mail.example.test" in cp.stdout, cp.stdout


def test_rendered_dovecot_config_valid(rendered):
    """A6: the rendered dovecot.conf passes `doveconf -c FILE -n`."""
    cp = _tool(["doveconf", "-c", os.path.join(rendered[0], "mail", "dovecot", "dovecot.conf"), "-n"])
    assert cp.returncode == 0, cp
    assert "Error" not in cp.stderr and "Fatal" not in cp.stderr, cp.stderr


def test_rendered_slapd_config_valid(rendered):
    """A6: the rendered slapd.conf passes `slaptest -f FILE -u`."""
    cp = _tool(["slaptest", "-f", os.path.join(rendered[0], "mail", "slapd", "slapd.conf"), "-u"])
    assert cp.returncode == 0, cp


# --- lifecycle ---------------------------------------------------------------------


EXPECTED_PORTS = {"slapd": set(), "dovecot": {143, 993, 110, 995, 4190}, "postfix": {25, 587, 465}}


def test_status_json_lists_services_up(site):
    """O1: `status --json` lists slapd, dovecot and postfix up, with live pids, ports, rss and the queue."""
    svcs = site.services()
    assert set(EXPECTED_PORTS) <= set(svcs), svcs
    for name, ports in EXPECTED_PORTS.items():
        s = svcs[name]
        assert s["state"] == "up", s
        assert isinstance(s["pid"], int) and s["pid"] > 1, s
        assert os.path.exists("/proc/%d" % s["pid"]), s
        assert ports <= set(s["ports"]), s
        assert isinstance(s["rss_kb"], int) and s["rss_kb"] > 0, s
        assert isinstance(s["pss_kb"], int) and 0 < s["pss_kb"] <= s["rss_kb"], s
    assert isinstance(svcs["postfix"]["queue"], int), svcs["postfix"]


def test_status_text(site):
    """O1: plain `status` names each service and its state."""
    r = site.run("status", check=True)
    for name in EXPECTED_PORTS:
        assert name in r.out, r


def test_up_again_changes_nothing(site):
    """A5: `up` while everything is up says "already" and changes nothing (same pids, same
    configuration and TLS files, untouched)."""
    def files():
        out = {}
        for sub in ("etc", "tls", "secrets"):
            for d, _, names in os.walk(os.path.join(site.state, sub)):
                for n in names:
                    st = os.stat(os.path.join(d, n))
                    out[os.path.join(d, n)] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return out
    before = {n: s["pid"] for n, s in site.services().items()}
    files_before = files()
    r = site.run("up")
    assert r.rc == 0, r
    assert "already" in (r.out + r.err).lower(), r
    after = {n: s["pid"] for n, s in site.services().items()}
    assert after == before
    assert files() == files_before


# --- users ---------------------------------------------------------------------------


def _imap_login_ok(site, user, pw, port=143):
    try:
        m = imap_connect(site, user, pw, port=port)
    except imaplib.IMAP4.error:
        return False
    m.logout()
    return True


def _pop3_login_ok(site, user, pw):
    p = POP3_SSL(site, 995)
    try:
        p.user(user)
        p.pass_(pw)
        return True
    except poplib.error_proto:
        return False
    finally:
        p.close()


def _smtp_auth_ok(site, user, pw):
    with SMTP_SSL(site, 465) as s:
        s.ehlo("client.e2e.test")
        try:
            s.login(user, pw)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def _rcpt(user):
    with SMTP(25, timeout=30) as s:
        s.ehlo("client.e2e.test")
        assert s.mail("bob@example.test")[0] == 250
        r = s.rcpt(user)
        s.rset()
        return r


def _watch_argv(secret, stop, hits):
    """Scan every process's argv for secret until stop is set."""
    needle = secret.encode()
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if needle in f.read():
                        hits.append(pid)
            except OSError:
                pass


def _run_watched(site, secret, *args, stdin):
    stop, hits = threading.Event(), []
    t = threading.Thread(target=_watch_argv, args=(secret, stop, hits), daemon=True)
    t.start()
    try:
        r = site.run(*args, stdin=stdin)
    finally:
        stop.set()
        t.join()
    return r, hits


def test_user_lifecycle_effective_immediately(site):
    """U1, U6: `user add/show/list/passwd/del` take effect at once for SMTP, IMAP and POP3."""
    user = "%s@example.test" % site.unique("life")
    pw1, pw2 = "First-" + site.unique("pw"), "Second-" + site.unique("pw")

    r = site.run("user", "add", user, "--password-stdin", stdin=pw1 + "\n")
    assert r.rc == 0, r
    assert user in site.run("user", "list", check=True).out.split()
    assert user in site.run("user", "show", user, check=True).out
    assert _imap_login_ok(site, user, pw1), "new user cannot log in over IMAP right after add"
    assert _pop3_login_ok(site, user, pw1)
    assert _smtp_auth_ok(site, user, pw1)
    assert _rcpt(user)[0] == 250

    r = site.run("user", "add", user, "--password-stdin", stdin="whatever\n")
    assert r.rc == 1 and r.err.startswith("emailng: "), r

    r = site.run("user", "passwd", user, "--password-stdin", stdin=pw2 + "\n")
    assert r.rc == 0, r
    assert not _imap_login_ok(site, user, pw1), "old password still works over IMAP after passwd"
    assert _imap_login_ok(site, user, pw2)
    assert not _pop3_login_ok(site, user, pw1)
    assert _pop3_login_ok(site, user, pw2)
    assert not _smtp_auth_ok(site, user, pw1)
    assert _smtp_auth_ok(site, user, pw2)

    r = site.run("user", "del", user)
    assert r.rc == 0, r
    code, msg = _rcpt(user)
    assert code == 550 and msg.startswith(b"5.1.1"), (code, msg)
    assert not _imap_login_ok(site, user, pw2)
    assert user not in site.run("user", "list", check=True).out.split()
    r = site.run("user", "show", user)
    assert r.rc == 1 and r.err.startswith("emailng: "), r


def test_passwords_never_on_argv_nor_in_files(site):
    """U6, X3: with --password-stdin no process ever has the password on its command line,
    and it is not written to the rendered config or the logs."""
    user = "%s@example.test" % site.unique("argv")
    pw1, pw2 = "Secret1-" + site.unique("pw"), "Secret2-" + site.unique("pw")
    r, hits = _run_watched(site, pw1, "user", "add", user, "--password-stdin", stdin=pw1 + "\n")
    assert r.rc == 0, r
    assert not hits, "password seen on argv of pids %s" % hits
    r, hits = _run_watched(site, pw2, "user", "passwd", user, "--password-stdin", stdin=pw2 + "\n")
    assert r.rc == 0, r
    assert not hits, "password seen on argv of pids %s" % hits
    assert pw1 not in r.out + r.err and pw2 not in r.out + r.err
    assert _imap_login_ok(site, user, pw2)
    for sub in ("etc", "log", "run"):
        for name, data in _tree(os.path.join(site.state, sub)).items() if os.path.isdir(
                os.path.join(site.state, sub)) else ():
            assert pw1.encode() not in data and pw2.encode() not in data, "password in %s/%s" % (sub, name)
    site.run("user", "del", user, check=True)


def test_usage_error_exit_2(site):
    """U6: a usage error (unknown subcommand, missing argument) exits 2 with a message on stderr."""
    r = site.run("user", "frobnicate")
    assert r.rc == 2 and r.err.strip(), r
    r = site.run("alias", "add")
    assert r.rc == 2 and r.err.strip(), r


def test_secrets_and_keys_private(site):
    """X3 (docs/internals.md "State directory"): DIR/secrets is 0700 root, demo-passwords and the
    private keys are 0600 root; the CA certificate is readable."""
    import stat

    def mode(*p):
        st = os.stat(os.path.join(site.state, *p))
        return stat.S_IMODE(st.st_mode), st.st_uid
    assert mode("secrets") == (0o700, 0)
    assert mode("secrets", "demo-passwords") == (0o600, 0)
    assert mode("tls", "ca.key") == (0o600, 0)
    assert mode("tls", "server.key") == (0o600, 0)
    assert mode("tls", "ca.crt")[0] & 0o044 == 0o044
