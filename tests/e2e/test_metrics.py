"""Prometheus endpoints of the small site (O1; docs/admin-manual.md, "Monitoring").

Three endpoints on 127.0.0.1 (the one-host site has no firewall, so they
listen on loopback only): Dovecot's stats service (OpenMetrics, 9900), Debian's
prometheus-postfix-exporter (9154) and emailng-metricsd (9901). Each is parsed
with python3-prometheus-client's parsers; a login, a failed login and a
delivery must move exactly the counters that name them (Dovecot's, Postfix's
and emailng-policyd's, whose request count and latency histogram must match
the decision lines of its log); `emailng status --json` and the metrics must
agree; metrics.enabled: false starts none. (The quarantine's figures are
tested on the filter site, tests/e2e/test_filter_pipeline.py.)
"""

import errno
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from conftest import (GOOD_SITE, IMAP4_SSL, make_message, msgid, own_site, smtp_send, wait_for_message)

ADDRESS = "127.0.0.1"
DOVECOT, POSTFIX, EMAILNG = 9900, 9154, 9901
COUNTER_WAIT = 15.0     # the exporter tails postfix.log; Dovecot's stats are fed asynchronously


def fetch(port, path="/metrics"):
    with urllib.request.urlopen("http://%s:%d%s" % (ADDRESS, port, path), timeout=10) as r:
        return r.headers.get("Content-Type", ""), r.read().decode()


def samples(port):
    """{(name, frozenset(labels)): value} of one endpoint, through a real parser:
    OpenMetrics for Dovecot (what it serves), the text format for the others."""
    ctype, text = fetch(port)
    parse = openmetrics_families if port == DOVECOT else text_families
    out = {}
    for family in parse(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


def wait_for_change(port, name, before, timeout=COUNTER_WAIT, **labels):
    """The sample once it differs from `before` (or as it is at the timeout),
    then a second look a moment later so that a late double count shows."""
    deadline = time.monotonic() + timeout
    while True:
        now = value(samples(port), name, **labels)
        if now != before or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    return value(samples(port), name, **labels)


def test_each_endpoint_parses(site):
    ctype, _ = fetch(DOVECOT)
    assert ctype.startswith("application/openmetrics-text"), ctype
    dovecot = samples(DOVECOT)
    names = {name for name, _ in dovecot}
    for family in ("dovecot_auth_successes_count", "dovecot_auth_failures_count", "dovecot_login_attempts_count",
                   "dovecot_sessions_total", "dovecot_lmtp_deliveries_total",
                   "dovecot_lmtp_delivery_failures_total"):
        assert family in names, "%s not served by Dovecot: %s" % (family, sorted(names))

    postfix = samples(POSTFIX)
    showq = os.path.join(site.state, "data", "mail", "postfix", "queue", "public", "showq")
    assert value(postfix, "postfix_up", path=showq) == 1.0     # it reached our showq
    for queue in ("active", "deferred", "hold", "incoming", "maildrop"):
        assert ("postfix_showq_message_size_bytes_count", frozenset({("queue", queue)})) in postfix

    ctype, _ = fetch(EMAILNG)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    ours = samples(EMAILNG)
    cert = os.path.join(site.state, "tls", "server.crt")
    end = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-enddate"], capture_output=True,
                         text=True, check=True).stdout.strip().split("=", 1)[1]
    assert value(ours, "emailng_certificate_expiry_timestamp_seconds", certificate="server", path=cert) == \
        ssl.cert_time_to_seconds(end)
    mail = os.path.join(site.state, "data", "mail", "mail")
    st = os.statvfs(mail)
    assert value(ours, "emailng_volume_size_bytes", volume="mail", path=mail) == st.f_blocks * st.f_frsize
    avail = value(ours, "emailng_volume_avail_bytes", volume="mail", path=mail)
    assert abs(avail - st.f_bavail * st.f_frsize) < 64 * 1024 * 1024, avail   # other writers meanwhile


def test_only_metrics_path(site):
    with pytest.raises(urllib.error.HTTPError) as e:
        fetch(EMAILNG, "/")
    assert e.value.code == 404


def test_login_moves_dovecot_counters(site):
    user, password = site.new_user()
    key = dict(service="imap")
    before = samples(DOVECOT)
    m = IMAP4_SSL(site)
    m.login(user, password)
    m.logout()
    ok = wait_for_change(DOVECOT, "dovecot_auth_successes_total",
                         value(before, "dovecot_auth_successes_total", **key), **key)
    assert ok == value(before, "dovecot_auth_successes_total", **key) + 1
    after = samples(DOVECOT)
    assert value(after, "dovecot_login_attempts_total", **key) == \
        value(before, "dovecot_login_attempts_total", **key) + 1
    assert value(after, "dovecot_auth_failures_total", **key) == value(before, "dovecot_auth_failures_total", **key)

    m = IMAP4_SSL(site)
    with pytest.raises(m.error):
        m.login(user, password + "-wrong")
    failed = wait_for_change(DOVECOT, "dovecot_auth_failures_total",
                             value(after, "dovecot_auth_failures_total", **key), **key)
    assert failed == value(after, "dovecot_auth_failures_total", **key) + 1
    assert value(samples(DOVECOT), "dovecot_auth_successes_total", **key) == ok


