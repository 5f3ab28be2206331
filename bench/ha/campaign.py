#!/usr/bin/python3
"""bench/ha/campaign.py: the long fault campaign (issue 12, "Measure").

A site deployed to separate hosts the way tests/e2e_deploy does it
(scripts/hosts.sh: seven hosts with their own /etc, /var/lib/emailng and
sshd, a control host running `emailng deploy`, a client host playing the
internet; examples/ha-site.yaml with the content filter OFF, as in those
tests) takes at least --messages messages while a schedule of faults runs,
each host one at a time with a recovery in between:

  store kill    kill -9 of every process of store1, later store2 (sshd
                too: the host crashed); its sshd and `emailng up` bring it back
  store cut     store1's, later store2's link down for --hold seconds
  proxy kill    proxy1, later proxy2
  relay kill    relay1, later relay2
  directory     dir1 killed for --hold seconds
  relays cut    both relays cut off from the inside for 60 s
  upgrade       `emailng deploy --upgrade --build` of a copy of this
                build's programs (a rolling upgrade of all seven hosts)

Mail: --mx-senders threads deliver to alice@ from the client host as an
MTA with the site's two MX does (relay1 and relay2 in alternating order,
the other one when the first refuses or does not answer, the same
Message-ID); --submitters threads submit as bob@ on 587 (STARTTLS, SASL)
to alice@ and bob@. Every message has its own Message-ID; those taken
with 250 are recorded. Sending goes on until --messages were accepted and
the schedule (faults and upgrade) is over.

At the end: the relays' and stores' queues drain, then each accepted
Message-ID is counted in its recipients' INBOX on BOTH stores of the pair
(doveadm inside each store host), until both have every one or --settle
seconds passed. Printed: accepted, delivered exactly once on both stores,
missing, duplicated, bounced (MAILER-DAEMON mail in bob's INBOX and
status=bounced lines of every host's Postfix log), the send rate, the
campaign's duration, and per fault what the senders saw (temporary
refusals, an MX that did not answer, the other MX taking over).

Seen in the test fabric only: the relays' OpenDKIM reads libunbound's
resolver.conf (test fabric only, docs/internals.md) for every message
with a parser that is not thread-safe, and at this rate it dies within
minutes ("fatal flex scanner internal error"); the relay then answers
451 at submission (milter tempfail) until `emailng up` restarts it, and
`emailng status` exits 1. The notes show it as submission 4xx.

Reuses the tests' pieces: the deployment fixture and the upgrade helpers
of tests/e2e_deploy, the sending, faults and Sender of tests/e2e_ha (two
test folders with a conftest.py each: each is loaded under its own name).

Run as root from the repository after `make`:
    make bench-ha-campaign [BENCH_ARGS="--messages 500"]
    /usr/bin/python3 bench/ha/campaign.py [--messages N] [--hold S] [--keep]
Not part of `make test`. Prefix of the hosts: bfc (EMAILNG_DEPLOY_PREFIX).
"""

import argparse
import collections
import contextlib
import glob
import importlib.util
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("EMAILNG_DEPLOY_PREFIX", "bfc")
os.environ.setdefault("EMAILNG", os.path.join(REPO, "build", "emailng"))
os.environ.setdefault("EMAILNG_DATADIR", REPO)


def _load(name, path, conftest=None):
    """Imports a test module under `name`; `conftest` is the module its
    `from conftest import ...` must find (each test folder has its own)."""
    saved = sys.modules.get("conftest")
    if conftest is not None:
        sys.modules["conftest"] = conftest
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(folder)
        if saved is None:
            sys.modules.pop("conftest", None)
        else:
            sys.modules["conftest"] = saved


