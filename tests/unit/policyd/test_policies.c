/* Unit tests for emailng-policyd's policies (cmocka): the exported table,
 * the configuration, send limits, greylisting, quota with alias
 * expansion and its cache (through an injected lookup), SPF decisions
 * and the helper's wire format, and the engine that combines them. The
 * LMDB store is real, in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cidr.h"
#include "config.h"
#include "engine.h"
#include "fsutil.h"
#include "greylist.h"
#include "quota.h"
#include "quotaclient.h"
#include "received_spf_parse.h"
#include "ratelimit.h"
#include "spf.h"
#include "spfhelper.h"
#include "listpolicy.h"
#include "stats.h"
#include "store.h"
#include "table.h"

static const char TABLE[] =
    "# exported by emailng\n"
    "emailng-policyd-table 1\n"
    "mailbox alice@example.test pair1\n"
    "mailbox bob@example.test pair1\n"
    "mailbox carol@example.test pair2\n"
    "alternate alice.smith@example.test alice@example.test\n"
    "alias team@example.test alice@example.test bob@example.test\n"
    "alias team@example.test outside@example.org\n"
    "alias all@example.test team@example.test carol@example.test all@example.test\n"
    "alias loop1@example.test loop2@example.test\n"
    "alias loop2@example.test loop1@example.test\n"
    "limit alice@example.test msgs_per_hour=10 rcpts_per_day=0\n"
    "alias staff@example.test alice@example.test bob@example.test\n"
    "list staff@example.test internal alice@example.test\n"
    "list news@example.test announce Alice@Example.test alice.smith@example.test\n"
    "list proj@example.test open\n";

/* ---- fixtures ---- */

static char tmpdir[64];
static store *st;
static config cfg;
static table tab;
static int64_t fake_now = 1700000000;

static int64_t now_fn(void)
{
    return fake_now;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/policyd-unit-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    buf err = BUF_INIT;
    if (store_open(&st, tmpdir, 16, &err) != 0)
        fail_msg("%s", err.data);
    buf_free(&err);
    config_defaults(&cfg);
    table_init(&tab);
    err = (buf)BUF_INIT;
    if (table_parse(&tab, TABLE, strlen(TABLE), "table", &err) != 0)
        fail_msg("%s", err.data);
    buf_free(&err);
    fake_now = 1700000000;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    table_free(&tab);
    config_free(&cfg);
    buf err = BUF_INIT;
    fs_remove_tree(tmpdir, &err);
    buf_free(&err);
    return 0;
}

static request *mkreq(const char *attrs)
{
    request *r = malloc(sizeof(*r));
    request_init(r, NULL);
    buf b = BUF_INIT;
    buf_printf(&b, "request=smtpd_access_policy\n%s\n\n", attrs);
    size_t used;
    assert_int_equal(request_feed(r, b.data, b.len, &used), REQ_DONE);
    if (r->bad)
        fail_msg("test request is bad: %s", r->bad);
    buf_free(&b);
    return r;
}

static void freereq(request *r)
{
    request_free(r);
    free(r);
}

/* ---- table ---- */

static void test_table_expand(void **state)
{
    (void)state;
    str_list l = {0};
    int trunc;
    assert_int_equal(table_expand(&tab, "All@Example.TEST", 100, &l, &trunc), 3);
    assert_string_equal(l.items[0], "carol@example.test");     /* breadth first */
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i]);
    free(l.items);
    l = (str_list){0};
    assert_int_equal(table_expand(&tab, "alice.smith+news@example.test", 100, &l, &trunc), 1);
    assert_string_equal(l.items[0], "alice@example.test");
    free(l.items[0]);
    free(l.items);
    l = (str_list){0};
    assert_int_equal(table_expand(&tab, "loop1@example.test", 100, &l, &trunc), 0);
    assert_int_equal(table_expand(&tab, "nobody@example.org", 100, &l, &trunc), 0);
    assert_int_equal(table_expand(&tab, "all@example.test", 2, &l, &trunc), 2);
    assert_true(trunc);
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i]);
    free(l.items);
    assert_string_equal(table_pair(&tab, "carol@example.test"), "pair2");
}

static void expect_table_error(const char *text, const char *want)
{
    table t;
    table_init(&t);
    buf err = BUF_INIT;
    assert_int_equal(table_parse(&t, text, strlen(text), "t", &err), -1);
    if (!strstr(buf_cstr(&err), want))
        fail_msg("error \"%s\" does not contain \"%s\"", buf_cstr(&err), want);
    buf_free(&err);
    table_free(&t);
}

static void test_table_errors(void **state)
{
    (void)state;
    expect_table_error("", "empty table");
    expect_table_error("mailbox a@b.c p\n", "t:1: expected the header");
    expect_table_error("emailng-policyd-table 1\nmailbox a@b.c\n", "t:2: mailbox needs");
    expect_table_error("emailng-policyd-table 1\nmailbox a\"b@b.c p\n", "t:2:");
    expect_table_error("emailng-policyd-table 1\nmailbox a@b.c p/q\n", "bad store pair");
    expect_table_error("emailng-policyd-table 1\nmailbox a@b.c p\nmailbox a@b.c p\n", "t:3: a@b.c is listed twice");
    expect_table_error("emailng-policyd-table 1\nalternate x@b.c a@b.c\n", "not a mailbox");
    expect_table_error("emailng-policyd-table 1\nlimit a@b.c msgs_per_hour=-1\n", "t:2: expected");
    expect_table_error("emailng-policyd-table 1\nlimit a@b.c speed=3\n", "t:2: expected");
    expect_table_error("emailng-policyd-table 1\nfrobnicate a@b.c\n", "unknown record type");
    expect_table_error("emailng-policyd-table 1\nlist a@b.c\n", "t:2: list needs ADDRESS POLICY");
    expect_table_error("emailng-policyd-table 1\nlist a@b.c members-only\n", "t:2: list policy must be");
    expect_table_error("emailng-policyd-table 1\nlist a@b.c open o\"x@b.c\n", "t:2:");
    expect_table_error("emailng-policyd-table 1\nlist a@b.c open\nlist a@b.c internal\n", "t:3: list a@b.c is listed twice");
    table t;
    table_init(&t);
    buf err = BUF_INIT;
    const char nul[] = "emailng-policyd-table 1\nmailbox a@b.c p\0\n";
    assert_int_equal(table_parse(&t, nul, sizeof(nul) - 1, "t", &err), -1);
    assert_non_null(strstr(err.data, "t:2: NUL byte"));
    buf_free(&err);
    table_free(&t);
}