def test_delivery_moves_dovecot_and_postfix_counters(site):
    user, _ = site.new_user()
    sent = dict(stage="transmission")       # one sample per message Postfix handed to LMTP
    dovecot, postfix = samples(DOVECOT), samples(POSTFIX)
    mid = msgid()
    smtp_send("sender@example.org", [user], make_message("sender@example.org", user, mid)[0])
    wait_for_message(site, user, mid)
    lmtp = wait_for_change(DOVECOT, "dovecot_lmtp_deliveries_total",
                           value(dovecot, "dovecot_lmtp_deliveries_total"))
    assert lmtp == value(dovecot, "dovecot_lmtp_deliveries_total") + 1
    handed = wait_for_change(POSTFIX, "postfix_lmtp_delivery_delay_seconds_count",
                             value(postfix, "postfix_lmtp_delivery_delay_seconds_count", **sent), **sent)
    assert handed == value(postfix, "postfix_lmtp_delivery_delay_seconds_count", **sent) + 1
    after = samples(POSTFIX)
    assert value(after, "postfix_smtpd_messages_processed_total", sasl_method="") == \
        value(postfix, "postfix_smtpd_messages_processed_total", sasl_method="") + 1
    assert value(samples(DOVECOT), "dovecot_lmtp_delivery_failures_total") == \
        value(dovecot, "dovecot_lmtp_delivery_failures_total")


POLICIES = ("ratelimit", "spf", "quota", "greylist")
ACTIONS = ("dunno", "prepend", "defer", "reject", "other")
STATES = ("RCPT", "END-OF-MESSAGE", "other")
POLICYD_WRITES = 5      # templates/policyd/policyd.conf: metrics_interval


def policyd_decisions(site):
    """Decision lines in policyd's log: one per answered request."""
    with open(os.path.join(site.state, "log", "mail", "policyd.log"), errors="replace") as f:
        return sum(1 for line in f if " decision " in line)


def policyd_figures(m):
    requests = {(st, a): value(m, "emailng_policyd_requests_total", state=st, action=a) for st in STATES for a in ACTIONS}
    actions = {(p, a): value(m, "emailng_policyd_actions_total", policy=p, action=a) for p in POLICIES for a in ACTIONS}
    return requests, actions


def test_policyd_counts_a_delivery_by_policy(site):
    """One message to one recipient through the MX: policyd answers one RCPT
    request (each of its four policies once) and one END-OF-MESSAGE request;
    the latency histogram counts exactly the answers, as many as the decision
    lines its log gained."""
    user, _ = site.new_user()
    before = samples(EMAILNG)
    assert value(before, "emailng_daemon_up", daemon="policyd") == 1.0
    assert value(before, "emailng_daemon_metrics_up", daemon="policyd") == 1.0
    assert site.services()["policyd"]["state"] == "up"
    # the daemon writes its counters every POLICYD_WRITES s, the log at once
    time.sleep(POLICYD_WRITES + 1)
    before = samples(EMAILNG)
    logged = policyd_decisions(site)
    req0, act0 = policyd_figures(before)
    count0 = value(before, "emailng_policyd_request_duration_seconds_count")
    assert count0 == sum(req0.values()) + value(before, "emailng_policyd_bad_requests_total")

    mid = msgid()
    smtp_send("sender@example.org", [user], make_message("sender@example.org", user, mid)[0])
    wait_for_message(site, user, mid)
    time.sleep(POLICYD_WRITES + 1)      # both answers came before the queue took the message
    after = samples(EMAILNG)
    count = value(after, "emailng_policyd_request_duration_seconds_count")
    req1, act1 = policyd_figures(after)
    dreq = {k: req1[k] - req0[k] for k in req1 if req1[k] != req0[k]}
    dact = {k: act1[k] - act0[k] for k in act1 if act1[k] != act0[k]}
    # the message went through: nothing refused it
    assert sum(v for (st, a), v in dreq.items() if st == "RCPT") == 1, dreq
    assert sum(v for (st, a), v in dreq.items() if st == "END-OF-MESSAGE") == 1, dreq
    assert all(a in ("dunno", "prepend") for (st, a) in dreq), dreq
    for policy in POLICIES:
        answers = {a: v for (p, a), v in dact.items() if p == policy}
        assert sum(answers.values()) == 1 and set(answers) <= {"dunno", "prepend"}, (policy, dact)
    # the RCPT answer is a header exactly when SPF answered with one
    rcpt_action = [a for (st, a) in dreq if st == "RCPT"][0]
    assert (rcpt_action == "prepend") == (("spf", "prepend") in dact), (dreq, dact)
    assert count == count0 + sum(dreq.values()), (count, count0, dreq)
    assert count - count0 == policyd_decisions(site) - logged
    assert value(after, "emailng_policyd_request_duration_seconds_bucket", le="+Inf") == count
    assert value(after, "emailng_policyd_request_duration_seconds_sum") > \
        value(before, "emailng_policyd_request_duration_seconds_sum")
    assert value(after, "emailng_policyd_start_time_seconds") <= time.time()


