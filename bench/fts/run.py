#!/usr/bin/env python3
"""Full-text search benchmark (issue 15, M5): Dovecot FTS with the Xapian
backend (templates/dovecot/fts.conf) against the same Dovecot without it.

Two small sites run side by side, each `emailng up` in its own network
namespace and state directory: A with search.fts true (the default), B with
search.fts false; both without the filter pipeline (mail goes straight to
LMTP, which is what is measured). The same generated mail is delivered to
alice's INBOX on both, in the same run:

  mail       N messages (--count, default 100,000) in the shape of an office
             mailbox: a Zipf vocabulary of English words and made-up names,
             2-12 paragraphs, a quoted earlier message in 40%, headers
             as a real MTA writes them (Received, Return-Path, Cc in 30%),
             an HTML alternative in 25%, a binary attachment (base64, 8-60 KB)
             in 10%. A rare word is planted in exactly 3 messages; a common
             word occurs in about half of them.
  delivery   LMTP over the store's unix socket, one connection, one message
             per transaction (as Postfix's lmtp client does): messages/s on
             A (indexing queued at each delivery, the indexer works
             alongside) and on B (no index). On A also the time until the
             index has caught up (`doveadm index`, which returns when every
             message is indexed): the sustained rate with indexing.
  search     IMAP UID SEARCH TEXT <rare word> and <common word> over STARTTLS,
             on A (answered from the index) and on B (every message read):
             the first search after delivery and the median of 5 more.
  size       the Xapian index against the mail (the mdbox storage files,
             and the sum of the message sizes).

Run as root, from the repository: bench/fts/run.py [--count N] [--keep].
Not part of `make test`. Prints one table at the end.
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


class CpuSampler(threading.Thread):
    """Samples the indexer-workers' CPU every second (a worker ends after a
    minute idle, taking its figure along); the total over every worker seen."""

    def __init__(self, site):
        super().__init__(daemon=True)
        self.site, self.seen, self.stop = site, {}, threading.Event()

    def run(self):
        while not self.stop.is_set():
            for pid, cpu in self.site.worker_cpu().items():
                self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
            self.stop.wait(1.0)

    def total(self):
        self.stop.set()
        self.join()
        for pid, cpu in self.site.worker_cpu().items():
            self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
        return sum(self.seen.values())



def deliver(site, maker, count):
    """LMTP, one connection; returns (seconds, bytes)."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        s = site.lmtp()
        s.ehlo("bench")
        total = 0
        t0 = time.monotonic()
        for i in range(count):
            msg = maker[i]
            total += len(msg)
            s.sendmail("sender@partner.test", [USER], msg)
            if (i + 1) % 5000 == 0:
                print("  %s: %d delivered, %.0f msg/s" % (site.tag, i + 1, (i + 1) / (time.monotonic() - t0)),
                      flush=True)
        elapsed = time.monotonic() - t0
        s.quit()
        return elapsed, total
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100000, help="messages (default 100,000)")
    ap.add_argument("--keep", action="store_true", help="keep both state directories")
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"), help="where the state directories go")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/fts: run as root (network namespaces, emailng up)")

    print("generating %d messages ..." % args.count, flush=True)
    t0 = time.monotonic()
    mm = MailMaker(args.count)
    mail = [mm.message(i) for i in range(args.count)]
    expected_common = sum(1 for m in mail if mm.common.encode() in m)
    print("  %.1f s, %.1f MB" % (time.monotonic() - t0, sum(map(len, mail)) / 1e6), flush=True)

    a = BenchSite("fts", True, args.tmp)
    b = BenchSite("nofts", False, args.tmp)
    res = {}
    try:
        for s in (a, b):
            s.up()
        print("delivering to %s ..." % b.tag, flush=True)
        res[b.tag, "deliver"] = deliver(b, mail, args.count)
        sampler = CpuSampler(a)
        sampler.start()
        print("delivering to %s ..." % a.tag, flush=True)
        res[a.tag, "deliver"] = deliver(a, mail, args.count)
        # The indexer worked alongside the deliveries; this returns once every
        # message of the folder is in the index.
        t0 = time.monotonic()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        a.doveadm("index", "-u", USER, "INBOX")
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res["catchup"] = time.monotonic() - t0
        # CPU spent on indexing: the indexer-workers and the catch-up doveadm.
        res["index_cpu"] = sampler.total() + (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        res["load"] = os.getloadavg()[0]
        a.doveadm("fts", "optimize", "-u", USER)
        for s in (a, b):
            for label, word in (("rare", RARE), ("common", mm.common)):
                print("searching %s on %s ..." % (label, s.tag), flush=True)
                res[s.tag, label] = searches(s, word)
        res["index"] = a.du("xapian-indexes")
        res["storage"] = a.du("storage")
    finally:
        for s in (a, b):
            try:
                s.down(args.keep)
            except Exception as e:          # report, and still take the other one down
                print("down %s: %s" % (s.tag, e))
    if args.keep:
        print("state kept in %s and %s" % (a.state, b.state))

    n = args.count
    secs_a, mail_bytes = res["fts", "deliver"]
    secs_b, _ = res["nofts", "deliver"]
    print("\nFTS benchmark, %d messages in one INBOX, %.1f MB of mail (mean %.1f KB); "
          "load average %.1f on %d CPUs at the end of indexing" % (
              n, mail_bytes / 1e6, mail_bytes / n / 1e3, res["load"], os.cpu_count()))
    print("%-44s %14s %14s" % ("", "FTS (Xapian)", "no FTS"))
    print("%-44s %14.0f %14.0f" % ("LMTP delivery, messages/s", n / secs_a, n / secs_b))
    print("%-44s %14.0f %14s" % ("  with the index caught up, messages/s", n / (secs_a + res["catchup"]), "-"))
    print("%-44s %14.1f %14s" % ("  index catch-up after the last delivery, s", res["catchup"], "-"))
    print("%-44s %14.1f %14s" % ("  indexing CPU per message, ms", 1000 * res["index_cpu"] / n, "-"))
    for label, expect in (("rare", 3), ("common", expected_common)):
        fa, ma, ha = res["fts", label]
        fb, mb, hb = res["nofts", label]
        assert ha == hb == expect, ("hits", label, ha, hb, expect)
        print("%-44s %14.3f %14.3f" % ("SEARCH TEXT %s word (%d hits), first, s" % (label, expect), fa, fb))
        print("%-44s %14.3f %14.3f" % ("  median of 5 more, s", ma, mb))
    print("%-44s %14.1f" % ("index size, MB", res["index"] / 1e6))
    print("%-44s %14.1f" % ("mdbox storage, MB", res["storage"] / 1e6))
    print("%-44s %14.2f" % ("index / mail (message bytes)", res["index"] / mail_bytes))


if __name__ == "__main__":
    main()