HA = os.path.join(REPO, "tests", "e2e_ha")
DEPLOY = os.path.join(REPO, "tests", "e2e_deploy")
ha_conftest = _load("ha_conftest", os.path.join(HA, "conftest.py"))
clients = _load("clients", os.path.join(HA, "clients.py"), ha_conftest)
fault_campaign = _load("fault_campaign", os.path.join(HA, "test_fault_campaign.py"), ha_conftest)
deploysite = _load("deploysite", os.path.join(DEPLOY, "deploysite.py"))

PREFIX = os.environ["EMAILNG_DEPLOY_PREFIX"]
HOSTS = deploysite.HOSTS
ALICE = fault_campaign.ALICE
BOB = fault_campaign.BOB
RELAYS = ("relay1", "relay2")
STORES = ("store1", "store2")
MTAS = ("relay1", "relay2", "store1", "store2")
HOST_STATE = deploysite.HOST_STATE
MX_BACKOFF = 1.0
SUBMISSION_BACKOFF = 6.0
# The bench's site: examples/ha-site.yaml as tests/e2e_deploy deploys it,
# with no send limits (as the deployment tests' site): 10,000 messages from
# the one client address in well under an hour are far beyond the defaults
# (1000 an hour per client network, 100 an hour per user; admin manual
# policy.limits).
NO_SEND_LIMITS = deploysite.NO_SEND_LIMITS



class Site:
    """What the tests' helpers ask of a site (prefix, CA, passwords), for
    the deployed one."""

    def __init__(self, deployed):
        self.deployed = deployed
        self.prefix = PREFIX
        self.ca = deployed.ca
        self._passwords = {}

    def password(self, address):
        if address not in self._passwords:
            self._passwords[address] = self.deployed.password(address)
        return self._passwords[address]


# ---- the internet's DNS ------------------------------------------------------------

DNS_HOST = "dir1"                   # a host whose rendered etc/fabric-dns serves (every host has it)


@contextlib.contextmanager
def internet_dns(deployed):
    """The site's public DNS (MX, mail.example.test ...) at fabric.dns, as
    `emailng up` runs it on one machine: nsd with the configuration the
    deploy rendered (etc/fabric-dns), in the fabric's network-only host
    "dns" (deploysite.bring_up makes it). The relays' SASL at the proxies
    needs mail.example.test (their imapc passdb), so submission does.
    (tests/e2e_deploy/deployed_site.start_dns does the same for the tests
    with a render on the control host.)"""
    deployed.on(DNS_HOST, "mkdir", "-p", HOST_STATE + "/log/fabric-dns", HOST_STATE + "/run/fabric-dns")
    subprocess.run(["nsenter", "--mount=/run/emailng-hosts/%s-%s.mnt" % (PREFIX, DNS_HOST),
                    "--net=/run/netns/%s-dns" % PREFIX, "/usr/sbin/nsd", "-c",
                    HOST_STATE + "/etc/fabric-dns/nsd/nsd.conf"], check=True, capture_output=True, timeout=60)
    try:
        yield
    finally:                          # nsd and its children: what runs in the namespace "dns"
        pids = subprocess.run(["ip", "netns", "pids", "%s-dns" % PREFIX], capture_output=True, text=True).stdout
        for pid in pids.split():
            try:
                os.kill(int(pid), 15)
            except ProcessLookupError:
                pass


# ---- what the senders saw, per phase of the schedule ---------------------------

class Notes:
    def __init__(self):
        self.lock = threading.Lock()
        self.phase = "before the faults"
        self.phases = []                       # (name, start, end)
        self.seen = collections.defaultdict(collections.Counter)   # phase -> Counter of events
        self.examples = collections.defaultdict(list)
        self.retried = set()                   # Message-IDs sent again after a failed attempt
        self.progress = lambda: ""             # the senders' count so far, for the running log

    def start(self, name):
        with self.lock:
            if self.phases and self.phases[-1][2] is None:
                self.phases[-1] = self.phases[-1][:2] + (time.time(),)
            name = "%2d. %s" % (len(self.phases) + 1, name)
            self.phase = name
            self.phases.append((name, time.time(), None))
        print("%s  %s%s" % (time.strftime("%H:%M:%S"), name, self.progress()), flush=True)

    def event(self, what, detail, msgid=None):
        with self.lock:
            self.seen[self.phase][what] += 1
            if len(self.examples[self.phase]) < 3:
                self.examples[self.phase].append("%s: %s" % (what, detail[:160]))
            if msgid is not None:
                self.retried.add(msgid)