static void test_table_limits(void **state)
{
    (void)state;
    send_limits out;
    table_limits(&tab, "ALICE@example.test", &cfg.ratelimit.authenticated, &out);
    assert_int_equal(out.msgs_per_hour, 10);
    assert_int_equal(out.rcpts_per_day, 0);
    assert_int_equal(out.rcpts_per_msg, cfg.ratelimit.authenticated.rcpts_per_msg);
    table_limits(&tab, "bob@example.test", &cfg.ratelimit.authenticated, &out);
    assert_int_equal(out.msgs_per_hour, cfg.ratelimit.authenticated.msgs_per_hour);
}

/* ---- config ---- */

static const char CONF[] =
    "listen: [127.0.0.1:10040, '[::1]:10040']\n"
    "user: nobody\n"
    "quota:\n"
    "  timeout_ms: 300\n"
    "  stores:\n"
    "    pair1: [127.0.0.1:12340, 127.0.0.2:12340]\n"
    "ratelimit:\n"
    "  authenticated: {msgs_per_hour: 10, rcpts_per_msg: 20, rcpts_per_day: 30}\n"
    "spf:\n"
    "  enabled: true\n"
    "  reject_fail: false\n"
    "  trusted_forwarders: [192.0.2.0/24]\n"
    "  helpers: 3\n"
    "  checks_per_helper: 50\n"
    "greylist:\n"
    "  domains: [Example.TEST]\n"
    "  delay: 60\n";

static void test_config(void **state)
{
    (void)state;
    config c;
    config_defaults(&c);
    buf err = BUF_INIT;
    if (config_parse(&c, CONF, strlen(CONF), "c.yaml", &err) != 0)
        fail_msg("%s", err.data);
    assert_int_equal(c.listen.n, 2);
    assert_int_equal(c.quota.npairs, 1);
    assert_int_equal(c.quota.pairs[0].n, 2);
    assert_int_equal(c.quota.timeout_ms, 300);
    assert_int_equal(c.ratelimit.authenticated.rcpts_per_day, 30);
    assert_true(c.spf.enabled);
    assert_false(c.spf.reject_fail);
    assert_true(cidr_list_match(&c.spf.trusted_forwarders, "192.0.2.77"));
    assert_false(cidr_list_match(&c.spf.trusted_forwarders, "192.0.3.1"));
    assert_int_equal(c.spf.helpers, 3);
    assert_int_equal(c.spf.checks_per_helper, 50);
    assert_int_equal(c.spf.max_checks, 32);
    assert_string_equal(c.greylist.domains.items[0], "example.test");
    assert_int_equal(c.greylist.delay, 60);
    config_free(&c);
    buf_free(&err);
}

static void expect_config_error(const char *text, const char *want)
{
    config c;
    config_defaults(&c);
    buf err = BUF_INIT;
    assert_int_equal(config_parse(&c, text, strlen(text), "c.yaml", &err), -1);
    if (!strstr(buf_cstr(&err), want))
        fail_msg("error \"%s\" does not contain \"%s\"", buf_cstr(&err), want);
    buf_free(&err);
    config_free(&c);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_config_error("user: nobody\n", "listen");
    expect_config_error("listen: 127.0.0.1:10040\nlisten_typo: 1\n", "unknown key \"listen_typo\"");
    expect_config_error("listen: 127.0.0.1:10040\nspf: {enabeld: true}\n",
                        "c.yaml:2:7: spf: unknown key \"enabeld\"; expected one of: enabled, ");
    expect_config_error("listen: localhost:10040\n", "numeric host:port");
    expect_config_error("listen: unix:relative/policy\n", "a unix socket needs an absolute path");
    expect_config_error("listen: unix:/x\npeer_users: postfix\n", "peer_users: expected a list");
    expect_config_error("listen: 127.0.0.1:10040\nquota: {timeout_ms: fast}\n",
                        "c.yaml:2:21: quota.timeout_ms: \"fast\" is not a whole number from 10 to 60000");
    expect_config_error("listen: 127.0.0.1:10040\nquota: {stores: {p: [nowhere]}}\n", "quota.stores.p");
    expect_config_error("listen: 127.0.0.1:10040\ngreylist: {allow_clients: [300.1.1.1]}\n", "not an address");
    expect_config_error("listen: [127.0.0.1:10040\n", "c.yaml:2:1: not valid YAML");
    expect_config_error("listen: 127.0.0.1:10040\nspf: {enabled: maybe}\n", "true or false");
    /* file text in a report is escaped: one report, one line */
    expect_config_error("listen: 127.0.0.1:10040\n\"a\\nb\\rc\\x01\": 1\n",
                        "c.yaml:2:1: (top level): unknown key \"a\\nb\\rc\\x01\"; expected one of: listen, ");
}

/* ---- send limits ---- */

static void send_message(const char *user, const char *inst, int rcpts, int expect_deferred_at)
{
    (void)expect_deferred_at;
    char a[512];
    snprintf(a, sizeof(a), "protocol_state=END-OF-MESSAGE\nsasl_username=%s\nclient_address=192.0.2.9\n"
             "instance=%s\nrecipient_count=%d", user, inst, rcpts);
    request *r = mkreq(a);
    assert_int_equal(ratelimit_record(&cfg, st, r, fake_now), 0);
    freereq(r);
}

static int check(const char *attrs, long rcpts_in_msg, decision *d)
{
    request *r = mkreq(attrs);
    int rc = ratelimit_check(&cfg, &tab, st, r, fake_now, rcpts_in_msg, d);
    freereq(r);
    return rc;
}

static void test_ratelimit_messages_per_hour(void **state)
{
    (void)state;
    decision d;
    decision_init(&d);
    const char *alice = "protocol_state=RCPT\nsasl_username=alice@example.test\nclient_address=192.0.2.9";
    for (int i = 0; i < 10; i++) {
        assert_int_equal(check(alice, 0, &d), 0);
        send_message("alice@example.test", "x", 1, 0);
        fake_now += 10;
    }
    /* the 11th message in the hour is deferred, with a 4.7.x code a user understands */
    assert_int_equal(check(alice, 0, &d), 1);
    assert_true(strncmp(d.action.data, "450 4.7.1 ", 10) == 0);
    assert_non_null(strstr(d.action.data, "10 messages in the last hour"));
    assert_non_null(strstr(d.action.data, "you can send again in"));
    /* a different user is not affected (default limit 100) */
    assert_int_equal(check("protocol_state=RCPT\nsasl_username=bob@example.test\nclient_address=192.0.2.9", 0, &d), 0);
    /* after the hour the window reopens */
    fake_now += 3600;
    assert_int_equal(check(alice, 0, &d), 0);
    decision_free(&d);
}

