"""Migration on a store pair (issue 15, M1 with M3): `emailng import run`
writes on the pair's first store (store1); replication must bring every
imported message to store2 too. A maildir tree (two folders, flags,
keywords, a non-ASCII folder name) is imported for a new user; then each
store's doveadm lists the user's messages (folder, UID, flags,
INTERNALDATE, sha256 of the bytes) and the two lists must be equal and
hold every message of the tree."""

import hashlib
import json
import os
import subprocess
import uuid

from clients import wait_same
from conftest import DOMAIN

REPLICATION_TIMEOUT = 150


def _messages(site, host, user):
    conf = os.path.join(site.state, "etc", host, "dovecot", "dovecot.conf")
    cp = subprocess.run(["ip", "netns", "exec", "%s-%s" % (site.prefix, host), "doveadm", "-f", "json", "-c", conf,
                         "fetch", "-u", user, "mailbox uid flags date.received text", "all"],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, (host, cp.stderr)
    rows = json.loads(cp.stdout or "[]")
    return sorted((r["mailbox"], int(r["uid"]), " ".join(sorted(r["flags"].replace("\\Recent", "").split())),
                   r["date.received"], hashlib.sha256(r["text"].encode()).hexdigest()) for r in rows)


def _tree(root):
    def put(folder, name, data, mtime):
        d = os.path.join(root, folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        path = os.path.join(d, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "dovecot-keywords"), "w") as f:
        f.write("0 $Label1\n")
    for i in range(20):
        put("", "%d.M%dP1.old:2,%s" % (1600000000 + i, i, "S" if i % 2 else "Fa"),
            b"Subject: old %d\nMessage-ID: <ha-import-%d@old.test>\n\nbody %d\n" % (i, i, i), 1500000000 + i)
    put(".Archiv.&AMQ-lter", "1600000100.M100P1.old:2,RS", b"Subject: in a subfolder\n\nbody\n", 1400000000)
    subprocess.run(["chown", "-R", "vmail:vmail", root], check=True)
    return 21


def test_imported_mail_is_on_both_stores(ha):
    """M1, M3: a user's maildir imported on store1 is on store2 as well, message for message (folder,
    UID, flags, INTERNALDATE, bytes), and the report counts every message of the tree."""
    user = "import-%s@%s" % (uuid.uuid4().hex[:8], DOMAIN)
    ha.emailng("user", "add", user, "--password-stdin", input="Pw-%s\n" % uuid.uuid4().hex)
    tree = os.path.join(ha.state, "import-tree-" + uuid.uuid4().hex[:6])
    expected = _tree(tree)
    lst = os.path.join(ha.state, "import.list")
    with open(lst, "w") as f:
        f.write("%s maildir %s\n" % (user, tree))
    cp = ha.emailng("import", "run", lst)
    assert "messages=%d " % expected in cp.stdout and "into store store1" in cp.stdout, cp.stdout
    first = _messages(ha, "store1", user)
    assert len(first) == expected, first
    assert any(m[0] == "Archiv/Älter" for m in first), first
    second = wait_same(lambda: _messages(ha, "store2", user), first, REPLICATION_TIMEOUT)
    assert second == first, "store2 after %ds:\n%r\nstore1:\n%r" % (REPLICATION_TIMEOUT, second, first)