def test_status_lists_endpoints_and_agrees(site):
    services = site.services()
    assert services["postfix-exporter"]["state"] == "up" and services["postfix-exporter"]["ports"] == [POSTFIX]
    assert services["metricsd"]["state"] == "up" and services["metricsd"]["ports"] == [EMAILNG]
    assert DOVECOT in services["dovecot"]["ports"], services["dovecot"]
    # The queue `status` counts (files in the queue folders) is what showq reports.
    queued = sum(v for (name, _), v in samples(POSTFIX).items() if name == "postfix_showq_message_size_bytes_count")
    assert services["postfix"]["queue"] == queued
    text = site.run("status", check=True).out
    assert "http://%s:%d/metrics" % (ADDRESS, DOVECOT) in text, text


def test_listens_on_loopback_only(site):
    """Bound to 127.0.0.1, not to every address: 127.0.0.2 (also loopback,
    the address the test clients use) finds nothing there."""
    for port in (DOVECOT, POSTFIX, EMAILNG):
        s = socket.socket()
        try:
            with pytest.raises(ConnectionRefusedError):
                s.connect(("127.0.0.2", port))
        finally:
            s.close()


def test_disabled_starts_no_endpoint():
    text = GOOD_SITE + "metrics: {enabled: false}\n"
    with own_site("nometrics", text, timeout=180) as s:
        services = s.services()
        assert "postfix-exporter" not in services and "metricsd" not in services, sorted(services)
        assert DOVECOT not in services["dovecot"]["ports"], services["dovecot"]
        for port in (DOVECOT, POSTFIX, EMAILNG):
            c = socket.socket()
            try:
                assert c.connect_ex((ADDRESS, port)) == errno.ECONNREFUSED, port
            finally:
                c.close()


MONITORING = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "docs", "monitoring")


def test_shipped_prometheus_files_pass_promtool():
    """The example scrape config and the alert rules, with the rules' own unit tests."""
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "emailng-rules.yml"],
                 ["test", "rules", "emailng-rules-test.yml"]):
        r = subprocess.run(["promtool", *args], cwd=MONITORING, capture_output=True, text=True)
        assert r.returncode == 0, "promtool %s:\n%s%s" % (" ".join(args), r.stdout, r.stderr)


def test_real_prometheus_scrapes_the_site(site, tmp_path):
    """Debian's Prometheus, with the shipped rules, scrapes the three endpoints
    of the small site: every target up, and samples of each in its database."""
    import json
    rules = os.path.join(MONITORING, "emailng-rules.yml")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [%s]\n"
        "scrape_configs:\n"
        "  - {job_name: emailng-dovecot, static_configs: [{targets: ['%s:%d']}]}\n"
        "  - {job_name: emailng-postfix, static_configs: [{targets: ['%s:%d']}]}\n"
        "  - {job_name: emailng, static_configs: [{targets: ['%s:%d']}]}\n"
        % (json.dumps(rules), ADDRESS, DOVECOT, ADDRESS, POSTFIX, ADDRESS, EMAILNG))
    api = "http://127.0.0.1:19090/api/v1/"
    log = open(tmp_path / "prometheus.log", "w")
    p = subprocess.Popen(["prometheus", "--config.file=%s" % config, "--storage.tsdb.path=%s" % (tmp_path / "data"),
                          "--web.listen-address=127.0.0.1:19090"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        health = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(api + "targets", timeout=5) as r:
                    targets = json.load(r)["data"]["activeTargets"]
                health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets}
                if len(health) == 3 and all(h == "up" for h, _ in health.values()):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.5)
        assert health == {j: ("up", "") for j in ("emailng-dovecot", "emailng-postfix", "emailng")}, health

        def query(expr):
            q = urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(api + "query?" + q, timeout=5) as r:
                return json.load(r)["data"]["result"]
        assert query("dovecot_login_attempts_count"), "no Dovecot samples stored"
        assert query('postfix_up{job="emailng-postfix"} == 1'), "no postfix exporter samples stored"
        assert query('emailng_certificate_expiry_timestamp_seconds{certificate="server"}'), "no metricsd samples"
        # The shipped rules load and evaluate on these series (every second;
        # "unknown" until the first evaluation).
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(api + "rules", timeout=5) as r:
                groups = json.load(r)["data"]["groups"]
            healthy = [g["name"] for g in groups] == ["emailng"] and all(
                rule["health"] == "ok" for rule in groups[0]["rules"])
            if healthy or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert healthy, groups
    finally:
        p.terminate()
        p.wait(timeout=30)
        log.close()
