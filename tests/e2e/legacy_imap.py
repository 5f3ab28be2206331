"""The legacy side of the migration tests (issue 15, M1): a Debian Dovecot
that EmailNG does not configure (plain configuration written here, maildir,
hierarchy separator "." and listescape), its contents (IMAP APPENDs with
flags, keywords and INTERNALDATE; a maildir tree with hostile content), and
IMAP snapshots of a mailbox (per message: sha256 of BODY.PEEK[], FLAGS,
INTERNALDATE, size; per folder UIDVALIDITY) compared between the legacy
server and EmailNG. Used by tests/e2e/test_import.py (small site) and
tests/e2e_pairs/test_import_pairs.py (a user on the second store pair)."""

import base64
import hashlib
import imaplib
import os
import re
import shutil
import subprocess
import time
import uuid

LEGACY_PORT = 10143
SEP = "."   # the legacy server's hierarchy separator; EmailNG's is "/"


# --- modified UTF-7 (RFC 3501 5.1.3) for folder names -------------------------------

def mutf7_encode(name):
    out, pending = [], ""

    def flush():
        if pending:
            out.append("&" + base64.b64encode(pending.encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
                       + "-")
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            pending = ""
            out.append("&-" if ch == "&" else ch)
        else:
            pending += ch
    flush()
    return "".join(out)


def mutf7_decode(name):
    def repl(m):
        if m.group(1) == "":
            return "&"
        b = m.group(1).replace(",", "/")
        return base64.b64decode(b + "=" * (-len(b) % 4)).decode("utf-16-be")
    return re.sub(r"&([A-Za-z0-9+,]*)-", repl, name)


def quoted(name):
    return '"%s"' % mutf7_encode(name).replace("\\", "\\\\").replace('"', '\\"')


# --- the legacy server --------------------------------------------------------------

class Legacy:
    """address: where it listens (127.0.0.1 on the small site; the client
    namespace's address in the test fabric, for the stores to reach)."""

    def __init__(self, root, address="127.0.0.1"):
        self.root = root
        self.address = address
        self.conf = os.path.join(root, "dovecot.conf")
        self.log = os.path.join(root, "dovecot.log")
        self.passwd = os.path.join(root, "passwd")
        self.users = {}

    def add_user(self, login, password, mail=None):
        home = os.path.join(self.root, "home", login)
        os.makedirs(home, exist_ok=True)
        shutil.chown(home, "vmail", "vmail")
        self.users[login] = (password, mail or "maildir:~/Maildir", home)
        with open(self.passwd, "w") as f:
            for name, (pw, m, h) in self.users.items():
                f.write("%s:{PLAIN}%s::::%s::userdb_mail=%s\n" % (name, pw, h, m))
        # Dovecot looks at a passwd-file again at most once a second: a
        # login in the same second as the last lookup would not see the user.
        time.sleep(1.1)

    def start(self):
        conf = """\
instance_name = legacy-{pid}
base_dir = {root}/run
state_dir = {root}/state
protocols = imap
listen = {address}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = {root}/dovecot.log
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
  default_fields = uid=vmail gid=vmail
}}
namespace inbox {{
  inbox = yes
  separator = .
}}
mail_plugins = listescape
plugin {{
  listescape_char = "\\\\"
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
imap_logout_format = in=%i out=%o fetch_body_count=%{{fetch_body_count}} fetch_body_bytes=%{{fetch_body_bytes}}
""".format(root=self.root, port=LEGACY_PORT, pid=os.getpid(), address=self.address)
        with open(self.conf, "w") as f:
            f.write(conf)
        # No pipes: the daemon would keep them open and the harness would wait for EOF.
        with open(os.path.join(self.root, "start.err"), "w+") as err:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            assert r.returncode == 0, err.read()
        for _ in range(100):
            try:
                self.connect("probe", None).logout()
            except (OSError, imaplib.IMAP4.error, KeyError):
                time.sleep(0.1)
                continue
            break

    def stop(self):
        subprocess.run(["doveadm", "-c", self.conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def connect(self, login, _unused=None):
        m = imaplib.IMAP4(self.address, LEGACY_PORT)
        if login != "probe":
            m.login(login, self.users[login][0])
        return m

    def log_size(self):
        return os.path.getsize(self.log)

    def body_fetches_since(self, offset):
        """(count, bytes) of message bodies the legacy server sent since offset of its log."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        count = sum(int(x) for x in re.findall(r"fetch_body_count=(\d+)", text))
        size = sum(int(x) for x in re.findall(r"fetch_body_bytes=(\d+)", text))
        return count, size


# --- IMAP snapshots of both sides -----------------------------------------------------

LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?:"(?P<sep>[^"]*)"|NIL) (?P<name>.*)$')


def list_folders(m, command="LIST"):
    typ, data = (m.list if command == "LIST" else m.lsub)('""', "*")
    assert typ == "OK", data
    out = []
    for item in data:
        if isinstance(item, tuple):      # a literal name
            head, name = item[0], item[1]
            flags = LIST_RE.match(head + b'""').group("flags")
        else:
            g = LIST_RE.match(item)
            flags, name = g.group("flags"), g.group("name")
            if name.startswith(b'"'):
                name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        out.append((mutf7_decode(name.decode()), b"\\Noselect" in flags or b"\\NonExistent" in flags))
    return out


FETCH_RE = re.compile(rb'UID (\d+) FLAGS \(([^)]*)\) INTERNALDATE "([^"]+)"')


def snapshot(m, folders=None):
    """{folder: {"uidvalidity": n, "messages": {uid: (sha256, flags, internaldate, size)}}}"""
    snap = {}
    for name, noselect in list_folders(m):
        if noselect or (folders is not None and name not in folders):
            continue
        typ, data = m.select(quoted(name), readonly=True)
        assert typ == "OK", (name, data)
        typ, uv = m.response("UIDVALIDITY")
        messages = {}
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE)")
        assert typ == "OK", data
        for item in data:
            if item is None:
                continue
            line = item[0] if isinstance(item, tuple) else item
            g = FETCH_RE.search(line)
            assert g, line
            uid = int(g.group(1))
            flags = frozenset(f for f in g.group(2).decode().split() if f != "\\Recent")
            typ, body = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
            assert typ == "OK", body
            raw = [p[1] for p in body if isinstance(p, tuple)]
            assert len(raw) == 1, body
            messages[uid] = (hashlib.sha256(raw[0]).hexdigest(), flags, g.group(3).decode(), len(raw[0]))
        snap[name] = {"uidvalidity": int(uv[0]), "messages": messages}
    return snap


def emailng_name(legacy_name):
    """What a legacy folder is called on EmailNG: the hierarchy separator "." becomes "/", a "/"
    inside a name (possible on the legacy server) becomes dsync's replacement character "_"."""
    return legacy_name.replace("/", "_").replace(SEP, "/")


def assert_same(legacy_snap, here_snap, what):
    for name, box in legacy_snap.items():
        target = emailng_name(name)
        assert target in here_snap, "%s: folder %r (legacy %r) missing on EmailNG; there: %r" % (
            what, target, name, sorted(here_snap))
        here = here_snap[target]
        assert here["messages"] == box["messages"], "%s: folder %r differs:\nlegacy %r\nemailng %r" % (
            what, name, box["messages"], here["messages"])
        assert here["uidvalidity"] == box["uidvalidity"], (what, name, box["uidvalidity"], here["uidvalidity"])


# --- the contents -----------------------------------------------------------------------

IMAP_FOLDERS = ["A&B", "dot.ted", "sl/ash", "Ünïcødé ✓"]
SUBSCRIBED = ["A&B", "sl/ash", "Ünïcødé ✓"]       # not dot.ted


def message(n, size=0, extra=b""):
    body = (b"line %d of a legacy message\r\n" % n) * max(1, size // 30)
    return (b"From: Legacy <legacy@old.test>\r\nTo: user@old.test\r\nSubject: legacy %d\r\n"
            b"Message-ID: <legacy-%d-%s@old.test>\r\nDate: Sat, 3 Feb 2001 04:05:06 +0200\r\n%s\r\n"
            % (n, n, uuid.uuid4().hex.encode(), extra)) + body


def fill_imap(legacy, login):
    m = legacy.connect(login)
    try:
        for name in IMAP_FOLDERS:
            assert m.create(quoted(name))[0] == "OK", name
        for name in SUBSCRIBED:
            assert m.subscribe(quoted(name))[0] == "OK", name
        plan = [
            ("INBOX", r"(\Seen)", '"03-Feb-2001 04:05:06 +0200"'),
            ("INBOX", r"(\Seen \Answered $Label1 custom-kw)", '"31-Dec-1999 23:59:59 -0500"'),
            ("INBOX", r"(\Flagged \Draft)", '"29-Feb-2004 12:00:00 +0000"'),
            ("INBOX", r"(\Deleted)", '"01-Jan-2010 00:00:01 +0100"'),
            ("A&B", r"($Forwarded)", '"15-Jul-2015 10:11:12 +0200"'),
            ("dot.ted", r"(\Seen)", '"01-Jan-1990 00:00:00 +0000"'),
            ("sl/ash", r"()", '"02-Mar-2020 08:09:10 +0530"'),
            ("Ünïcødé ✓", r"(\Answered NonJunk)", '"07-Dec-2025 07:08:09 +0000"'),
        ]
        for i, (folder, flags, date) in enumerate(plan):
            typ, data = m.append(quoted(folder), flags, date, message(i, size=2000 * i))
            assert typ == "OK", (folder, data)
    finally:
        m.logout()


def write_tree(root, big_lines=31207):
    """A maildir++ tree with hostile content, as vmail's; its big message has
    big_lines lines of 1 KB (30 MB by default)."""
    def maildir(path):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)

    def put(folder, name, data, mtime):
        path = os.path.join(root, folder, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))

    maildir(root)
    with open(os.path.join(root, "dovecot-keywords"), "w") as f:
        f.write("0 $Label1\n1 custom-kw\n")
    put("cur", "1600000000.M1P1.legacy:2,S", b"", 1600000000)                     # 0 bytes
    put("cur", "1600000001.M2P1.legacy:2,RS", b"no headers at all, only this text\n", 1500000000)
    put("cur", "1600000002.M3P1.legacy:2,Fab",                                     # keywords a, b
        "Subject: Grüße aus Köln\nFrom: Jörg <j@old.test>\n\n8-bit header\n".encode("latin-1"), 1400000000)
    big = b"Subject: thirty megabytes\nFrom: big@old.test\n\n" + (b"0123456789abcdef" * 63 + b"\n") * big_lines
    put("cur", "1600000003.M4P1.legacy:2,S", big, 1300000000)
    put("cur", "broken maildir name without info", b"Subject: broken name\n\nbody\n", 1200000000)
    put("new", "1600000005.M6P1.legacy", b"Subject: unseen, in new/\n\nbody\n", 1100000000)
    # Folders: "&", a hierarchy (".dot.ted" is dot/ted), and UTF-8 (stored in modified UTF-7).
    for folder in (".A&-B", ".dot.ted", "." + mutf7_encode("Été ✓")):
        maildir(os.path.join(root, folder))
        open(os.path.join(root, folder, "maildirfolder"), "w").close()
        put(folder + "/cur", "1600000010.M10P1.legacy:2,S", b"Subject: in %s\n\nbody\n" % folder.encode(),
            1000000000)
    subprocess.run(["chown", "-R", "vmail:vmail", root], check=True)
    return len(big)


def by_hash(snap, folder):
    """{sha256: (flags, internaldate)} of a folder of a snapshot; each hash once."""
    msgs = snap[folder]["messages"].values()
    out = {h: (flags, date) for h, flags, date, _ in msgs}
    assert len(out) == len(msgs), "%s: a message is there twice" % folder
    return out
