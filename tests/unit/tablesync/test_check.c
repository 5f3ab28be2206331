/* Unit tests of emailng-tablesync's decisions (src/tablesync/check.c) and
 * the bundle format (src/lib/table_bundle.c): what a relay installs, what
 * it refuses (a table that does not parse is never installed), what it
 * keeps (older bundles, failures) and which ETag it sends next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "check.h"
#include "relay_tables.h"
#include "table_bundle.h"

#define CSN1 "20261207120000.000001Z#000000#000#000000"
#define CSN2 "20261207120001.000001Z#000000#000#000000"

static const char recipients[] = "# exported\nalice@example.test OK\nlist@example.test OK\n";
static const char senders[] = "# exported\nalice@example.test alice@example.test\n";
static const char policyd[] = "# table\nemailng-policyd-table 1\nmailbox alice@example.test pair1\n";

static void bundle_of(const char *csn, const char *r, const char *s, const char *p, buf *out)
{
    buf parts[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
    buf_append_str(&parts[0], r);
    buf_append_str(&parts[1], s);
    buf_append_str(&parts[2], p);
    const buf *const list[] = {&parts[0], &parts[1], &parts[2]};
    table_bundle_build(csn, list, out);
    for (int i = 0; i < 3; i++)
        buf_free(&parts[i]);
}

static void test_bundle_round_trip(void **state)
{
    (void)state;
    buf text = BUF_INIT, err = BUF_INIT;
    bundle_of(CSN1, recipients, senders, policyd, &text);
    struct table_bundle b;
    assert_int_equal(table_bundle_split(text.data, text.len, &b, &err), 0);
    assert_string_equal(b.csn, CSN1);
    assert_string_equal(buf_cstr(&b.part[TABLE_RECIPIENTS]), recipients);
    assert_string_equal(buf_cstr(&b.part[TABLE_SENDERS]), senders);
    assert_string_equal(buf_cstr(&b.part[TABLE_POLICYD]), policyd);
    table_bundle_free(&b);
    buf_free(&text);
    buf_free(&err);
}

/* Every broken framing is refused with a reason. */
static void test_bundle_framing_refused(void **state)
{
    (void)state;
    buf good = BUF_INIT;
    bundle_of(CSN1, recipients, senders, policyd, &good);
    const char *const broken[] = {
        "",
        "<html>502 Bad Gateway</html>\n",
        "emailng-relay-tables 1 \nend\n",                                  /* no CSN */
        "emailng-relay-tables 2 X\nend\n",                                 /* other version */
        "emailng-relay-tables 1 X\ntable relay-recipients 3\nab\n",        /* cut short */
        "emailng-relay-tables 1 X\ntable relay-recipients 99\nab\nend\n",  /* length past the end */
        "emailng-relay-tables 1 X\ntable other 0\nend\n",                  /* unknown table */
        "emailng-relay-tables 1 X\ntable relay-recipients 0\ntable relay-recipients 0\nend\n",
        "emailng-relay-tables 1 X\ntable relay-recipients 0\ntable sender-logins 0\nend\n",  /* policyd missing */
        "emailng-relay-tables 1 X\ntable relay-recipients -1\nend\n",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        struct table_bundle b;
        buf err = BUF_INIT;
        assert_int_equal(table_bundle_split(broken[i], strlen(broken[i]), &b, &err), -1);
        assert_true(err.len > 0);
        table_bundle_free(&b);
        buf_free(&err);
    }
    /* bytes after "end" (two bundles glued) */
    buf twice = BUF_INIT, err = BUF_INIT;
    buf_append(&twice, good.data, good.len);
    buf_append(&twice, good.data, good.len);
    struct table_bundle b;
    assert_int_equal(table_bundle_split(twice.data, twice.len, &b, &err), -1);
    table_bundle_free(&b);
    buf_free(&twice);
    buf_free(&err);
    buf_free(&good);
}

