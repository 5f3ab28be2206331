#!/usr/bin/env python3
"""Full-text search benchmark (issue 15, M5): Dovecot FTS with the Xapian
backend (templates/dovecot/fts.conf) against the same Dovecot without it.

Two small sites run side by side, each `emailng up` in its own network
namespace and state directory: A with search.fts true (the default), B with
search.fts false; both without the filter pipeline (mail goes straight to
LMTP, which is what is measured). The same generated mail goes to alice's
INBOX on both, in the same run:

  mail       N messages (--count, default 100,000) in the shape of an office
             mailbox: a Zipf vocabulary of English words and made-up names,
             2-12 paragraphs, a quoted earlier message in 40%, headers
             as a real MTA writes them (Received, Return-Path, Cc in 30%),
             an HTML alternative in 25%, a binary attachment (base64, 8-60 KB)
             in 10%. A rare word is planted in exactly 3 messages; a common
             word occurs in about half of them. Written once as a maildir
             (one file per message, bytes as generated).
  bulk load  Dovecot's own `doveadm import` from that maildir into alice's
             INBOX on A and on B, with indexing at save turned off on A
             (plugin/fts_autoindex=no): the mailbox of a site that has run
             for years, loaded in minutes. One LMTP transaction per message
             for 100,000 messages took over an hour on this machine.
  index      on A, `doveadm index -u alice INBOX`: the whole index built in
             one go, timed, with its CPU (what `emailng fts reindex` costs).
  search     IMAP UID SEARCH TEXT <rare word> and <common word> over STARTTLS,
             on A (answered from the index) and on B (every message read):
             the first search and the median of 5 more.
  size       the Xapian index against the mail (the mdbox storage files,
             and the sum of the message sizes).
  delivery   LMTP over the store's unix socket, one connection, one message
             per transaction (as Postfix's lmtp client does), into the full
             INBOX after the searches: --sample messages (default 2,000) in
             --rounds rounds (default 4) alternating A and B; per round the
             LMTP rate, and on A also the rate with the index caught up
             (`doveadm index` after the round, which returns when every
             message is indexed); the medians of the rounds.

Run as root, from the repository: nice bench/fts/run.py [--count N] [--keep].
Not part of `make test`. Prints one table at the end, with the load
average of the machine at each step (other jobs share it).
"""
import argparse
import base64
import ctypes
import imaplib
import os
import random
import resource
import shutil
import smtplib
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
EMAILNG = os.environ.get("EMAILNG", os.path.join(ROOT, "build", "emailng"))
USER = "alice@example.test"
RARE = "quillvortex"            # planted in exactly 3 messages
COMMON_RATE = 0.5               # share of messages the common word is planted in
CLONE_NEWNET = 0x40000000

SITE = """\
site: {{name: bench-fts-{tag}}}
domains: [example.test]
directory: {{base: "dc=example,dc=test"}}
hosts:
  - {{name: mail, address: 127.0.0.1, roles: [relay, proxy, store, directory]}}
tls: {{names: [mail.example.test, localhost, 127.0.0.1]}}
quota: {{default: 1000G}}
limits: {{message_size: 25M}}
demo_users: true
filter: {{enabled: false}}
search: {{fts: {fts}}}
"""

# The most frequent English words of office mail, then made-up words and
# names for the long tail (Zipf: the k-th word is 1/k as frequent).
COMMON = """the of and to a in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there one all we their can has been if more when will would who so no
meeting project report please thanks regards team budget schedule review draft update attached client
customer order invoice payment contract deadline week monday tuesday wednesday thursday friday office
call discuss proposal agenda minutes action item follow next quarter sales figures results plan issue
question answer today tomorrow morning afternoon available time let me know best kind hope well
""".split()
SYLL = "ba be bi bo bu ca ce co cu da de di do fa fe fi fo ga ge go ha he hi ho ja jo ka ke ki ko la le li lo lu " \
       "ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo " \
       "za ze zo tra tre tri pro pre gra gre bra bre stra ster ment tion ing ly er an en on".split()
NAMES = "Anna Ben Carla David Elena Frank Greta Hugo Ines Jonas Karin Lars Maria Niko Olga Paul Rosa Sven " \
        "Tina Uwe Vera Walter".split()