static void test_ratelimit_survives_reopen(void **state)
{
    (void)state;
    cfg.ratelimit.authenticated.msgs_per_hour = 2;
    send_message("bob@example.test", "a", 1, 0);
    send_message("bob@example.test", "b", 1, 0);
    store_close(st);
    buf err = BUF_INIT;
    assert_int_equal(store_open(&st, tmpdir, 16, &err), 0);
    buf_free(&err);
    decision d;
    decision_init(&d);
    assert_int_equal(check("protocol_state=RCPT\nsasl_username=bob@example.test\nclient_address=192.0.2.9", 0, &d), 1);
    decision_free(&d);
}

static void test_ratelimit_recipients(void **state)
{
    (void)state;
    cfg.ratelimit.authenticated = (send_limits){0, 3, 5};
    decision d;
    decision_init(&d);
    const char *bob = "protocol_state=RCPT\nsasl_username=bob@example.test\nclient_address=192.0.2.9";
    assert_int_equal(check(bob, 2, &d), 0);
    assert_int_equal(check(bob, 3, &d), 1);
    assert_true(strncmp(d.action.data, "452 4.7.1 Too many recipients", 29) == 0);
    send_message("bob@example.test", "m1", 3, 0);
    assert_int_equal(check(bob, 1, &d), 0);     /* 3 today + 1 in this message < 5 */
    assert_int_equal(check(bob, 2, &d), 1);     /* 3 + 2 reaches 5 */
    assert_non_null(strstr(d.action.data, "recipients today"));
    /* alice: rcpts_per_day=0 in the table = no daily limit */
    cfg.ratelimit.authenticated.rcpts_per_msg = 0;
    send_message("alice@example.test", "m2", 50, 0);
    assert_int_equal(check("protocol_state=RCPT\nsasl_username=alice@example.test\nclient_address=192.0.2.9", 0, &d), 0);
    decision_free(&d);
}

static void test_ratelimit_unauthenticated_by_network(void **state)
{
    (void)state;
    cfg.ratelimit.unauthenticated = (send_limits){1, 0, 0};
    decision d;
    decision_init(&d);
    request *r = mkreq("protocol_state=END-OF-MESSAGE\nclient_address=2001:db8:1:2::5\nrecipient_count=1");
    assert_int_equal(ratelimit_record(&cfg, st, r, fake_now), 0);
    freereq(r);
    /* same /64: limited */
    assert_int_equal(check("protocol_state=RCPT\nclient_address=2001:db8:1:2::99", 0, &d), 1);
    assert_non_null(strstr(d.action.data, "Too many messages from your address"));
    assert_int_equal(check("protocol_state=RCPT\nclient_address=2001:db8:1:3::5", 0, &d), 0);
    decision_free(&d);
}

/* ---- greylisting ---- */

static int grey(const char *attrs, decision *d)
{
    request *r = mkreq(attrs);
    int rc = greylist_check(&cfg, st, r, fake_now, d);
    freereq(r);
    return rc;
}

static void test_greylist(void **state)
{
    (void)state;
    decision d;
    decision_init(&d);
    const char *t1 = "protocol_state=RCPT\nclient_address=198.51.100.7\nsender=x@example.org\nrecipient=alice@example.test";
    /* off by default */
    assert_int_equal(grey(t1, &d), 0);
    cfg.greylist.enabled = 1;
    cfg.greylist.delay = 300;
    assert_int_equal(grey(t1, &d), 1);
    assert_true(strncmp(d.action.data, "DEFER_IF_PERMIT 4.7.1 Greylisted", 32) == 0);
    fake_now += 100;
    assert_int_equal(grey(t1, &d), 1);          /* too early */
    fake_now += 250;
    assert_int_equal(grey(t1, &d), 0);          /* retry after the delay */
    /* the client network is now known good: another triplet passes */
    assert_int_equal(grey("protocol_state=RCPT\nclient_address=198.51.100.200\nsender=y@example.org\nrecipient=bob@example.test", &d), 0);
    assert_non_null(strstr(d.reason.data, "known-good"));
    /* exemptions */
    const char *t2 = "protocol_state=RCPT\nclient_address=203.0.113.5\nsender=z@example.net\nrecipient=bob@example.test";
    assert_int_equal(grey(t2, &d), 1);
    assert_int_equal(grey("protocol_state=RCPT\nclient_address=203.0.113.5\nsasl_username=bob@example.test\nsender=z@example.net\nrecipient=bob@example.test", &d), 0);
    str_list_has(&cfg.greylist.allow_senders, "");
    cfg.greylist.allow_senders.items = malloc(sizeof(char *));
    cfg.greylist.allow_senders.items[0] = strdup("example.net");
    cfg.greylist.allow_senders.n = 1;
    assert_int_equal(grey(t2, &d), 0);
    cidr_list_add(&cfg.greylist.allow_clients, "203.0.113.0/24");
    assert_int_equal(grey("protocol_state=RCPT\nclient_address=203.0.113.9\nsender=q@example.com\nrecipient=bob@example.test", &d), 0);
    /* per domain only */
    cfg.greylist.enabled = 0;
    cfg.greylist.domains.items = malloc(sizeof(char *));
    cfg.greylist.domains.items[0] = strdup("other.test");
    cfg.greylist.domains.n = 1;
    assert_int_equal(grey("protocol_state=RCPT\nclient_address=192.0.2.50\nsender=q@example.com\nrecipient=bob@example.test", &d), 0);
    assert_int_equal(grey("protocol_state=RCPT\nclient_address=192.0.2.50\nsender=q@example.com\nrecipient=bob@other.test", &d), 1);
    /* triplets survive a restart */
    store_close(st);
    buf err = BUF_INIT;
    assert_int_equal(store_open(&st, tmpdir, 16, &err), 0);
    buf_free(&err);
    fake_now += 400;
    assert_int_equal(grey("protocol_state=RCPT\nclient_address=192.0.2.50\nsender=q@example.com\nrecipient=bob@other.test", &d), 0);
    decision_free(&d);
}

/* ---- quota with an injected lookup ---- */

typedef struct pending_lookup {
    char mailbox[64];
    char pair[16];
    unsigned long long size;
    quota_done_fn done;
    void *arg;
} pending_lookup;

static pending_lookup pend[32];
static int npend;
static int lookups;
static int deferred_mode;

static quota_status status_of(const char *mailbox)
{
    if (strcmp(mailbox, "bob@example.test") == 0)
        return QS_OVER;
    if (strcmp(mailbox, "carol@example.test") == 0)
        return QS_UNKNOWN;
    return QS_OK;
}

