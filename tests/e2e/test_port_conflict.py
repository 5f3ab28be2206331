"""A port already held by another daemon (on a real Debian host: the packaged
postfix/dovecot/slapd services) stops `emailng up` with a message that names
the port, the process holding it and exactly what to do (DEVELOPERS: "detect
that and say exactly what to do; never fail obscurely"). A5, X4."""

import os
import re
import shutil
import tempfile

from conftest import Site


def test_port_held_by_other_daemon_is_named_with_the_fix(site):
    """A second site on the same address finds the running instance's Dovecot on
    port 143 and refuses to start, naming pid and program and the systemctl
    command; the running instance is untouched."""
    before = site.services()
    other_state = tempfile.mkdtemp(prefix="emailng-conflict-")
    os.chmod(other_state, 0o755)
    other = Site(other_state)
    try:
        r = other.run("up", timeout=120)
        assert r.rc == 1, repr(r)
        dovecot_pid = before["dovecot"]["pid"]
        assert re.search(r"port 143 on 127\.0\.0\.1 \(imap for dovecot\) is already in use by pid %d "
                         r"\(dovecot\)" % dovecot_pid, r.err), r.err
        assert "Debian's packaged dovecot service" in r.err, r.err
        assert "systemctl disable --now dovecot" in r.err, r.err
        assert "then run `emailng up` again" in r.err, r.err
    finally:
        other.run("down", timeout=120)
        shutil.rmtree(other_state, ignore_errors=True)
    after = site.services()
    for name in ("slapd", "dovecot", "postfix"):
        assert after[name]["pid"] == before[name]["pid"], (name, before[name], after[name])