def make_vocabulary(rnd, size=30000):
    words = list(COMMON)
    seen = set(words) | {RARE}
    while len(words) < size:
        w = "".join(rnd.choice(SYLL) for _ in range(rnd.choice((2, 2, 3, 3, 4))))
        if w not in seen:
            seen.add(w)
            words.append(w)
    weights = [1.0 / (k + 1) for k in range(len(words))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return words, cum


class MailMaker:
    def __init__(self, count, seed=15):
        self.rnd = random.Random(seed)
        self.words, self.cum = make_vocabulary(self.rnd)
        self.count = count
        self.rare_at = set(self.rnd.sample(range(count), min(3, count)))
        self.common = "deliverables"    # not in the vocabulary: planted only

    def sentence(self):
        n = self.rnd.randint(6, 22)
        ws = self.rnd.choices(self.words, cum_weights=self.cum, k=n)
        return ws[0].capitalize() + " " + " ".join(ws[1:]) + self.rnd.choice((".", ".", ".", "?", "!"))

    def paragraph(self):
        return " ".join(self.sentence() for _ in range(self.rnd.randint(1, 5)))

    def wrap(self, text, width=72):
        out, line = [], ""
        for w in text.split():
            if line and len(line) + 1 + len(w) > width:
                out.append(line)
                line = w
            else:
                line = (line + " " + w) if line else w
        out.append(line)
        return "\r\n".join(out)

    def message(self, i):
        r = self.rnd
        sender = r.choice(NAMES)
        paras = [self.paragraph() for _ in range(r.randint(2, 12))]
        if i in self.rare_at:
            paras.insert(r.randrange(len(paras) + 1), "The %s figures are in the shared folder." % RARE)
        if r.random() < COMMON_RATE:
            paras.insert(r.randrange(len(paras) + 1), "Please check the %s list before Friday." % self.common)
        text = "\r\n\r\n".join(self.wrap(p) for p in paras)
        text = "Hi %s,\r\n\r\n%s\r\n\r\nBest,\r\n%s\r\n" % (r.choice(NAMES), text, sender)
        if r.random() < 0.4:
            quoted = self.wrap(self.paragraph() + " " + self.paragraph())
            text += "\r\nOn Mon, %s wrote:\r\n" % r.choice(NAMES) + "".join(
                "> " + l + "\r\n" for l in quoted.split("\r\n"))
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(1.6e9 + i * 600))
        subject = " ".join(r.choices(self.words[:400], k=r.randint(2, 7))).capitalize()
        hdr = [
            "Return-Path: <%s@partner%d.test>" % (sender.lower(), i % 40),
            "Delivered-To: %s" % USER,
            "Received: from mx%d.partner%d.test (mx%d.partner%d.test [198.51.100.%d])\r\n"
            "\tby mail.example.test (Postfix) with ESMTPS id 4Q%08X\r\n\tfor <%s>; %s"
            % (i % 3, i % 40, i % 3, i % 40, i % 250 + 1, i, USER, date),
            "From: %s <%s@partner%d.test>" % (sender, sender.lower(), i % 40),
            "To: Alice <%s>" % USER,
        ]
        if r.random() < 0.3:
            hdr.append("Cc: %s <%s@example.test>" % (r.choice(NAMES), r.choice(NAMES).lower()))
        hdr += ["Subject: %s%s" % ("Re: " if r.random() < 0.4 else "", subject),
                "Date: %s" % date,
                "Message-ID: <bench-%d-%x@partner%d.test>" % (i, r.getrandbits(48), i % 40),
                "MIME-Version: 1.0"]
        html = r.random() < 0.25
        attach = r.random() < 0.10
        plain = ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text)
        body = plain
        if html:
            h = "<html><body>" + "".join("<p>%s</p>" % p.replace("\r\n", " ") for p in text.split("\r\n\r\n")) \
                + "</body></html>"
            body = ("Content-Type: multipart/alternative; boundary=\"alt%d\"\r\n\r\n--alt%d\r\n%s\r\n--alt%d\r\n"
                    "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
                    "--alt%d--\r\n" % (i, i, plain, i, self.wrap(h), i))
        if attach:
            blob = r.randbytes(r.randint(8000, 60000))      # compressed data looks random
            enc = base64.b64encode(blob).decode()
            enc = "\r\n".join(enc[k:k + 76] for k in range(0, len(enc), 76))
            body = ("Content-Type: multipart/mixed; boundary=\"mix%d\"\r\n\r\n--mix%d\r\n%s\r\n--mix%d\r\n"
                    "Content-Type: application/pdf; name=\"scan%d.pdf\"\r\n"
                    "Content-Disposition: attachment; filename=\"scan%d.pdf\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--mix%d--\r\n" % (i, i, body, i, i, i, enc, i))
        return ("\r\n".join(hdr) + "\r\n" + body).encode()


_libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + path)
    finally:
        os.close(fd)


class BenchSite:
    def __init__(self, tag, fts, parent):
        self.tag, self.fts = tag, fts
        self.state = tempfile.mkdtemp(prefix="emailng-bench-fts-%s-" % tag, dir=parent)
        os.chmod(self.state, 0o755)
        self.ns = "emailng-bfts-%s-%d" % (tag, os.getpid())
        self.conf = os.path.join(self.state, "etc", "mail", "dovecot", "dovecot.conf")

    def sh(self, argv, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True, text=True, **kw)

    def emailng(self, *args, timeout=600):
        cp = self.sh([EMAILNG, "--state", self.state, *args], timeout=timeout,
                     env=dict(os.environ, EMAILNG_DATADIR=os.environ.get("EMAILNG_DATADIR", ROOT)))
        if cp.returncode != 0:
            raise RuntimeError("emailng %s (%s): %s%s" % (" ".join(args), self.tag, cp.stdout, cp.stderr))
        return cp.stdout

    def doveadm(self, *args, timeout=3600):
        cp = self.sh(["doveadm", "-c", self.conf, *args], timeout=timeout)
        if cp.returncode != 0:
            raise RuntimeError("doveadm %s (%s): %s" % (" ".join(args), self.tag, cp.stderr))
        return cp.stdout

    def up(self):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        path = os.path.join(self.state, "site.input.yaml")
        with open(path, "w") as f:
            f.write(SITE.format(tag=self.tag, fts="true" if self.fts else "false"))
        self.emailng("up", "--site", path)
        with open(os.path.join(self.state, "secrets", "demo-passwords")) as f:
            self.password = dict(l.split() for l in f if l.strip())[USER]

    def down(self, keep):
        try:
            self.emailng("down", timeout=300)
        finally:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
            if not keep:
                shutil.rmtree(self.state, ignore_errors=True)

    def lmtp(self):
        setns("/run/netns/" + self.ns)
        return smtplib.LMTP(os.path.join(self.state, "run", "mail", "dovecot", "lmtp"))

    def imap(self):
        setns("/run/netns/" + self.ns)
        m = imaplib.IMAP4("127.0.0.1", 143, timeout=3600)
        ctx = ssl.create_default_context(cafile=os.path.join(self.state, "tls", "ca.crt"))
        ctx.check_hostname = False
        m.starttls(ssl_context=ctx)
        m.login(USER, self.password)
        m.select("INBOX")
        return m

    def worker_cpu(self, name="indexer-worker"):
        """{pid: CPU seconds (user + system)} of the Dovecot processes named
        name in this site's namespace now."""
        ns = os.stat("/run/netns/" + self.ns).st_ino
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat("/proc/%s/ns/net" % pid).st_ino != ns:
                    continue
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if name.encode() not in f.read():
                        continue
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
            except OSError:
                continue
        return out

    def du(self, rel):
        path = os.path.join(self.state, "data", "mail", "mail", "example.test", "alice", rel)
        total = 0
        for root, _dirs, files in os.walk(path):
            for n in files:
                total += os.lstat(os.path.join(root, n)).st_size
        return total


def write_maildir(maker, count, root):
    """The generated mail as a maildir (cur/, seen, INTERNALDATE = the Date:
    header's time as the file's mtime), vmail's. Returns (bytes, messages
    with the common word)."""
    cur = os.path.join(root, "cur")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    total = common = 0
    needle = maker.common.encode()
    for i in range(count):
        msg = maker.message(i)
        total += len(msg)
        common += needle in msg
        path = os.path.join(cur, "%d.M%dP1.bench:2,S" % (1600000000 + i, i))
        with open(path, "wb") as f:
            f.write(msg)
        t = 1.6e9 + i * 600
        os.utime(path, (t, t))
        if (i + 1) % 20000 == 0:
            print("  %d written" % (i + 1), flush=True)
    subprocess.run(["chown", "-R", "vmail:vmail", root], check=True)
    return total, common