static void fake_lookup(void *ctx, const char *mailbox, const char *pair,
                        unsigned long long size, quota_done_fn done, void *arg)
{
    (void)ctx;
    lookups++;
    if (!deferred_mode) {
        done(arg, status_of(mailbox), "");
        return;
    }
    pending_lookup *p = &pend[npend++];
    snprintf(p->mailbox, sizeof(p->mailbox), "%s", mailbox);
    snprintf(p->pair, sizeof(p->pair), "%s", pair);
    p->size = size;
    p->done = done;
    p->arg = arg;
}

static buf last_action, last_reason;
static int results;

static void on_quota(void *arg, const decision *d)
{
    (void)arg;
    results++;
    buf_reset(&last_action);
    buf_append_str(&last_action, buf_cstr((buf *)&d->action));
    buf_reset(&last_reason);
    buf_append_str(&last_reason, buf_cstr((buf *)&d->reason));
}

static void test_quota_alias_expansion(void **state)
{
    (void)state;
    quota_checker qc;
    quota_checker_init(&qc, &cfg, fake_lookup, NULL);
    qc.now = now_fn;
    lookups = results = 0;
    deferred_mode = 0;
    /* alice has room */
    assert_null(quota_check(&qc, &tab, "alice@example.test", 1000, on_quota, NULL));
    assert_string_equal(last_action.data, "DUNNO");
    /* team = alice + bob (over) + an outside address: refused for the alias */
    quota_check(&qc, &tab, "team@example.test", 1000, on_quota, NULL);
    assert_string_equal(last_action.data,
                        "552 5.2.2 <team@example.test>: the mailbox of a member of this list is full");
    assert_non_null(strstr(last_reason.data, "bob@example.test over quota"));
    /* bob directly */
    quota_check(&qc, &tab, "Bob@Example.test", 1000, on_quota, NULL);
    assert_string_equal(last_action.data, "552 5.2.2 <bob@example.test>: Mailbox full");
    /* carol: no store answers -> default action, reason says so */
    quota_check(&qc, &tab, "carol@example.test", 1000, on_quota, NULL);
    assert_string_equal(last_action.data, "DUNNO");
    assert_non_null(strstr(last_reason.data, "no store answered for carol@example.test"));
    /* not ours */
    quota_check(&qc, &tab, "someone@example.org", 1000, on_quota, NULL);
    assert_string_equal(last_action.data, "DUNNO");
    assert_non_null(strstr(last_reason.data, "not a local mailbox"));
    assert_int_equal(results, 5);
    quota_checker_free(&qc);
}

static void test_quota_cache(void **state)
{
    (void)state;
    cfg.quota.cache_ttl = 30;
    quota_checker qc;
    quota_checker_init(&qc, &cfg, fake_lookup, NULL);
    qc.now = now_fn;
    lookups = 0;
    deferred_mode = 0;
    quota_check(&qc, &tab, "team@example.test", 1000, on_quota, NULL);
    assert_int_equal(lookups, 2);
    quota_check(&qc, &tab, "team@example.test", 1000, on_quota, NULL);
    assert_int_equal(lookups, 2);               /* both cached */
    assert_string_equal(last_action.data,
                        "552 5.2.2 <team@example.test>: the mailbox of a member of this list is full");
    quota_check(&qc, &tab, "carol@example.test", 1000, on_quota, NULL);
    quota_check(&qc, &tab, "carol@example.test", 1000, on_quota, NULL);
    assert_int_equal(lookups, 4);               /* unknown is never cached */
    quota_check(&qc, &tab, "team@example.test", 50u << 20, on_quota, NULL);
    assert_int_equal(lookups, 6);               /* another size class asks again */
    fake_now += 31;
    quota_check(&qc, &tab, "team@example.test", 1000, on_quota, NULL);
    assert_int_equal(lookups, 8);               /* expired */
    /* a mailbox recipient is always asked afresh: a mailbox that has just
     * filled up is refused at once */
    quota_check(&qc, &tab, "alice@example.test", 1000, on_quota, NULL);
    quota_check(&qc, &tab, "alice@example.test", 1000, on_quota, NULL);
    assert_int_equal(lookups, 10);
    assert_int_equal(qc.hits, 2);
    /* the cache is bounded */
    fake_now += 31;
    cfg.quota.cache_max = 2;
    quota_check(&qc, &tab, "all@example.test", 1000, on_quota, NULL);
    assert_true(qc.cache.count <= 3);
    quota_checker_free(&qc);
}

static void test_quota_async_and_cancel(void **state)
{
    (void)state;
    cfg.quota.cache_ttl = 0;
    quota_checker qc;
    quota_checker_init(&qc, &cfg, fake_lookup, NULL);
    qc.now = now_fn;
    deferred_mode = 1;
    npend = results = 0;
    quota_job *j = quota_check(&qc, &tab, "all@example.test", 10, on_quota, NULL);
    assert_non_null(j);
    assert_int_equal(npend, 3);
    assert_string_equal(pend[0].pair, "pair2");
    assert_int_equal(pend[0].size, 10);
    for (int i = 0; i < npend; i++) {
        assert_int_equal(results, 0);
        pend[i].done(pend[i].arg, status_of(pend[i].mailbox), "");
    }
    assert_int_equal(results, 1);
    assert_non_null(strstr(last_action.data, "552 5.2.2"));
    /* cancelled: the lookups finish, the callback never comes */
    npend = results = 0;
    j = quota_check(&qc, &tab, "team@example.test", 10, on_quota, NULL);
    quota_job_cancel(j);
    for (int i = 0; i < npend; i++)
        pend[i].done(pend[i].arg, QS_OK, "");
    assert_int_equal(results, 0);
    deferred_mode = 0;
    quota_checker_free(&qc);
}

static void test_quota_answers(void **state)
{
    (void)state;
    assert_int_equal(quota_parse_answer("DUNNO"), QS_OK);
    assert_int_equal(quota_parse_answer("OK"), QS_OK);
    assert_int_equal(quota_parse_answer("552 5.2.2 Mailbox is full"), QS_OVER);
    assert_int_equal(quota_parse_answer("REJECT 5.2.2 over quota"), QS_OVER);
    assert_int_equal(quota_parse_answer("REJECT Unknown user"), QS_UNKNOWN);
    assert_int_equal(quota_parse_answer("451 4.3.0 Temporary"), QS_UNKNOWN);
}

/* ---- SPF ---- */

