"""The administrator's tool itself (U6, O3): help for every command and subcommand, the
version, exit codes (0 done, 1 failed, 2 usage), --json for every listing, errors printed
once and hostile input never echoed in full, the man page and bash completion."""

import json
import os
import re
import subprocess

import pytest

from conftest import DATADIR, EMAILNG, REPO


def _words(site):
    r = site.run("help", "--words", state=False, check=True)
    return [line.split() for line in r.out.splitlines() if line.strip()]


def test_help_for_every_command_and_subcommand(site):
    """U6: `emailng help`, `emailng COMMAND --help` and `emailng COMMAND SUB --help` all answer, exit 0."""
    r = site.run("help", state=False)
    assert r.rc == 0 and r.out.startswith("usage: emailng"), r
    words = _words(site)
    assert {w[0] for w in words} >= {"up", "down", "status", "check", "render", "user", "alias", "quarantine",
                                     "node", "replication", "help"}
    for command, *subs in words:
        for flag in ("--help", "-h"):
            r = site.run(command, flag, state=False)
            assert r.rc == 0 and "emailng %s" % command in r.out and r.err == "", r
        for sub in subs:
            r = site.run(command, sub, "--help", state=False)
            assert r.rc == 0 and r.out.startswith("usage: emailng %s %s" % (command, sub)), r
            assert site.run("help", command, sub, state=False).out == r.out


def test_version(site):
    r = site.run("--version", state=False)
    assert r.rc == 0 and re.fullmatch(r"emailng \d+\.\d+\.\d+\n", r.out), r


@pytest.mark.parametrize("argv", [
    ("bogus",),
    ("user",),
    ("user", "frobnicate"),
    ("user", "add"),
    ("user", "add", "a@example.test", "--colour"),
    ("alias", "add", "x@example.test"),
    ("status", "extra"),
    ("check",),
    ("quarantine", "release", "../../etc/passwd"),
    ("--state",),
    ("help", "bogus"),
])
def test_usage_errors_exit_2_with_one_message(site, argv):
    """U6: every usage error exits 2 and says what is wrong once (one `emailng:` line)."""
    r = site.run(*argv)
    assert r.rc == 2, r
    assert r.err.count("emailng:") == 1 or (r.err.startswith("usage:") and "emailng:" not in r.err), r
    assert r.out == "", r


@pytest.mark.parametrize("argv", [
    ("user", "add", "{junk}@example.test", "--password-stdin"),
    ("user", "del", "{junk}"),
    ("alias", "add", "{junk}@example.test", "alice"),
    ("user", "spam", "alice", "--deny", "{junk}"),
    ("{junk}",),
    ("user", "{junk}"),
    ("quarantine", "delete", "{junk}"),
])
def test_hostile_input_never_echoed_in_full(site, argv):
    """X4, U6: 10,000 bytes of junk (with control characters) in any word: a short error that
    quotes at most 80 bytes and gives the length; nothing raw, exit 1 or 2."""
    junk = ("\x1b[2J" + "A*(\x07" * 2500)[:10000]
    r = site.run(*[a.replace("{junk}", junk) for a in argv], stdin="Pw-junk-12345\n")
    assert r.rc in (1, 2), r
    assert len(r.err) < 1200, "stderr is %d bytes" % len(r.err)
    assert "\x1b" not in r.err and "\x07" not in r.err, r.err
    assert "bytes)" in r.err, r.err


def test_json_listings(site, alice, bob):
    """U6: user list, alias list and quarantine list give JSON with --json (node and replication
    say they are not applicable on the one-host site, exit 0)."""
    users = json.loads(site.run("user", "list", "--json", check=True).out)["users"]
    found = {u["address"]: u for u in users}
    assert alice[0] in found and found[alice[0]]["status"] == "active", users
    assert found[alice[0]]["quota_bytes"] is None     # the site default

    alias = "%s@example.test" % site.unique("json")
    site.run("alias", "add", alias, alice[0], bob[0], check=True)
    aliases = json.loads(site.run("alias", "list", "--json", check=True).out)["aliases"]
    assert {"address": alias, "members": [alice[0], bob[0]], "status": "active"} in aliases, aliases
    site.run("alias", "del", alias, check=True)

    q = json.loads(site.run("quarantine", "list", "--json", check=True).out)
    assert [r["name"] for r in q["relays"]] == ["mail"] and isinstance(q["relays"][0]["messages"], list), q

    for argv in (("node", "list"), ("replication", "status")):
        r = site.run(*argv)
        assert r.rc == 0 and "not applicable to a one-host site" in r.out, r
    r = site.run("node", "drain", "mail")
    assert r.rc == 1 and "not applicable to a one-host site" in r.err, r