static void test_relay_table_check(void **state)
{
    (void)state;
    buf err = BUF_INIT;
    assert_int_equal(relay_table_check("relay-recipients", recipients, strlen(recipients), &err), 0);
    assert_int_equal(relay_table_check("sender-logins", senders, strlen(senders), &err), 0);
    static const struct {
        const char *table, *text;
    } bad[] = {
        {"relay-recipients", "alice OK\n"},                        /* no domain */
        {"relay-recipients", "alice@example.test\n"},              /* no value */
        {"relay-recipients", "alice@example.test REJECT\n"},
        {"relay-recipients", "alice@example.test OK extra\n"},
        {"relay-recipients", "alice@example.test OK"},             /* no final newline: cut short */
        {"relay-recipients", ""},
        {"sender-logins", "alice@example.test OK\n"},              /* a login is an address */
        {"sender-logins", "alice@example.test\talice@example.test\n"},
        {"other", "alice@example.test OK\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_reset(&err);
        assert_int_equal(relay_table_check(bad[i].table, bad[i].text, strlen(bad[i].text), &err), -1);
        assert_true(err.len > 0);
    }
    buf_free(&err);
}

static enum tablesync_verdict judge(long status, const char *body, const char *installed, buf *why)
{
    struct table_bundle b;
    enum tablesync_verdict v = tablesync_judge(status, body, body ? strlen(body) : 0, installed, &b, why);
    if (v == TS_INSTALL) {
        assert_non_null(b.csn);
        table_bundle_free(&b);
    }
    return v;
}

static void test_judge(void **state)
{
    (void)state;
    buf why = BUF_INIT, v1 = BUF_INIT, v2 = BUF_INIT, bad_policy = BUF_INIT, bad_recipients = BUF_INIT;
    bundle_of(CSN1, recipients, senders, policyd, &v1);
    bundle_of(CSN2, recipients, senders, policyd, &v2);
    bundle_of(CSN2, recipients, senders, "mailbox alice@example.test pair1\n", &bad_policy);   /* no header */
    bundle_of(CSN2, "alice@example.test\n", senders, policyd, &bad_recipients);

    assert_int_equal(judge(304, "", CSN1, &why), TS_UNCHANGED);
    assert_int_equal(judge(0, NULL, CSN1, &why), TS_FAILED);
    assert_int_equal(judge(403, "forbidden", CSN1, &why), TS_FAILED);
    assert_int_equal(judge(404, "", CSN1, &why), TS_FAILED);
    assert_int_equal(judge(200, "garbage\n", CSN1, &why), TS_REFUSED);
    buf_reset(&why);
    assert_int_equal(judge(200, buf_cstr(&bad_policy), CSN1, &why), TS_REFUSED);
    assert_non_null(strstr(buf_cstr(&why), "emailng-policyd-table 1"));      /* policyd's own parser said so */
    buf_reset(&why);
    assert_int_equal(judge(200, buf_cstr(&bad_recipients), CSN1, &why), TS_REFUSED);
    assert_non_null(strstr(buf_cstr(&why), "relay-recipients:1"));
    /* Newer and equal are installed (equal: the site file's part may have
     * changed); older never. Nothing held yet: anything valid. */
    assert_int_equal(judge(200, buf_cstr(&v2), CSN1, &why), TS_INSTALL);
    assert_int_equal(judge(200, buf_cstr(&v1), CSN1, &why), TS_INSTALL);
    assert_int_equal(judge(200, buf_cstr(&v1), CSN2, &why), TS_OLDER);
    assert_int_equal(judge(200, buf_cstr(&v1), "", &why), TS_INSTALL);
    buf_free(&why);
    buf_free(&v1);
    buf_free(&v2);
    buf_free(&bad_policy);
    buf_free(&bad_recipients);
}

/* What is kept after each verdict: the last good tables stay unless an
 * install completed; the ETag moves on unless the proxy must be asked
 * again. */
static void test_etag_and_confirmation(void **state)
{
    (void)state;
    assert_false(tablesync_keep_etag(TS_FAILED, 0));
    assert_true(tablesync_keep_etag(TS_UNCHANGED, 0));
    assert_true(tablesync_keep_etag(TS_REFUSED, 0));    /* asked again only when it changes */
    assert_true(tablesync_keep_etag(TS_OLDER, 0));
    assert_true(tablesync_keep_etag(TS_INSTALL, 1));
    assert_false(tablesync_keep_etag(TS_INSTALL, 0));   /* a failed install is retried */

    assert_false(tablesync_confirms(TS_FAILED, 0));
    assert_false(tablesync_confirms(TS_REFUSED, 0));
    assert_false(tablesync_confirms(TS_INSTALL, 0));
    assert_true(tablesync_confirms(TS_INSTALL, 1));
    assert_true(tablesync_confirms(TS_UNCHANGED, 0));
    assert_true(tablesync_confirms(TS_OLDER, 0));

    assert_true(table_bundle_csn_cmp(CSN1, CSN2) < 0);
    assert_true(table_bundle_csn_cmp(CSN2, CSN1) > 0);
    assert_int_equal(table_bundle_csn_cmp(CSN1, CSN1), 0);
    assert_true(table_bundle_csn_cmp("", CSN1) < 0);
}

static void test_header_etag(void **state)
{
    (void)state;
    buf etag = BUF_INIT;
    const char line[] = "ETag: \"6571b2c0-1f4\"\r\n";
    assert_int_equal(tablesync_header_etag(line, strlen(line), &etag), 1);
    assert_string_equal(buf_cstr(&etag), "\"6571b2c0-1f4\"");
    const char lower[] = "etag:W/\"x\"\n";
    assert_int_equal(tablesync_header_etag(lower, strlen(lower), &etag), 1);
    assert_string_equal(buf_cstr(&etag), "W/\"x\"");
    const char other[] = "Content-Length: 5\r\n";
    assert_int_equal(tablesync_header_etag(other, strlen(other), &etag), 0);
    assert_string_equal(buf_cstr(&etag), "W/\"x\"");       /* untouched */
    const char status[] = "HTTP/1.1 200 OK\r\n";
    assert_int_equal(tablesync_header_etag(status, strlen(status), &etag), 0);
    buf_free(&etag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_round_trip),
        cmocka_unit_test(test_bundle_framing_refused),
        cmocka_unit_test(test_relay_table_check),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_etag_and_confirmation),
        cmocka_unit_test(test_header_etag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