static void test_spf_decisions(void **state)
{
    (void)state;
    cfg.spf.enabled = 1;
    free(cfg.spf.receiver);
    cfg.spf.receiver = strdup("mx.example.test");
    request *r = mkreq("protocol_state=RCPT\nclient_address=192.0.2.1\nhelo_name=mx.example.org\n"
                       "sender=x@example.org");
    spf_answer a;
    spf_answer_init(&a);
    decision d;
    decision_init(&d);
    spf_answer_set(&a, "fail", "example.org: 192.0.2.1 is not allowed\n injected", "Please see http://x");
    spf_decide(&cfg, r, &a, &d);
    assert_string_equal(d.action.data, "550 5.7.23 Please see http://x");
    cfg.spf.reject_fail = 0;
    spf_decide(&cfg, r, &a, &d);
    assert_string_equal(d.action.data, "PREPEND Received-SPF: fail (example.org: 192.0.2.1 is not allowed? "
                        "injected) receiver=mx.example.test; client-ip=192.0.2.1; "
                        "envelope-from=\"x@example.org\"; helo=mx.example.org; identity=mailfrom");
    spf_answer_set(&a, "softfail", "x", "");
    spf_decide(&cfg, r, &a, &d);
    assert_true(strncmp(d.action.data, "PREPEND Received-SPF: softfail (x) receiver=", 44) == 0);
    spf_answer_set(&a, "temperror", "dns", "");
    spf_decide(&cfg, r, &a, &d);
    assert_true(strncmp(d.action.data, "PREPEND", 7) == 0);
    cfg.spf.temperror_defer = 1;
    spf_decide(&cfg, r, &a, &d);
    assert_true(strncmp(d.action.data, "451 4.7.24", 10) == 0);
    spf_answer_set(&a, "permerror", "", "bad client address");
    spf_decide(&cfg, r, &a, &d);
    assert_string_equal(d.action.data, "DUNNO");    /* no comment from libspf2: no header */
    spf_answer_set(&a, "bogus", "", "");
    assert_string_equal(a.result, "permerror");
    spf_answer_free(&a);
    decision_free(&d);
    freereq(r);
}

/* Received-SPF (RFC 7208 9.1): hostile senders, HELO names and comments
 * never add a field or a line; the fields read back (with a parser of
 * the RFC's grammar, received_spf_parse.h) are exactly ours, with the
 * sender's value as given. */