def test_status_exit_code_says_all_up(site):
    """O1: `status` exits 0 when everything is up (1 when something is down: test_filter_pipeline)."""
    r = site.run("status")
    assert r.rc == 0, r


def test_man_page_covers_every_command(site):
    """O3: emailng(8) formats without warnings and documents every command of the tool."""
    page = os.path.join(REPO, "docs", "man", "emailng.8")
    cp = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True, text=True)
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr
    text = subprocess.run(["man", "-l", page], capture_output=True, text=True,
                          env=dict(os.environ, MANWIDTH="200")).stdout
    for command, *subs in _words(site):
        assert re.search(r"^\s+%s\b" % command, text, re.M), "emailng(8) lacks %s" % command
        for sub in subs:
            assert "%s %s" % (command, sub) in text or "%s" % sub in text, "emailng(8) lacks %s %s" % (command, sub)


def _complete(line):
    """COMPREPLY of the installed completion function for a command line (the cursor at its end)."""
    script = os.path.join(REPO, "scripts", "emailng.bash-completion")
    words = line.split(" ")
    prog = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _emailng; printf "%%s\\n" "${COMPREPLY[@]}"'
            % (script, " ".join("'%s'" % w for w in [EMAILNG] + words[1:]), len(words) - 1))
    cp = subprocess.run(["bash", "-c", prog], capture_output=True, text=True,
                        env=dict(os.environ, EMAILNG_DATADIR=DATADIR))
    assert cp.returncode == 0, cp.stderr
    return sorted(w for w in cp.stdout.split("\n") if w)


def test_bash_completion(site):
    """U6: bash completion offers the commands, a command's subcommands, and the options."""
    assert _complete("emailng us") == ["user"]
    assert _complete("emailng user ") == ["add", "del", "list", "move", "passwd", "quota", "show", "spam"]
    assert _complete("emailng user add carol --pa") == ["--pair", "--password-stdin"]
    assert _complete("emailng user move carol pair2 --ab") == ["--abort"]
    assert _complete("emailng --state /tmp/x alias d") == ["del"]
    assert _complete("emailng --js") == ["--json"]
    assert _complete("emailng dkim ") == ["activate", "list", "retire", "rotate"]
    assert _complete("emailng dkim retire example.test --fo") == ["--force"]
    assert _complete("emailng --fo") == []


def test_status_warns_about_test_signatures_only(site):
    """O1, F1: `status` warns while virus scanning has only the built-in test signatures
    (no ClamAV database in filter.signatures), and only then."""
    builtin = os.path.exists(os.path.join(site.state, "data", "mail", "clamav", "db",
                                          "emailng-builtin-test.ndb"))
    r = site.run("status", check=True)
    st = json.loads(site.run("status", "--json", check=True).out)
    said = [w for w in st["warnings"] if "only the built-in test signatures" in w]
    assert bool(said) == builtin, (builtin, st["warnings"])
    assert ("warning: mail: virus scanning uses only the built-in test signatures" in r.out) == builtin, r.out


def test_status_warns_about_a_certificate_expiring_within_21_days(site, tmp_path):
    """O1, X3: a certificate of the site that expires within 21 days is named by `status`."""
    tls = os.path.join(site.state, "tls")
    key, csr = tmp_path / "k.pem", tmp_path / "r.csr"
    crt = os.path.join(tls, "short-lived.crt")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(csr), "-subj", "/CN=short.example.test"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", os.path.join(tls, "ca.crt"),
                    "-CAkey", os.path.join(tls, "ca.key"), "-CAcreateserial", "-days", "5", "-out", crt,
                    "-CAserial", str(tmp_path / "serial")], check=True, capture_output=True)
    try:
        st = json.loads(site.run("status", "--json", check=True).out)
        expiring = [w for w in st["warnings"] if "short-lived.crt" in w]
        assert len(expiring) == 1, st["warnings"]
        assert re.search(r"\(short\.example\.test\) expires in [45] day\(s\)", expiring[0]), expiring
        # The site's own certificates are far from expiry: no warning about them.
        assert not [w for w in st["warnings"] if "server.crt" in w or "ca.crt" in w], st["warnings"]
    finally:
        os.unlink(crt)


def test_status_reports_disk_use_of_mail_and_queues(site):
    """O1: `status --json` gives the fill level of the file system holding mail and queues, as df does."""
    st = json.loads(site.run("status", "--json", check=True).out)
    data = os.path.join(site.state, "data", "mail")
    assert [d["path"] for d in st["disks"]] == [data], st["disks"]
    df = subprocess.run(["df", "--output=pcent", data], capture_output=True, text=True, check=True).stdout
    assert abs(int(df.split()[-1].rstrip("%")) - st["disks"][0]["used_percent"]) <= 1, (df, st["disks"])
