"""Import rate with `emailng import run --jobs N` (issue 15, M1): the same
legacy mailboxes imported one user after another (--jobs 1) and several at
once, into fresh EmailNG users each time.

The small site of tests/e2e (its `site` fixture) and the legacy Dovecot of
tests/e2e/test_import.py (IMAP on 127.0.0.1:10143 in the site's network
namespace, maildir). USERS legacy mailboxes of MESSAGES messages (about
6 KB each, Zipf-free filler text; written as maildir files) are imported
with --jobs 1, --jobs N, --jobs 1, --jobs N (the legacy server's page
cache is warm for every run but the first: compare the second pair of
runs). Prints messages/s and MB/s per run.

Run as root from the repository (not part of `make test`):
  EMAILNG=$PWD/build/emailng EMAILNG_DATADIR=$PWD \\
      /usr/bin/python3 -m pytest -q -s bench/import/bench_import.py
Sizes: BENCH_USERS (default 8), BENCH_MESSAGES (2000), BENCH_JOBS (4).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "e2e"))
from conftest import site  # noqa: E402,F401  (the small site of tests/e2e, as a fixture here)
import test_import as ti  # noqa: E402

USERS = int(os.environ.get("BENCH_USERS", "8"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "2000"))
JOBS = int(os.environ.get("BENCH_JOBS", "4"))


def fill_maildir(home, n):
    """n messages of about 6 KB in home/Maildir/cur, as vmail's."""
    cur = os.path.join(home, "Maildir", "cur")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(home, "Maildir", sub), exist_ok=True)
    total = 0
    for i in range(n):
        body = ("line %d of message %d, some filler text for the import benchmark\n" % (k, i)
                for k in range(90))
        data = ("From: legacy@old.test\nTo: user@old.test\nSubject: bench %d\nMessage-ID: <bench-%d-%s@old.test>\n"
                "Date: Sat, 3 Feb 2001 04:05:06 +0200\n\n" % (i, i, uuid.uuid4().hex) + "".join(body)).encode()
        with open(os.path.join(cur, "%d.M%dP1.legacy:2,S" % (1600000000 + i, i)), "wb") as f:
            f.write(data)
        total += len(data)
    subprocess.run(["chown", "-R", "vmail:vmail", home], check=True)
    return total


def run(site, legacy_root, logins, pwfiles, jobs, tag):
    users = [site.new_user(prefix="b%s" % tag)[0] for _ in logins]
    lst = os.path.join(legacy_root, "bench-%s.list" % tag)
    with open(lst, "w") as f:
        f.writelines("%s imap %s %s\n" % (u, login, pw) for u, login, pw in zip(users, logins, pwfiles))
    t0 = time.time()
    r = site.run("import", "run", lst, "--imap-host", "127.0.0.1", "--imap-port", str(ti.LEGACY_PORT),
                 "--imap-tls", "none", "--jobs", str(jobs), "--restart", timeout=3600)
    seconds = time.time() - t0
    assert r.rc == 0, r
    messages = sum(int(x) for x in re.findall(r": done: .*?\bnew_messages=(\d+)", r.out))
    size = sum(int(x) for x in re.findall(r": done: .*?\bnew_bytes=(\d+)", r.out))
    assert messages == len(logins) * MESSAGES, r.out[-2000:]
    return seconds, messages, size


def test_import_rate_by_jobs(site):
    root = tempfile.mkdtemp(prefix="emailng-bench-import-")
    os.chmod(root, 0o755)
    legacy = ti.Legacy(root)
    try:
        logins, pwfiles, source_bytes = [], [], 0
        for i in range(USERS):
            login, pw = "bench%d" % i, "pw-" + uuid.uuid4().hex
            legacy.add_user(login, pw)
            source_bytes += fill_maildir(os.path.join(root, "home", login), MESSAGES)
            path = os.path.join(root, login + ".pw")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(pw + "\n")
            logins.append(login)
            pwfiles.append(path)
        legacy.start()
        rows = []
        for jobs, tag in ((1, "one"), (JOBS, "par"), (1, "one2"), (JOBS, "par2")):
            seconds, messages, size = run(site, root, logins, pwfiles, jobs, tag)
            rows.append((jobs, tag, seconds, messages, size))
        print("\nimport rate, %d users x %d messages (%.1f MB in all), legacy IMAP server on the same machine"
              % (USERS, MESSAGES, source_bytes / 1e6))
        print("%-6s %-8s %9s %10s %12s %8s" % ("jobs", "run", "seconds", "messages", "messages/s", "MB/s"))
        for jobs, tag, seconds, messages, size in rows:
            print("%-6d %-8s %9.1f %10d %12.0f %8.2f" % (jobs, tag, seconds, messages, messages / seconds,
                                                         size / 1e6 / seconds))
    finally:
        legacy.stop()
        shutil.rmtree(root, ignore_errors=True)