static void test_spf_received_header(void **state)
{
    (void)state;
    char longs[400];
    memset(longs, 'a', sizeof(longs));
    memcpy(longs + sizeof(longs) - 10, "@x.example", 10);
    longs[sizeof(longs) - 1] = '\0';
    struct {
        const char *sender, *helo, *comment;
        const char *want_from;      /* decoded envelope-from; NULL: left out */
        const char *exact;          /* the whole value, when given */
    } cases[] = {
        {"a@x.example", "mx.example.org", "ok",
         "a@x.example",
         "pass (ok) receiver=mx.example.test; client-ip=192.0.2.1; envelope-from=\"a@x.example\"; "
         "helo=mx.example.org; identity=mailfrom"},
        {"a\"b@x", "h", "c", "a\"b@x",
         "pass (c) receiver=mx.example.test; client-ip=192.0.2.1; envelope-from=\"a\\\"b@x\"; helo=h; "
         "identity=mailfrom"},
        {"x; identity=mailfrom", "h", "c", "x; identity=mailfrom", NULL},
        {"x\"; identity=helo; y=\"", "h", "c", "x\"; identity=helo; y=\"", NULL},
        {"a\\b", "h", "c", "a\\b",
         "pass (c) receiver=mx.example.test; client-ip=192.0.2.1; envelope-from=\"a\\\\b\"; helo=h; "
         "identity=mailfrom"},
        {"a\\", "h", "c", "a\\", NULL},
        {"x\r\nReceived-SPF: pass\r\n@x", "h", "c", "x??Received-SPF: pass??@x", NULL},
        {"j\xc3\xb6rg@x.example", "h", "c", "j\xc3\xb6rg@x.example", NULL},     /* UTF-8 kept */
        {"bad\xff\xc3(@x", "h", "c", "bad?" "?(@x", NULL},                        /* not UTF-8 */
        {"\xed\xa0\x80@x", "h", "c", "???@x", NULL},                           /* a surrogate */
        {longs, "h", "c", NULL, NULL},
        {"", "h", "c", NULL, "pass (c) receiver=mx.example.test; client-ip=192.0.2.1; helo=h; identity=helo"},
        {"a@x", "h; identity=x", "c", "a@x", NULL},
        {"a@x", "[1.2.3.4]\r\nX: y", "c) identity=mailfrom; (x", "a@x", NULL},
        {"a@x", "h", "c\\", "a@x", NULL},
        {"a@x", "h", "(((c", "a@x", NULL},
        {"a@x", ".h..x.", "c", "a@x", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf v = BUF_INIT;
        spf_received_value(&v, "pass", cases[i].comment, "mx.example.test", "192.0.2.1", cases[i].helo,
                           cases[i].sender);
        if (cases[i].exact)
            assert_string_equal(v.data, cases[i].exact);
        rsp r;
        if (rsp_parse(v.data, &r) != 0)
            fail_msg("case %zu: not RFC 7208 9.1: %s", i, v.data);
        assert_string_equal(r.result, "pass");
        size_t want_n = cases[i].want_from ? 5 : 4;
        if (r.n != want_n)
            fail_msg("case %zu: %zu fields: %s", i, r.n, v.data);
        assert_string_equal(rsp_get(&r, "receiver"), "mx.example.test");
        assert_string_equal(rsp_get(&r, "client-ip"), "192.0.2.1");
        assert_string_equal(rsp_get(&r, "identity"), *cases[i].sender ? "mailfrom" : "helo");
        if (cases[i].want_from)
            assert_string_equal(rsp_get(&r, "envelope-from"), cases[i].want_from);
        else
            assert_null(rsp_get(&r, "envelope-from"));
        rsp_free(&r);
        buf_free(&v);
    }
    /* IPv6 is not a dot-atom: quoted */
    buf v = BUF_INIT;
    spf_received_value(&v, "none", "", "mx.example.test", "2001:db8::1", "", "a@x");
    assert_string_equal(v.data, "none receiver=mx.example.test; client-ip=\"2001:db8::1\"; "
                        "envelope-from=\"a@x\"; identity=mailfrom");
    buf_free(&v);
}

static void test_spf_skip(void **state)
{
    (void)state;
    cfg.spf.enabled = 1;
    cidr_list_add(&cfg.spf.trusted_forwarders, "192.0.2.0/24");
    struct { const char *attrs; const char *skip; } cases[] = {
        {"protocol_state=RCPT\nclient_address=198.51.100.1", NULL},
        {"protocol_state=RCPT\nclient_address=198.51.100.1\nsasl_username=a@b.c", "spf: authenticated"},
        {"protocol_state=RCPT\nclient_address=192.0.2.44", "spf: trusted forwarder"},
        {"protocol_state=MAIL\nclient_address=198.51.100.1", "spf: not at RCPT"},
        {"protocol_state=RCPT\nclient_address=unknown", "spf: no client address"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        request *r = mkreq(cases[i].attrs);
        const char *s = spf_skip_reason(&cfg, r);
        if (cases[i].skip)
            assert_string_equal(s, cases[i].skip);
        else
            assert_null(s);
        freereq(r);
    }
    cfg.spf.enabled = 0;
    request *r = mkreq("protocol_state=RCPT\nclient_address=198.51.100.1");
    assert_string_equal(spf_skip_reason(&cfg, r), "spf: off");
    freereq(r);
}

static void test_spf_wire(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    spf_wire_request(&b, 42, "192.0.2.1", "helo\tevil\nx", "a@b.c");
    assert_string_equal(b.data, "42\t192.0.2.1\thelo?evil?x\ta@b.c\n");
    b.data[--b.len] = '\0';
    unsigned long id;
    const char *ip, *helo, *sender;
    assert_int_equal(spf_wire_parse_request(b.data, &id, &ip, &helo, &sender), 0);
    assert_int_equal(id, 42);
    assert_string_equal(helo, "helo?evil?x");
    buf_reset(&b);
    spf_wire_answer(&b, 7, "pass", "pass (ok)", "");
    b.data[--b.len] = '\0';
    spf_answer a;
    spf_answer_init(&a);
    assert_int_equal(spf_wire_parse_answer(b.data, &id, &a), 0);
    assert_int_equal(id, 7);
    assert_string_equal(a.result, "pass");
    char bad1[] = "x\tpass\t\t";
    char bad2[] = "1\twhatever\t\t";
    char bad3[] = "1\tpass\t";
    assert_int_equal(spf_wire_parse_answer(bad1, &id, &a), -1);
    assert_int_equal(spf_wire_parse_answer(bad2, &id, &a), -1);
    assert_int_equal(spf_wire_parse_answer(bad3, &id, &a), -1);
    spf_answer_free(&a);
    buf_free(&b);
}

/* libspf2 in a child process with a static zone, as the fuzzer runs it */
static void test_spf_isolated_check(void **state)
{
    (void)state;
    spf_answer a;
    spf_answer_init(&a);
    spf_check_isolated("198.51.100.1", "mx.example.org", "x@example.org", "example.org",
                       "v=spf1 ip4:198.51.100.0/24 -all", 3000, &a);
    assert_string_equal(a.result, "pass");
    assert_non_null(strstr(a.header_comment.data, "designates"));
    spf_check_isolated("203.0.113.1", "mx.example.org", "x@example.org", "example.org",
                       "v=spf1 ip4:198.51.100.0/24 -all", 3000, &a);
    assert_string_equal(a.result, "fail");
    spf_check_isolated("203.0.113.1", "mx.example.org", "x@example.org", "example.org",
                       "v=spf1 ?all", 3000, &a);
    assert_string_equal(a.result, "neutral");
    spf_answer_free(&a);
}

/* The helper master and its pool of long-lived helpers, over the wire:
 * more checks than helpers (they queue), more than checks_per_helper (the
 * helpers are replaced), answers matched by id. A bad client address is
 * answered without DNS. */
static void test_spf_helper_pool(void **state)
{
    (void)state;
    config cfg;
    config_defaults(&cfg);
    if (getuid() != 0) {
        struct passwd *pw = getpwuid(getuid());
        assert_non_null(pw);
        free(cfg.spf.user);
        cfg.spf.user = strdup(pw->pw_name);
    }
    cfg.spf.helpers = 2;
    cfg.spf.checks_per_helper = 3;
    cfg.spf.timeout_ms = 3000;
    buf err = BUF_INIT;
    pid_t pid;
    int fd = spf_helper_start(&cfg, &pid, &err);
    if (fd < 0)
        fail_msg("%s", err.data);
    enum { N = 20 };
    buf req = BUF_INIT;
    for (unsigned long id = 1; id <= N; id++)
        spf_wire_request(&req, id, "not-an-address", "mx.example.org", "x@example.org");
    assert_int_equal(write(fd, req.data, req.len), (ssize_t)req.len);
    int seen[N + 1] = {0};
    buf in = BUF_INIT;
    int got = 0;
    while (got < N) {
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        assert_true(n > 0);
        buf_append(&in, tmp, (size_t)n);
        char *start = in.data, *nl;
        while ((nl = memchr(start, '\n', in.len - (size_t)(start - in.data)))) {
            *nl = '\0';
            unsigned long id;
            spf_answer a;
            spf_answer_init(&a);
            assert_int_equal(spf_wire_parse_answer(start, &id, &a), 0);
            assert_true(id >= 1 && id <= N);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
            assert_string_equal(a.result, "permerror");
            assert_string_equal(a.comment.data, "bad client address");
            spf_answer_free(&a);
            got++;
            start = nl + 1;
        }
        size_t rest = in.len - (size_t)(start - in.data);
        memmove(in.data, start, rest);
        in.len = rest;
    }
    /* EOF: the master stops its helpers and exits */
    close(fd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    buf_free(&in);
    buf_free(&req);
    buf_free(&err);
    config_free(&cfg);
}

/* ---- engine: policies combined ---- */

static buf eng_action;
static int eng_results;

static void on_engine(void *arg, const decision *d)
{
    (void)arg;
    eng_results++;
    buf_reset(&eng_action);
    buf_append_str(&eng_action, buf_cstr((buf *)&d->action));
}

static const char *fake_spf_result = "pass";
static int spf_checks;

static void fake_spf(engine *e, const char *ip, const char *helo, const char *sender,
                     spf_result_fn cb, void *arg, void **job)
{
    (void)e; (void)ip; (void)helo; (void)sender;
    spf_checks++;
    *job = NULL;
    spf_answer a;
    spf_answer_init(&a);
    spf_answer_set(&a, fake_spf_result, "test", "SPF says no");
    cb(arg, &a);
    spf_answer_free(&a);
}

static const char *run_engine(engine *e, session *s, const char *attrs)
{
    request *r = mkreq(attrs);
    eval *v = engine_eval(e, s, r, on_engine, NULL);
    assert_null(v);             /* everything here is synchronous */
    freereq(r);
    return eng_action.data;
}

static void test_engine(void **state)
{
    (void)state;
    cfg.spf.enabled = 1;
    cfg.spf.reject_fail = 1;
    cfg.quota.cache_ttl = 0;
    deferred_mode = 0;
    engine e;
    engine_init(&e, &cfg, &tab, st, fake_lookup, NULL);
    e.now = now_fn;
    e.spf_check = fake_spf;
    session s;
    session_init(&s);
    spf_checks = 0;
    fake_spf_result = "pass";
    /* inbound, two recipients of one message: one header, one SPF check */
    const char *in1 = "protocol_state=RCPT\nclient_address=198.51.100.1\nhelo_name=mx.example.org\n"
                      "sender=x@example.org\nrecipient=alice@example.test\ninstance=i1";
    assert_true(strncmp(run_engine(&e, &s, in1), "PREPEND Received-SPF: pass (test)", 33) == 0);
    const char *in2 = "protocol_state=RCPT\nclient_address=198.51.100.1\nhelo_name=mx.example.org\n"
                      "sender=x@example.org\nrecipient=carol@example.test\ninstance=i1";
    assert_string_equal(run_engine(&e, &s, in2), "DUNNO");
    assert_int_equal(spf_checks, 1);
    /* over-quota member of an alias: 552 even though SPF passed */
    const char *in3 = "protocol_state=RCPT\nclient_address=198.51.100.1\nhelo_name=mx.example.org\n"
                      "sender=x@example.org\nrecipient=team@example.test\ninstance=i1";
    assert_true(strncmp(run_engine(&e, &s, in3), "552 5.2.2", 9) == 0);
    /* SPF fail: 550 5.7.23 */
    fake_spf_result = "fail";
    const char *in4 = "protocol_state=RCPT\nclient_address=203.0.113.1\nhelo_name=h.example.net\n"
                      "sender=x@example.net\nrecipient=alice@example.test\ninstance=i2";
    assert_string_equal(run_engine(&e, &s, in4), "550 5.7.23 SPF says no");
    /* authenticated submission: no SPF at all */
    spf_checks = 0;
    const char *sub = "protocol_state=RCPT\nclient_address=203.0.113.1\nsasl_username=alice@example.test\n"
                      "sender=alice@example.test\nrecipient=someone@example.org\ninstance=i3";
    assert_string_equal(run_engine(&e, &s, sub), "DUNNO");
    assert_int_equal(spf_checks, 0);
    /* other states */
    assert_string_equal(run_engine(&e, &s, "protocol_state=DATA\nclient_address=203.0.113.1"), "DUNNO");
    /* greylisting after everything else passes */
    cfg.greylist.enabled = 1;
    fake_spf_result = "neutral";
    const char *in5 = "protocol_state=RCPT\nclient_address=192.0.2.99\nhelo_name=h.example.net\n"
                      "sender=x@example.net\nrecipient=alice@example.test\ninstance=i4";
    assert_true(strncmp(run_engine(&e, &s, in5), "DEFER_IF_PERMIT 4.7.1 Greylisted", 32) == 0);
    /* the limit of 10 messages an hour for alice, counted at END-OF-MESSAGE */
    cfg.greylist.enabled = 0;
    for (int i = 0; i < 10; i++) {
        char a[256];
        snprintf(a, sizeof(a), "protocol_state=RCPT\nclient_address=203.0.113.1\nsasl_username=alice@example.test\n"
                 "sender=alice@example.test\nrecipient=x@example.org\ninstance=m%d", i);
        assert_string_equal(run_engine(&e, &s, a), "DUNNO");
        snprintf(a, sizeof(a), "protocol_state=END-OF-MESSAGE\nclient_address=203.0.113.1\nsasl_username=alice@example.test\n"
                 "sender=alice@example.test\nrecipient_count=1\ninstance=m%d", i);
        run_engine(&e, &s, a);
    }
    assert_true(strncmp(run_engine(&e, &s, "protocol_state=RCPT\nclient_address=203.0.113.1\nsasl_username=alice@example.test\n"
                                          "sender=alice@example.test\nrecipient=x@example.org\ninstance=m11"),
                        "450 4.7.1", 9) == 0);
    session_free(&s);
    engine_free(&e);
}

/* ---- mailing lists (listpolicy.h) ---- */

static const char *list_answer(const char *attrs, int *refused)
{
    static char out[512];
    request *r = mkreq(attrs);
    decision d;
    decision_init(&d);
    *refused = listpolicy_check(&tab, r, &d);
    snprintf(out, sizeof out, "%s", buf_cstr(&d.action));
    decision_free(&d);
    freereq(r);
    return out;
}

static void test_list_policies(void **state)
{
    (void)state;
    int refused;
    /* internal: outside sender, and an unauthenticated client claiming an address of ours */
    assert_string_equal(list_answer("protocol_state=RCPT\nsender=x@example.org\nrecipient=staff@example.test", &refused),
                        "550 5.7.1 <staff@example.test>: this list takes mail only from the organisation's own users, "
                        "sent with authentication (submission)");
    assert_int_equal(refused, 1);
    list_answer("protocol_state=RCPT\nsender=alice@example.test\nrecipient=Staff+x@Example.TEST", &refused);
    assert_int_equal(refused, 1);
    /* internal: any authenticated user */
    assert_string_equal(list_answer("protocol_state=RCPT\nsasl_username=carol@example.test\nsender=carol@example.test\n"
                                    "recipient=staff@example.test", &refused), "DUNNO");
    assert_int_equal(refused, 0);
    /* LIST+owner is the owners' address: bounces from anywhere get through */
    assert_string_equal(list_answer("protocol_state=RCPT\nsender=\nrecipient=staff+owner@example.test", &refused), "DUNNO");
    assert_int_equal(refused, 0);
    /* announce: the owners only (login or an owner's address as sender), authenticated */
    assert_string_equal(list_answer("protocol_state=RCPT\nsasl_username=bob@example.test\nsender=bob@example.test\n"
                                    "recipient=news@example.test", &refused),
                        "550 5.7.1 <news@example.test>: only the owners of this announce list may post to it");
    assert_int_equal(refused, 1);
    list_answer("protocol_state=RCPT\nsasl_username=ALICE@example.test\nsender=alice@example.test\n"
                "recipient=news@example.test", &refused);
    assert_int_equal(refused, 0);
    list_answer("protocol_state=RCPT\nsasl_username=alice@example.test\nsender=alice.smith@example.test\n"
                "recipient=news@example.test", &refused);
    assert_int_equal(refused, 0);
    list_answer("protocol_state=RCPT\nsender=alice@example.test\nrecipient=news@example.test", &refused);
    assert_int_equal(refused, 1);
    /* open: anyone; not a list: nothing to say */
    assert_string_equal(list_answer("protocol_state=RCPT\nsender=x@example.org\nrecipient=proj@example.test", &refused),
                        "DUNNO");
    assert_string_equal(list_answer("protocol_state=RCPT\nsender=x@example.org\nrecipient=team@example.test", &refused),
                        "DUNNO");
    assert_string_equal(list_answer("protocol_state=RCPT\nsender=x@example.org\nrecipient=", &refused), "DUNNO");
    assert_int_equal(refused, 0);
}

/* The engine asks the list policy first: a refused post counts nothing. */
static void test_engine_list_first(void **state)
{
    (void)state;
    engine e;
    engine_init(&e, &cfg, &tab, st, fake_lookup, NULL);
    e.now = now_fn;
    e.spf_check = fake_spf;
    session s;
    session_init(&s);
    spf_checks = 0;
    assert_true(strncmp(run_engine(&e, &s, "protocol_state=RCPT\nclient_address=198.51.100.1\nhelo_name=mx.example.org\n"
                                           "sender=alice@example.test\nrecipient=staff@example.test\ninstance=l1"),
                        "550 5.7.1 <staff@example.test>", 30) == 0);
    assert_int_equal(spf_checks, 0);
    session_free(&s);
    engine_free(&e);
}

/* The engine counts what each policy answered (stats.h), in order, until
 * one refuses: the later ones are not asked and not counted. */
static void test_engine_counts_policy_answers(void **state)
{
    (void)state;
    cfg.spf.enabled = 1;
    cfg.spf.reject_fail = 1;
    cfg.quota.cache_ttl = 0;
    deferred_mode = 0;
    engine e;
    engine_init(&e, &cfg, &tab, st, fake_lookup, NULL);
    e.now = now_fn;
    e.spf_check = fake_spf;
    policy_stats ps;
    stats_init(&ps, 0);
    e.stats = &ps;
    session s;
    session_init(&s);
    fake_spf_result = "pass";
    /* passes everything: the SPF header */
    assert_true(strncmp(run_engine(&e, &s, "protocol_state=RCPT\nclient_address=198.51.100.1\nhelo_name=mx.example.org\n"
                                           "sender=x@example.org\nrecipient=alice@example.test\ninstance=i1"),
                        "PREPEND", 7) == 0);
    /* a member over quota: quota refuses, greylisting is not asked */
    assert_true(strncmp(run_engine(&e, &s, "protocol_state=RCPT\nclient_address=198.51.100.1\nhelo_name=mx.example.org\n"
                                           "sender=x@example.org\nrecipient=team@example.test\ninstance=i1"),
                        "552", 3) == 0);
    /* SPF fail: neither quota nor greylisting is asked */
    fake_spf_result = "fail";
    assert_true(strncmp(run_engine(&e, &s, "protocol_state=RCPT\nclient_address=203.0.113.1\nhelo_name=h.example.net\n"
                                           "sender=x@example.net\nrecipient=alice@example.test\ninstance=i2"),
                        "550", 3) == 0);
    assert_int_equal(ps.actions[STATS_RATELIMIT][STATS_DUNNO], 3);
    assert_int_equal(ps.actions[STATS_SPF][STATS_PREPEND], 2);
    assert_int_equal(ps.actions[STATS_SPF][STATS_REJECT], 1);
    assert_int_equal(ps.actions[STATS_QUOTA][STATS_DUNNO], 1);
    assert_int_equal(ps.actions[STATS_QUOTA][STATS_REJECT], 1);
    assert_int_equal(ps.actions[STATS_GREYLIST][STATS_DUNNO], 1);
    unsigned long long total = 0;
    for (int p = 0; p < STATS_POLICIES; p++)
        for (int a = 0; a < STATS_ACTIONS; a++)
            total += ps.actions[p][a];
    assert_int_equal(ps.actions[STATS_LIST][STATS_DUNNO], 3);
    assert_int_equal(total, 3 + 3 + 3 + 2 + 1);
    session_free(&s);
    engine_free(&e);
    stats_free(&ps);
}

/* cidr.c on netaddr: the client-network keys and list matching as before. */
static void test_cidr_keys_and_lists(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        int v4, v6;
        const char *want;       /* NULL: not an address */
    } keys[] = {
        {"192.0.2.77", 24, 64, "192.0.2.0/24"},
        {"192.0.2.77", 32, 64, "192.0.2.77/32"},
        {"192.0.2.77", 99, 64, "192.0.2.77/32"},        /* out of range: the whole address */
        {"192.0.2.77", 0, 64, "0.0.0.0/0"},
        {"2001:db8:1:2:3:4:5:6", 24, 64, "2001:db8:1:2::/64"},
        {"2001:db8:1:2:3:4:5:6", 24, 52, "2001:db8:1::/52"},
        {"::ffff:192.0.2.1", 24, 128, "::ffff:192.0.2.1/128"},
        {"192.0.2.0/24", 24, 64, NULL},
        {"unknown", 24, 64, NULL},
        {"", 24, 64, NULL},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        buf out = BUF_INIT;
        int rc = client_net(keys[i].ip, keys[i].v4, keys[i].v6, &out);
        if (keys[i].want) {
            assert_int_equal(rc, 0);
            assert_string_equal(buf_cstr(&out), keys[i].want);
        } else {
            assert_int_equal(rc, -1);
        }
        buf_free(&out);
    }
    cidr_list l = {0};
    assert_false(cidr_list_match(&l, "192.0.2.1"));
    assert_int_equal(cidr_list_add(&l, "192.0.2.0/24"), 0);
    assert_int_equal(cidr_list_add(&l, "2001:db8::/32"), 0);
    assert_int_equal(cidr_list_add(&l, "203.0.113.5"), 0);
    assert_int_equal(cidr_list_add(&l, "192.0.2.0/33"), -1);
    assert_int_equal(cidr_list_add(&l, "example.test"), -1);
    assert_int_equal(l.n, 3);
    assert_true(cidr_list_match(&l, "192.0.2.200"));
    assert_true(cidr_list_match(&l, "2001:db8:ffff::1"));
    assert_true(cidr_list_match(&l, "203.0.113.5"));
    assert_false(cidr_list_match(&l, "203.0.113.6"));
    assert_false(cidr_list_match(&l, "::ffff:192.0.2.1"));
    assert_false(cidr_list_match(&l, "garbage"));
    cidr_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_keys_and_lists),
        cmocka_unit_test_setup_teardown(test_table_expand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_messages_per_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_unauthenticated_by_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greylist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_alias_expansion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_async_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spf_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spf_received_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spf_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spf_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spf_isolated_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spf_helper_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_list_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_counts_policy_answers, setup, teardown),
    };
    int rc = cmocka_run_group_tests_name("policyd policies", tests, NULL, NULL);
    buf_free(&last_action);
    buf_free(&last_reason);
    buf_free(&eng_action);
    return rc;
}