def _kind(error):
    """A short name for a sender's failure: a 4xx, a 5xx, no answer..."""
    code = getattr(error, "smtp_code", None)
    if code is None and isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [v[0] for v in error.recipients.values()]
        code = codes[0] if codes else None
    if code is not None:
        return "%dxx" % (code // 100)
    if isinstance(error, (TimeoutError, OSError)) and "timed out" in str(error):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return type(error).__name__


def mx_sender(notes):
    counter = iter(range(1 << 62))
    lock = threading.Lock()

    def send(msgid):
        with lock:
            n = next(counter)
        order = RELAYS[n % 2:] + RELAYS[:n % 2]
        for i, relay in enumerate(order):
            try:
                clients.send_to(HOSTS[relay], [ALICE], msgid, timeout=30)
                if i:
                    notes.event("MX: the other relay took it", relay)
                return
            except (OSError, smtplib.SMTPException) as e:
                notes.event("MX %s: %s" % (relay, _kind(e)), repr(e), msgid)
        time.sleep(MX_BACKOFF)        # as an MTA's queue would, not at once
        raise smtplib.SMTPException("no MX took " + msgid)
    return send


class Submitter:
    """bob's mail client: one authenticated session (STARTTLS, AUTH) kept
    for many messages, to alice@ and bob@, on relay1 or relay2; a new
    session on the other relay when one fails. (A new session per message
    would be refused after 10 AUTH a minute from one address:
    smtpd_client_auth_rate_limit.)"""

    def __init__(self, site, notes):
        self.site = site
        self.notes = notes
        self.session = None
        self.relay = 0

    def _close(self):
        if self.session is not None:
            try:
                self.session.close()
            except (OSError, smtplib.SMTPException):
                pass
        self.session = None

    def _connect(self):
        relay = RELAYS[self.relay]
        s = smtplib.SMTP(HOSTS[relay], 587, local_hostname="laptop.outside.test", timeout=30)
        try:
            s.ehlo()
            s._host = ha_conftest.TLS_NAME          # the certificate's name, as clients.imap_login does
            s.starttls(context=ssl.create_default_context(cafile=self.site.ca))
            s.ehlo()
            s.login(BOB, self.site.password(BOB))
        except BaseException:
            s.close()
            raise
        self.session = s

    def __call__(self, msgid):
        for attempt in range(2):
            try:
                if self.session is None:
                    self._connect()
                refused = self.session.sendmail(BOB, [ALICE, BOB],
                                                clients.message([ALICE, BOB], msgid, "campaign", BOB))
                if refused:
                    raise smtplib.SMTPRecipientsRefused(refused)
                return
            except (OSError, smtplib.SMTPException) as e:
                self.notes.event("submission %s: %s" % (RELAYS[self.relay], _kind(e)), repr(e), msgid)
                self._close()
                self.relay = 1 - self.relay
        time.sleep(SUBMISSION_BACKOFF)    # at most 10 AUTH a minute from one address
        raise smtplib.SMTPException("no relay took the submission " + msgid)


class Sender(fault_campaign.Sender):
    """The test's Sender, from the client host (the internet)."""

    def run(self):
        with deploysite.in_netns(PREFIX + "-client"):
            super().run()


class Totals:
    """What several Senders of one kind accepted and gave up."""

    def __init__(self, senders):
        self.accepted = [m for s in senders for m in s.accepted]
        self.refused = sum(s.refused for s in senders)


# ---- the faults ------------------------------------------------------------------

def host_up(deployed, host):
    """What comes back when a crashed host boots: its sshd, then `emailng up`."""
    if deployed.on(host, "sh", "-c", "test -s /run/sshd.pid && kill -0 $(cat /run/sshd.pid)",
                   check=False).returncode != 0:
        deployed.on(host, "/usr/sbin/sshd")
    deployed.emailng_on(host, "--site", "/etc/emailng/site.yaml", "--host", host, "up")


def services_up(deployed, host):
    try:
        status = json.loads(deployed.emailng_on(host, "--host", host, "status", "--json", check=False).stdout)
    except ValueError:
        return False
    return all(svc["state"] == "up" for h in status["hosts"] for svc in h["services"])


def pair_on(deployed, store):
    """Both proxies send pair1 to `store`."""
    for proxy in ("proxy1", "proxy2"):
        pairs = deployed.on(proxy, "cat", "%s/data/%s/healthd/pairs" % (HOST_STATE, proxy), check=False).stdout
        if "pair1 %s" % HOSTS[store] not in pairs.splitlines():
            return False
    return True


def wait_for(what, check, timeout, notes):
    started = time.time()
    while time.time() - started < timeout:
        try:
            if check():
                return time.time() - started
        except Exception:             # a host still coming back: ask again
            pass
        time.sleep(2)
    notes.event("recovery timed out", what)
    return None


def recovered(deployed, host, notes, timeout=300):
    took = wait_for(host + " up", lambda: services_up(deployed, host), timeout, notes)
    if host != "store2":              # pair1 lives on store1: the proxies give it back
        took = wait_for("pair1 back on store1", lambda: pair_on(deployed, "store1"), timeout, notes)
    return took


def schedule(deployed, site, notes, hold, log):
    def kill(host, label):
        notes.start("%s: %s killed (-9, all processes)" % (label, host))
        n = clients.kill_host(site, host)
        time.sleep(hold)
        notes.start("%s: %s recovering" % (label, host))
        host_up(deployed, host)
        took = recovered(deployed, host, notes)
        log.append("%s %s: %d processes killed, held %d s, back in %s s"
                   % (label, host, n, hold, "?" if took is None else "%.0f" % took))

    def cut(host):
        notes.start("store link cut: %s" % host)
        clients.fabric(site, "cut", host)
        try:
            time.sleep(hold)
        finally:
            clients.fabric(site, "heal", host)
        notes.start("store link cut: %s healing" % host)
        took = recovered(deployed, host, notes)
        log.append("link of %s cut for %d s, back in %s s" % (host, hold, "?" if took is None else "%.0f" % took))

    def relays_cut():
        notes.start("relays cut off from the inside (60 s)")
        clients.fabric(site, "partition", ",".join(RELAYS), clients.INSIDE)
        try:
            time.sleep(60)
        finally:
            clients.fabric(site, "unpartition")
        notes.start("relays reconnected")
        time.sleep(30)                # relay queue_run_delay: the queued mail leaves
        log.append("relays cut off from the inside for 60 s")

    steps = [lambda: kill("store1", "store kill"), lambda: kill("relay1", "relay kill"),
             lambda: kill("proxy1", "proxy kill"), lambda: kill("dir1", "directory down"),
             lambda: cut("store1"), relays_cut,
             lambda: kill("store2", "store kill"), lambda: kill("relay2", "relay kill"),
             lambda: kill("proxy2", "proxy kill"), lambda: cut("store2")]
    for step in steps:
        try:
            step()
        except Exception as e:        # one fault's trouble is a finding; the campaign goes on
            log.append("a step failed: %r" % e)
            notes.event("schedule step failed", repr(e))
        notes.start("between faults")
        time.sleep(hold)

    notes.start("rolling upgrade")
    deployed.upgrade_group_vars("bench/ha/campaign.py")
    build = deployed.make_build("emailng-next")
    try:
        cp, elapsed = deployed.deploy("--upgrade", "--build", build)
    except subprocess.TimeoutExpired as e:
        log.append("rolling upgrade: no end after %d s" % e.timeout)
        notes.event("upgrade timed out", repr(e))
        notes.start("after the upgrade")
        return
    hosts = deploysite.recap(cp.stdout)
    failed = sorted(h for h, r in hosts.items() if r[2] or r[3])
    log.append("rolling upgrade of %d hosts: exit %d in %.0f s%s" % (len(HOSTS), cp.returncode, elapsed,
                                                                    ", failed: %s" % failed if failed else ""))
    if cp.returncode != 0:
        notes.event("upgrade failed", (cp.stdout[-2000:] + cp.stderr).replace("\n", " | "))
    notes.start("after the upgrade")


# ---- counting --------------------------------------------------------------------

def queue_total(deployed):
    total = 0
    for host in MTAS:
        # check=False: status exits 1 while any service is down (e.g. OpenDKIM: the module's text)
        status = json.loads(deployed.emailng_on(host, "--host", host, "status", "--json", check=False).stdout)
        for h in status["hosts"]:
            for svc in h["services"]:
                if svc["name"] == "postfix" and svc.get("queue") is not None:
                    total += svc["queue"]
    return total


def store_ids(deployed, store, user, search=("mailbox", "INBOX")):
    conf = "%s/etc/%s/dovecot/dovecot.conf" % (HOST_STATE, store)
    cp = deployed.on(store, "doveadm", "-c", conf, "-f", "tab", "fetch", "-u", user, "hdr.message-id", *search)
    return collections.Counter(re.findall(r"<[^>]+>", cp.stdout))


def mailer_daemon(deployed, store, user):
    """The MAILER-DAEMON messages in the user's INBOX: (count, their
    Subject and first lines)."""
    conf = "%s/etc/%s/dovecot/dovecot.conf" % (HOST_STATE, store)
    cp = deployed.on(store, "doveadm", "-c", conf, "fetch", "-u", user, "hdr.subject body",
                     "mailbox", "INBOX", "FROM", "MAILER-DAEMON")
    found = re.findall(r"^hdr.subject: (.*)$", cp.stdout, re.M)
    return len(found), cp.stdout[:1500]


def postfix_logs(deployed):
    """(host, text) of every Postfix log of the mail hosts."""
    for host in MTAS:
        base = os.path.join(deployed.hosts_dir, host)
        for path in sorted(glob.glob(os.path.join(base, "var-lib-emailng", "log", "**", "postfix*.log*"),
                                     recursive=True)):
            with open(path, errors="replace") as f:
                yield host, path, f.read()


def bounced(deployed):
    lines = []
    for host, path, text in postfix_logs(deployed):
        queue_msgid = dict(re.findall(r" ([0-9A-F]{6,}|[0-9B-Zb-z]{10,}): message-id=(<[^>]*>)", text))
        for line in text.splitlines():
            if "status=bounced" in line:
                qid = re.search(r" ([0-9A-Za-z]{6,}): to=", line)
                lines.append((host, queue_msgid.get(qid.group(1)) if qid else None, line))
    return lines


def repaired(deployed):
    """The catch-up check's duplicate-removed lines of the proxies'
    healthd.log (docs/architecture.md 7a: copies of one Message-ID on the
    two stores, removed after the fact)."""
    lines = []
    for host in ("proxy1", "proxy2"):
        base = os.path.join(deployed.hosts_dir, host, "var-lib-emailng", "log")
        for path in sorted(glob.glob(os.path.join(base, "**", "healthd*.log*"), recursive=True)):
            with open(path, errors="replace") as f:
                lines += ["%s: %s" % (host, line.strip()) for line in f if "duplicate-removed" in line]
    return lines


def log_lines(deployed, msgid, limit=20):
    out = []
    for host, path, text in postfix_logs(deployed):
        qids = set(re.findall(r" ([0-9A-Za-z]{6,}): message-id=" + re.escape(msgid), text))
        for line in text.splitlines():
            if msgid in line or any(" %s:" % q in line for q in qids):
                out.append("%s: %s" % (host, line))
    return out[:limit]


def count(deployed, expected):
    """{(store, user): Counter} of every store and recipient."""
    return {(store, user): store_ids(deployed, store, user) for store in STORES for user in expected}


def settle(deployed, expected, timeout, notes):
    notes.start("draining the queues")
    wait_for("queues empty", lambda: queue_total(deployed) == 0, timeout, notes)
    notes.start("waiting for both stores to hold every message")
    started = time.time()
    while True:
        counts = count(deployed, expected)
        complete = all(counts[(s, u)][m] >= 1 for s in STORES for u, ids in expected.items() for m in ids)
        if complete or time.time() - started > timeout:
            break
        time.sleep(10)
    time.sleep(10)                    # a duplicate would follow within moments
    return count(deployed, expected)


def report(deployed, internet, submitted, expected, counts, notes, log, started, sending_ended, ended):
    accepted = len(internet.accepted) + len(submitted.accepted)
    deliveries = sum(len(ids) for ids in expected.values())
    once = missing = twice = 0
    problems = []
    for user, ids in expected.items():
        for m in ids:
            per_store = {s: counts[(s, user)][m] for s in STORES}
            if all(n == 1 for n in per_store.values()):
                once += 1
            else:
                if any(n == 0 for n in per_store.values()):
                    missing += 1
                if any(n > 1 for n in per_store.values()):
                    twice += 1
                problems.append((user, m, per_store))
    bounce_lines = bounced(deployed)
    daemon = {s: mailer_daemon(deployed, s, BOB) for s in STORES}
    daemon_text = {s: v[1] for s, v in daemon.items()}
    daemon = {s: v[0] for s, v in daemon.items()}
    sending = sending_ended - started
    print("\n==== fault campaign on separate hosts (prefix %s, content filter off) ====" % PREFIX)
    print("schedule:")
    for line in log:
        print("  " + line)
    print("accepted: %d messages (%d by MX to alice, %d submitted by bob to alice and bob), "
          "%d deliveries to count on each store" % (accepted, len(internet.accepted), len(submitted.accepted),
                                                      deliveries))
    print("senders gave up: %d by MX (neither relay took it), %d submissions (both relays refused)"
          % (internet.refused, submitted.refused))
    print("sending: %.0f s, %.2f accepted messages/s; campaign (deploy excluded, counting included): %.0f s"
          % (sending, accepted / sending if sending else 0, ended - started))
    print("deliveries exactly once on both stores: %d of %d; missing on a store: %d; duplicated on a store: %d"
          % (once, deliveries, missing, twice))
    print("bounced: %d status=bounced lines in the Postfix logs; MAILER-DAEMON messages in bob's INBOX: %s"
          % (len(bounce_lines), ", ".join("%s %d" % kv for kv in daemon.items())))
    removed = repaired(deployed)
    print("copies removed by the catch-up check (duplicate-removed in the proxies' healthd.log): %d"
          % len(removed))
    for line in removed[:20]:
        print("  " + line)
    for store, text in daemon_text.items():
        if daemon[store]:
            print("  MAILER-DAEMON in bob's INBOX on %s:\n%s" % (store, text))
    for host, msgid, line in bounce_lines[:20]:
        print("  bounce on %s (%s): %s" % (host, msgid, line))
    for user, m, per_store in problems[:50]:
        print("  %s %s: %s%s" % (user, m, ", ".join("%s %d" % kv for kv in per_store.items()),
                                 " (the sender retried it after a failed attempt)" if m in notes.retried else ""))
        for line in log_lines(deployed, m):
            print("      " + line)
    print("per phase, what the senders saw:")
    for name, t0, t1 in notes.phases:
        seen = notes.seen.get(name)
        dur = (t1 or ended) - t0
        if seen:
            print("  %-55s %5.0f s: %s" % (name, dur, "; ".join("%s %d" % kv for kv in sorted(seen.items()))))
            for example in notes.examples[name]:
                print("      e.g. " + example)
        else:
            print("  %-55s %5.0f s: nothing" % (name, dur))
    return missing == 0 and twice == 0 and not bounce_lines and not any(daemon.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10000, help="accepted messages at least (default 10000)")
    ap.add_argument("--hold", type=int, default=20, help="seconds a host stays down or cut (default 20)")
    ap.add_argument("--mx-senders", type=int, default=3)
    ap.add_argument("--submitters", type=int, default=1)
    ap.add_argument("--settle", type=int, default=900, help="seconds to wait for queues and replication")
    ap.add_argument("--keep", action="store_true", help="keep the deployment's folder and a copy of every host's logs after the end")
    args = ap.parse_args()
    if args.keep:
        os.environ["EMAILNG_E2E_KEEP"] = "1"
    @contextlib.contextmanager
    def fixture():
        d = deploysite.bring_up(PREFIX, site_extra=NO_SEND_LIMITS)
        try:
            d.deploy()
            yield d
        finally:
            deploysite.tear_down(d, keep=args.keep)
    deploy_started = time.time()
    with contextlib.ExitStack() as stack:
        deployed = stack.enter_context(fixture())
        first = deployed.runs[0][1]
        if first.returncode != 0:
            raise SystemExit("deploy failed:\n" + first.stdout[-4000:] + first.stderr)
        print("deployed %d hosts in %.0f s (%s)" % (len(HOSTS), time.time() - deploy_started, deployed.root),
              flush=True)
        stack.enter_context(internet_dns(deployed))
        site = Site(deployed)
        site.password(ALICE)
        site.password(BOB)
        notes = Notes()
        senders = [Sender(mx_sender(notes), 0) for _ in range(args.mx_senders)]
        subs = [Sender(Submitter(site, notes), 0) for _ in range(args.submitters)]
        notes.progress = lambda: " (accepted %d by MX, %d submitted)" % (
            sum(len(s.accepted) for s in senders), sum(len(s.accepted) for s in subs))
        started = time.time()
        notes.start("before the faults")
        for s in senders + subs:
            s.start()
        log = []
        try:
            time.sleep(args.hold)
            schedule(deployed, site, notes, args.hold, log)
            notes.start("sending until %d are accepted" % args.messages)
            while sum(len(s.accepted) for s in senders + subs) < args.messages:
                time.sleep(2)
        finally:
            for s in senders + subs:
                s.stop.set()
            for s in senders + subs:
                s.join(120)
        sending_ended = time.time()
        # The threads' records, per kind (the progress line keeps reading the threads').
        internet = Totals(senders)
        submitted = Totals(subs)
        expected = {ALICE: internet.accepted + submitted.accepted, BOB: submitted.accepted}
        with open(os.path.join(deployed.root, "accepted.txt"), "w") as f:
            for user, ids in expected.items():
                f.writelines("%s %s\n" % (user, m) for m in ids)
        counts = settle(deployed, expected, args.settle, notes)
        with open(os.path.join(deployed.root, "counts.json"), "w") as f:
            json.dump({"%s %s" % k: v for k, v in counts.items()}, f)
        ok = report(deployed, internet, submitted, expected, counts, notes, log, started, sending_ended, time.time())
        if args.keep:                 # the hosts' folders go with the hosts: their logs stay for a finding
            for host in HOSTS:
                shutil.copytree(os.path.join(deployed.hosts_dir, host, "var-lib-emailng", "log"),
                                os.path.join(deployed.root, "logs", host), dirs_exist_ok=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