def bulk_load(site, maildir):
    """doveadm import of the maildir into the user's INBOX; (seconds, messages).
    The source's own index and uidlist go to a folder of this site, so the
    maildir stays shared and untouched."""
    control = os.path.join(site.state, "bench-source-index")
    os.makedirs(control, exist_ok=True)
    shutil.chown(control, "vmail", "vmail")
    t0 = time.monotonic()
    site.doveadm("-o", "plugin/fts_autoindex=no", "import", "-u", USER,
                 "maildir:%s:INDEX=%s:CONTROL=%s" % (maildir, control, control), "", "mailbox", "INBOX", "all")
    secs = time.monotonic() - t0
    n = int(site.doveadm("-f", "flow", "mailbox", "status", "-u", USER, "messages", "INBOX").split("=")[1])
    return secs, n


def deliver(site, maker, first, count):
    """LMTP, one connection, messages first .. first+count-1; returns seconds."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        mail = [maker.message(i) for i in range(first, first + count)]
        s = site.lmtp()
        s.ehlo("bench")
        t0 = time.monotonic()
        for msg in mail:
            s.sendmail("sender@partner.test", [USER], msg)
        elapsed = time.monotonic() - t0
        s.quit()
        return elapsed
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(own)


def searches(site, word, repeat=5):
    """(first, median of repeat, hits) of UID SEARCH TEXT word over IMAP."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        m = site.imap()
        times, hits = [], None
        for _ in range(repeat + 1):
            t0 = time.monotonic()
            typ, data = m.uid("SEARCH", "TEXT", word)
            times.append(time.monotonic() - t0)
            assert typ == "OK", data
            n = len(data[0].split()) if data and data[0] else 0
            assert hits in (None, n), (hits, n)
            hits = n
        m.logout()
        return times[0], statistics.median(times[1:]), hits
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(own)


