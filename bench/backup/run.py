#!/usr/bin/env python3
"""Backup and restore benchmark (issue 15, M6): `emailng backup` and
`emailng restore` of a 10,000-message mailbox, beside Dovecot's own tools
run by hand on the same mailbox in the same run (the baseline: what the
commands cost on top of doveadm).

One small site (`emailng up` in its own network namespace and state
directory, no filter, no FTS). The mail is the FTS benchmark's generated
office mail (bench/fts/run.py: MailMaker, bulk load with `doveadm import`)
in alice's INBOX. Then, timed:

  backup, full         `emailng backup` (every user, the directory, the
                       secrets) into a new generation
  backup, incremental  100 more messages delivered, `emailng backup` again
                       (dsync starts from the previous generation)
  raw backup           `doveadm backup -u alice mdbox:DIR` into an empty
                       folder: the same copy without emailng around it,
                       as Dovecot does it by default (an fsync per
                       message) and with mail_fsync=never, as emailng runs
                       it (one syncfs of the generation at the end)
  restore              `emailng restore --user alice --into Restored`: the
                       generation's mail imported under a folder
  raw restore          `doveadm import` of the raw copy under another folder

and checks that each restored folder holds every message of the backup.
Run as root, from the repository: nice bench/backup/run.py [--count N].
Not part of `make test`.
"""
import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_fts", os.path.join(HERE, "..", "fts", "run.py"))
fts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fts)

USER = fts.USER


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return time.monotonic() - t0, out


def messages(site, folder):
    out = site.doveadm("-f", "flow", "mailbox", "status", "-u", USER, "messages", folder)
    return int(out.split("=")[1])


def folder_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for n in files:
            total += os.lstat(os.path.join(root, n)).st_size
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10000, help="messages in the INBOX (default 10,000)")
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"), help="where the state directory goes")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/backup: run as root (network namespaces, emailng up)")
    maker = fts.MailMaker(args.count + 100)
    site = fts.BenchSite("backup", False, args.tmp)
    maildir = os.path.join(site.state, "bench-maildir")
    raw = tempfile.mkdtemp(prefix="emailng-bench-rawbackup-", dir=args.tmp)
    res = {}
    try:
        mail_bytes, _ = fts.write_maildir(maker, args.count, maildir)
        site.up()
        secs, n = fts.bulk_load(site, maildir)
        assert n == args.count, (n, args.count)
        print("loaded %d messages (%.1f MB) in %.1f s (load %.1f)" % (n, mail_bytes / 1e6, secs, os.getloadavg()[0]),
              flush=True)

        res["full"], _ = timed(lambda: site.emailng("backup", timeout=3600))
        gens = sorted(g for g in os.listdir(os.path.join(site.state, "backup")) if not g.startswith("."))
        res["gen_bytes"] = folder_bytes(os.path.join(site.state, "backup", gens[-1]))
        fts.deliver(site, maker, args.count, 100)
        res["incremental"], _ = timed(lambda: site.emailng("backup", timeout=3600))
        total = messages(site, "INBOX")
        assert total == args.count + 100, total

        shutil.chown(raw, "vmail", "vmail")
        res["raw_backup"], _ = timed(lambda: site.doveadm("backup", "-u", USER, "mdbox:%s" % raw))
        shutil.rmtree(raw)
        os.mkdir(raw)
        shutil.chown(raw, "vmail", "vmail")
        res["raw_nofsync"], _ = timed(lambda: site.doveadm("-o", "mail_fsync=never", "backup", "-u", USER,
                                                           "mdbox:%s" % raw))

        res["restore"], _ = timed(lambda: site.emailng("restore", "--user", USER, "--into", "Restored",
                                                       timeout=3600))
        restored = messages(site, "Restored/INBOX")
        assert restored == total, (restored, total)
        res["raw_restore"], _ = timed(lambda: site.doveadm("import", "-u", USER, "-s", "mdbox:%s" % raw,
                                                           "RawRestored", "all"))
        raw_restored = messages(site, "RawRestored/INBOX")
        assert raw_restored == total, (raw_restored, total)
    finally:
        site.down(keep=False)
        shutil.rmtree(raw, ignore_errors=True)

    mb = mail_bytes / 1e6
    print("\nBackup and restore of a %d-message INBOX (%.1f MB of mail, mean %.1f KB); %d CPUs, load %.1f at the end"
          % (args.count, mb, mail_bytes / args.count / 1e3, os.cpu_count(), os.getloadavg()[0]))
    print("%-58s %9s %9s %9s" % ("", "s", "msg/s", "MB/s"))
    rows = [("emailng backup, full (every user, directory, secrets)", res["full"], args.count),
            ("emailng backup, incremental after 100 new messages", res["incremental"], 100),
            ("baseline: doveadm backup -u alice into an empty mdbox", res["raw_backup"], total),
            ("  the same with -o mail_fsync=never (what emailng runs)", res["raw_nofsync"], total),
            ("emailng restore --user alice --into Restored", res["restore"], total),
            ("baseline: doveadm import -s of that copy", res["raw_restore"], total)]
    for label, secs, n in rows:
        print("%-58s %9.1f %9.0f %9.1f" % (label, secs, n / secs, (mb * n / args.count) / secs))
    print("%-58s %9.1f" % ("generation on disk, MB", res["gen_bytes"] / 1e6))


if __name__ == "__main__":
    main()