def timed_children(fn):
    """(result, wall seconds, CPU seconds of the child processes fn waited for)."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = fn()
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, wall, (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100000, help="messages in the INBOX (default 100,000)")
    ap.add_argument("--sample", type=int, default=2000, help="messages delivered by LMTP per site (default 2,000)")
    ap.add_argument("--rounds", type=int, default=4, help="delivery rounds per site, alternating (default 4)")
    ap.add_argument("--keep", action="store_true", help="keep both state directories")
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"), help="where the state directories go")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/fts: run as root (network namespaces, emailng up)")
    loads = []
    samples = []            # the load average every 30 s: steps can be an hour apart
    stop = threading.Event()

    def sample():
        while not stop.wait(30):
            samples.append(os.getloadavg()[0])
    threading.Thread(target=sample, daemon=True).start()

    def mark(step):
        loads.append((step, os.getloadavg()[0]))
        print("[%s] %s (load %.1f)" % (time.strftime("%H:%M:%S"), step, loads[-1][1]), flush=True)

    t_start = time.monotonic()
    mark("start")
    mm = MailMaker(args.count)
    a = BenchSite("fts", True, args.tmp)
    b = BenchSite("nofts", False, args.tmp)
    maildir = os.path.join(a.state, "bench-maildir")
    res = {}
    try:
        print("generating %d messages into %s ..." % (args.count, maildir), flush=True)
        t0 = time.monotonic()
        mail_bytes, expected_common = write_maildir(mm, args.count, maildir)
        res["generate"] = time.monotonic() - t0
        mark("generated %.1f MB in %.0f s" % (mail_bytes / 1e6, res["generate"]))
        for s in (a, b):
            s.up()
        mark("sites up")
        for s in (b, a):
            secs, n = bulk_load(s, maildir)
            assert n == args.count, (s.tag, n, args.count)
            res[s.tag, "load"] = secs
            mark("%s: doveadm import of %d messages in %.0f s" % (s.tag, n, secs))
        _, wall, cpu = timed_children(lambda: a.doveadm("index", "-u", USER, "INBOX", timeout=6 * 3600))
        res["index"], res["index_cpu"] = wall, cpu
        mark("fts: doveadm index in %.0f s" % wall)
        _, res["optimize"], _ = timed_children(lambda: a.doveadm("fts", "optimize", "-u", USER))
        res["index_size"] = a.du("xapian-indexes")
        res["storage"] = a.du("storage")
        for s in (a, b):
            for label, word in (("rare", RARE), ("common", mm.common)):
                res[s.tag, label] = searches(s, word)
                mark("%s: search %s: first %.3f s, median %.3f s, %d hits" % ((s.tag, label) + res[s.tag, label]))
        # Delivery: rounds alternating B and A; the messages after the INBOX's.
        per = max(1, args.sample // args.rounds)
        nxt = args.count
        for r in range(args.rounds):
            for s in (b, a):
                secs = deliver(s, mm, nxt, per)
                res.setdefault((s.tag, "lmtp"), []).append(per / secs)
                if s is a:
                    _, catch, _ = timed_children(lambda: a.doveadm("index", "-u", USER, "INBOX"))
                    res.setdefault("sustained", []).append(per / (secs + catch))
                mark("%s: round %d, %d messages by LMTP in %.1f s" % (s.tag, r + 1, per, secs))
            nxt += per
    finally:
        for s in (a, b):
            try:
                s.down(args.keep)
            except Exception as e:          # report, and still take the other one down
                print("down %s: %s" % (s.tag, e))
    if args.keep:
        print("state kept in %s and %s" % (a.state, b.state))

    stop.set()
    n = args.count
    ls = [l for _, l in loads] + samples
    print("\nFTS benchmark, %d messages in one INBOX, %.1f MB of mail (mean %.1f KB); %d CPUs, "
          "load average (1 min, every 30 s) %.1f to %.1f over the run (median %.1f), %.0f min in all" % (
              n, mail_bytes / 1e6, mail_bytes / n / 1e3, os.cpu_count(), min(ls), max(ls), statistics.median(ls),
              (time.monotonic() - t_start) / 60))
    print("%-50s %14s %14s" % ("", "FTS (Xapian)", "no FTS"))
    print("%-50s %14.0f %14.0f" % ("bulk load (doveadm import, no indexing), msg/s",
                                   n / res["fts", "load"], n / res["nofts", "load"]))
    print("%-50s %14.0f %14s" % ("index build (doveadm index), s", res["index"], "-"))
    print("%-50s %14.1f %14s" % ("  messages/s", n / res["index"], "-"))
    print("%-50s %14.1f %14s" % ("  CPU per message, ms", 1000 * res["index_cpu"] / n, "-"))
    for label, expect in (("rare", 3), ("common", expected_common)):
        fa, ma, ha = res["fts", label]
        fb, mb, hb = res["nofts", label]
        assert ha == hb == expect, ("hits", label, ha, hb, expect)
        print("%-50s %14.3f %14.3f" % ("SEARCH TEXT %s word (%d hits), first, s" % (label, expect), fa, fb))
        print("%-50s %14.3f %14.3f" % ("  median of 5 more, s", ma, mb))
    print("%-50s %14.1f" % ("index size, MB", res["index_size"] / 1e6))
    print("%-50s %14.1f" % ("mdbox storage, MB", res["storage"] / 1e6))
    print("%-50s %14.2f" % ("index / mail (message bytes)", res["index_size"] / mail_bytes))
    per = max(1, args.sample // args.rounds)
    print("%-50s %14.1f %14.1f" % ("LMTP delivery into the full INBOX, msg/s (median)",
                                   statistics.median(res["fts", "lmtp"]), statistics.median(res["nofts", "lmtp"])))
    print("%-50s %14s %14s" % ("  each round (%d x %d messages)" % (args.rounds, per),
                               " ".join("%.0f" % x for x in res["fts", "lmtp"]),
                               " ".join("%.0f" % x for x in res["nofts", "lmtp"])))
    print("%-50s %14.1f %14s" % ("  with the index caught up, msg/s (median)", statistics.median(res["sustained"]),
                                 "-"))


if __name__ == "__main__":
    main()
