/* Unit tests for src/healthd/config.c, table.c and drain.c: configuration
 * errors name file:line and the key; the table, passwd-file and status
 * writers; the drain file (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "drain.h"
#include "fsutil.h"
#include "table.h"

static const char GOOD[] =
    "pairs:\n"
    "  pair1: {primary: 198.18.0.31, secondary: 198.18.0.32}\n"
    "  pair2:\n"
    "    primary: 198.18.0.33\n"
    "    secondary: \"2001:db8::34\"\n"
    "lmtp_port: 2424\n"
    "imap_port: 1143\n"
    "probe_user: probe@example.test\n"
    "probe_password_file: /nonexistent/pw\n"
    "interval_ms: 500\n"
    "fail_grace_ms: 1500\n"
    "table: /tmp/t\n"
    "catchup_command: [/bin/true, --quiet]\n";

static int parse(const char *text, hd_config *c, buf *err)
{
    config_defaults(c);
    return config_parse(c, text, strlen(text), "h.yaml", err);
}

static void test_good(void **state)
{
    (void)state;
    hd_config c;
    buf err = BUF_INIT;
    assert_int_equal(parse(GOOD, &c, &err), 0);
    assert_int_equal(c.npairs, 2);
    assert_string_equal(c.pairs[0].name, "pair1");
    assert_string_equal(c.pairs[0].host[0], "198.18.0.31");
    assert_string_equal(c.pairs[1].host[1], "2001:db8::34");
    assert_int_equal(c.lmtp_port, 2424);
    assert_int_equal(c.imap_port, 1143);
    assert_int_equal(c.interval_ms, 500);
    assert_int_equal(c.fail_grace_ms, 1500);
    assert_int_equal(c.recover_grace_ms, 5000);            /* default */
    assert_int_equal(c.recover_probes, 3);
    assert_int_equal(c.fast_fail, 1);                       /* default: on */
    assert_int_equal(c.refused_confirm_ms, 200);            /* default */
    assert_int_equal(c.busy_grace_ms, 300000);              /* default: 5 minutes */
    assert_int_equal(c.probe_patience_ms, 60000);           /* default: a minute */
    assert_int_equal(c.connect_timeout_ms, c.timeout_ms);   /* default: the round's deadline */
    assert_string_equal(c.catchup_command[0], "/bin/true");
    assert_string_equal(c.catchup_command[1], "--quiet");
    assert_null(c.catchup_command[2]);
    assert_string_equal(c.passwd_file, "");
    config_free(&c);
    buf_free(&err);
}

/* Replaces the line starting with `key` in GOOD by `line`. */
static void expect_error(const char *key, const char *line, const char *msg)
{
    buf text = BUF_INIT;
    const char *p = GOOD;
    int replaced = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p) + 1;
        if (!replaced && strncmp(p, key, strlen(key)) == 0) {
            buf_append_str(&text, line);
            replaced = 1;
        } else {
            buf_append(&text, p, n);
        }
        p += n;
    }
    if (!replaced)
        buf_append_str(&text, line);
    hd_config c;
    buf err = BUF_INIT;
    int rc = parse(buf_cstr(&text), &c, &err);
    if (rc == 0 || strstr(buf_cstr(&err), msg) == NULL)
        fail_msg("for %s: expected an error containing \"%s\", got rc %d \"%s\"", line, msg, rc,
                 buf_cstr(&err));
    config_free(&c);
    buf_free(&err);
    buf_free(&text);
}

static void test_fast_fail_keys(void **state)
{
    (void)state;
    hd_config c;
    buf err = BUF_INIT;
    static const char text[] =
        "pairs: {p: {primary: 198.18.0.31, secondary: 198.18.0.32}}\n"
        "probe_user: u\nprobe_password_file: /x\ntable: /t\n"
        "fast_fail: no\nrefused_confirm_ms: 0\ntimeout_ms: 2000\nconnect_timeout_ms: 1000\n";
    assert_int_equal(parse(text, &c, &err), 0);
    assert_int_equal(c.fast_fail, 0);
    assert_int_equal(c.refused_confirm_ms, 0);
    assert_int_equal(c.timeout_ms, 2000);
    assert_int_equal(c.connect_timeout_ms, 1000);
    config_free(&c);
    buf_free(&err);
    static const char busy_under_fail[] =
        "pairs: {p: {primary: 198.18.0.31, secondary: 198.18.0.32}}\n"
        "probe_user: u\nprobe_password_file: /x\ntable: /t\n"
        "fail_grace_ms: 3000\nbusy_grace_ms: 2000\n";
    assert_int_not_equal(parse(busy_under_fail, &c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "busy_grace_ms: must not be under fail_grace_ms"));
    config_free(&c);
    buf_free(&err);
    static const char patience_under_deadline[] =
        "pairs: {p: {primary: 198.18.0.31, secondary: 198.18.0.32}}\n"
        "probe_user: u\nprobe_password_file: /x\ntable: /t\n"
        "timeout_ms: 2000\nprobe_patience_ms: 1000\n";
    assert_int_not_equal(parse(patience_under_deadline, &c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "probe_patience_ms: 0 (off) or at least timeout_ms"));
    config_free(&c);
    buf_free(&err);
}

static void test_errors_name_file_line_and_key(void **state)
{
    (void)state;
    expect_error("lmtp_port", "lmtp_port: 0\n", "h.yaml:6:12: lmtp_port: \"0\" is not a whole number from 1 to 65535");
    expect_error("imap_port", "imap_port: 143x\n", "h.yaml:7:12: imap_port: \"143x\" is not a whole number");
    expect_error("interval_ms", "intervall_ms: 500\n",
                 "h.yaml:10:1: (top level): unknown key \"intervall_ms\"; expected one of: pairs, ");
    expect_error("  pair1", "  pair1: {primary: 198.18.0.31, secondary: mail.example.test}\n",
                 "h.yaml:2:44: pairs.pair1.secondary: \"mail.example.test\" is not a numeric IP address");
    expect_error("  pair1", "  pair1: {primary: 198.18.0.31}\n", "h.yaml:2:10: pairs.pair1: needs both");
    expect_error("  pair1", "  pair1: {primary: 198.18.0.31, secondary: 198.18.0.31}\n", "the same address");
    expect_error("  pair1", "  pair1: {primary: 198.18.0.31, secondary: 198.18.0.32, tertiary: 1.2.3.4}\n",
                 "h.yaml:2:57: pairs.pair1: unknown key \"tertiary\"; expected one of: primary, secondary");
    expect_error("  pair1", "  \"pair:1\": {primary: 198.18.0.31, secondary: 198.18.0.32}\n",
                 "h.yaml:2:3: pairs.pair:1: a pair name is");
    expect_error("  pair1", "  pair2: {primary: 198.18.0.31, secondary: 198.18.0.32}\n",
                 "h.yaml:3:3: pairs.pair2: the key is given twice; the first is on line 2; give each key once");
    expect_error("lmtp_port", "imap_port: 1143\n", "h.yaml:7:1: imap_port: the key is given twice; the first is on line 6");
    expect_error("catchup_command", "catchup_command: /bin/true\n", "h.yaml:13:18: catchup_command: expected a list");
    expect_error("catchup_command", "catchup_command: [true]\n", "must be an absolute path");
    expect_error("catchup_command", "catchup_command: []\n", "must name a program");
    expect_error("probe_user", "probe_user: \"a\\\"b\"\n", "probe_user: must not contain quotes");
    expect_error("probe_user", "x: 1\n", "unknown key");
    expect_error("table", "table: [a, b]\n", "h.yaml:12:8: table: expected a single value, found a list");
    expect_error("interval_ms", "interval_ms: 50\n", "interval_ms: \"50\" is not a whole number from 100");
    expect_error("fail_grace_ms", "fail_grace_ms: -1\n", "fail_grace_ms: \"-1\" is not a whole number from 0");
    expect_error("table", "fast_fail: maybe\n", "h.yaml:12:12: fast_fail: ");
    expect_error("table", "table: /t\nconnect_timeout_ms: 2001\n",
                 "connect_timeout_ms: must not be over timeout_ms");
    expect_error("table", "refused_confirm_ms: 60001\n",
                 "h.yaml:12:21: refused_confirm_ms: \"60001\" is not a whole number from 0 to 60000");
    expect_error("lmtp_port", "lmtp_port: [\n", "h.yaml:8:11: not valid YAML");     /* YAML syntax error */
    expect_error("catchup_command", "catchup_command: [/bin/x, {a: b}]\n",
                 "h.yaml:13:27: catchup_command: expected a single value, found a mapping");
    expect_error("probe_user", "probe_user: \"a\\0b\"\n", "h.yaml:8:13: probe_user: the value contains a NUL byte");
}

static void test_missing_required(void **state)
{
    (void)state;
    hd_config c;
    buf err = BUF_INIT;
    assert_int_not_equal(parse("lmtp_port: 24\n", &c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "pairs: at least one store pair"));
    config_free(&c);
    buf_reset(&err);
    assert_int_not_equal(parse("pairs: {p: {primary: 10.0.0.1, secondary: 10.0.0.2}}\nprobe_user: u\n"
                               "probe_password_file: /x\n", &c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "table or passwd_file"));
    config_free(&c);
    buf_reset(&err);
    assert_int_not_equal(parse("", &c, &err), 0);
    config_free(&c);
    buf_reset(&err);
    assert_int_not_equal(parse("- a\n- b\n", &c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "h.yaml:1:1: (top level): expected a mapping of keys, found a list"));
    config_free(&c);
    buf_reset(&err);
    /* pairs that is not a mapping is refused, not walked */
    assert_int_not_equal(parse("pairs: [a, b]\n", &c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "h.yaml:1:8: pairs: expected a mapping of keys, found a list"));
    config_free(&c);
    buf_reset(&err);
    assert_int_not_equal(parse("pairs: x\n", &c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "pairs: expected a mapping of keys, found a single value"));
    config_free(&c);
    buf_free(&err);
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/healthd-unit-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return xstrdup(d);
}

static void test_password_file(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *pw = xasprintf("%s/pw", dir);
    hd_config c;
    buf err = BUF_INIT;
    assert_int_equal(parse(GOOD, &c, &err), 0);
    free(c.probe_password_file);
    c.probe_password_file = xstrdup(pw);

    assert_int_equal(fs_write_file(pw, "s3cr\"et\\x\n", 10, 0600, &err), 0);
    assert_int_equal(config_read_password(&c, &err), 0);
    assert_string_equal(c.probe_password, "s3cr\"et\\x");

    assert_int_equal(fs_write_file(pw, "two\nlines\n", 10, 0600, &err), 0);
    assert_int_not_equal(config_read_password(&c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "must be one line"));
    buf_reset(&err);
    assert_int_equal(fs_write_file(pw, "\n", 1, 0600, &err), 0);
    assert_int_not_equal(config_read_password(&c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "empty"));
    buf_reset(&err);
    unlink(pw);
    assert_int_not_equal(config_read_password(&c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), pw));                /* names the file */
    config_free(&c);
    buf_free(&err);
    rmdir(dir);
    free(pw);
    free(dir);
}

static void test_catchup_secret_file(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *pw = xasprintf("%s/pw", dir), *secret = xasprintf("%s/doveadm", dir);
    char *text = xasprintf("%scatchup_secret_file: %s\n", GOOD, secret);
    hd_config c;
    buf err = BUF_INIT;
    assert_int_equal(parse(text, &c, &err), 0);
    assert_string_equal(c.catchup_secret_file, secret);
    free(c.probe_password_file);
    c.probe_password_file = xstrdup(pw);
    assert_int_equal(fs_write_file(pw, "probe\n", 6, 0600, &err), 0);
    assert_int_equal(fs_write_file(secret, "dsync-secret", 12, 0600, &err), 0);
    assert_int_equal(config_read_password(&c, &err), 0);
    assert_string_equal(c.catchup_secret, "dsync-secret");
    /* Missing: an error naming the file, as for the probe password. */
    unlink(secret);
    assert_int_not_equal(config_read_password(&c, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), secret));
    config_free(&c);
    buf_free(&err);
    unlink(pw);
    rmdir(dir);
    free(text);
    free(secret);
    free(pw);
    free(dir);
}

static void test_table_writer(void **state)
{
    (void)state;
    char *dir = tmpdir();
    hd_config c;
    buf err = BUF_INIT, got = BUF_INIT;
    assert_int_equal(parse(GOOD, &c, &err), 0);
    free(c.table);
    free(c.passwd_file);
    c.table = xasprintf("%s/pairs", dir);
    c.passwd_file = xasprintf("%s/pairs.passwd", dir);
    int active[2] = {0, 1};
    assert_int_equal(table_write(&c, active, &err), 0);
    assert_int_equal(fs_read_file(c.table, 4096, &got, &err), 0);
    assert_string_equal(buf_cstr(&got), "pair1 198.18.0.31\npair2 2001:db8::34\n");
    buf_reset(&got);
    assert_int_equal(fs_read_file(c.passwd_file, 4096, &got, &err), 0);
    assert_string_equal(buf_cstr(&got), "pair1:::::::host=198.18.0.31 nopassword\n"
                                        "pair2:::::::host=2001:db8::34 nopassword\n");
    struct stat st;
    assert_int_equal(stat(c.table, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    char *tmp = xasprintf("%s.tmp", c.table);
    assert_false(fs_exists(tmp));                               /* renamed into place */
    free(tmp);

    /* Read back: a restart starts from the table on disk. */
    int back[2] = {0, 0};
    assert_int_equal(table_parse_active(&c, "pair1 198.18.0.32\npair2 2001:db8::34\n", back), 2);
    assert_int_equal(back[0], 1);
    assert_int_equal(back[1], 1);
    /* Unknown pairs, foreign hosts and junk are ignored. */
    int junk[2] = {0, 0};
    assert_int_equal(table_parse_active(&c, "pair9 1.2.3.4\npair1 10.9.9.9\ngarbage\n\npair2", junk), 0);
    assert_int_equal(junk[0], 0);
    assert_int_equal(junk[1], 0);

    /* A folder that cannot be written: an error naming the path. */
    free(c.table);
    c.table = xstrdup("/nonexistent/dir/pairs");
    buf_reset(&err);
    assert_int_not_equal(table_write(&c, active, &err), 0);
    assert_non_null(strstr(buf_cstr(&err), "/nonexistent/dir/pairs"));

    unlink(c.passwd_file);
    {
        char *t = xasprintf("%s/pairs", dir);
        unlink(t);
        free(t);
    }
    rmdir(dir);
    config_free(&c);
    buf_free(&err);
    buf_free(&got);
    free(dir);
}

/* The drain file: store addresses, comments, blanks; unknown addresses
 * reported; a missing file drains nothing; the config keys parse. */
static void test_drain_file(void **state)
{
    (void)state;
    hd_config c;
    buf err = BUF_INIT, unknown = BUF_INIT;
    char *text = xasprintf("%sdrain_file: /tmp/d\nstatus_file: /tmp/s\nmetrics_file: /tmp/m.prom\nuser: nobody\n", GOOD);
    assert_int_equal(parse(text, &c, &err), 0);
    free(text);
    assert_string_equal(c.drain_file, "/tmp/d");
    assert_string_equal(c.status_file, "/tmp/s");
    assert_string_equal(c.metrics_file, "/tmp/m.prom");
    assert_string_equal(c.user, "nobody");

    int drained[4] = {1, 1, 1, 1};
    assert_int_equal(drain_parse(&c, "# drained by emailng node drain\n\n  198.18.0.31  \r\n"
                                     "198.18.0.99\n2001:db8::34", drained, &unknown), 2);
    assert_int_equal(drained[0], 1);            /* pair1 primary */
    assert_int_equal(drained[1], 0);
    assert_int_equal(drained[2], 0);
    assert_int_equal(drained[3], 1);            /* pair2 secondary */
    assert_string_equal(buf_cstr(&unknown), "198.18.0.99");
    /* A prefix of an address is not the address. */
    buf_reset(&unknown);
    assert_int_equal(drain_parse(&c, "198.18.0.3\n", drained, &unknown), 0);
    assert_int_equal(drained[0], 0);
    assert_string_equal(buf_cstr(&unknown), "198.18.0.3");

    char *dir = tmpdir();
    free(c.drain_file);
    c.drain_file = xasprintf("%s/drained", dir);
    int all[4] = {1, 1, 1, 1};
    buf_reset(&unknown);
    assert_int_equal(drain_read(&c, all, &unknown, &err), 0);     /* missing: none */
    for (int i = 0; i < 4; i++)
        assert_int_equal(all[i], 0);
    assert_int_equal(fs_write_file(c.drain_file, "198.18.0.32\n", 12, 0644, &err), 0);
    assert_int_equal(drain_read(&c, all, &unknown, &err), 0);
    assert_int_equal(all[1], 1);
    assert_int_equal(all[0] + all[2] + all[3], 0);
    unlink(c.drain_file);
    rmdir(dir);
    free(dir);

    /* The status file's lines. */
    int active[2] = {1, 0};
    const char *states[4] = {"drained", "up", "down", "recovering"};
    buf out = BUF_INIT;
    table_format_status(&c, active, states, &out);
    assert_string_equal(buf_cstr(&out), "store 198.18.0.31 pair1 primary drained\n"
                                        "store 198.18.0.32 pair1 secondary up\n"
                                        "store 198.18.0.33 pair2 primary down\n"
                                        "store 2001:db8::34 pair2 secondary recovering\n"
                                        "pair pair1 198.18.0.32\n"
                                        "pair pair2 198.18.0.33\n");

    /* The counters for metricsd: one sample per pair and direction. */
    unsigned long long switches[4] = {2, 3, 0, 0};
    buf_reset(&out);
    table_format_metrics(&c, switches, &out);
    assert_string_equal(buf_cstr(&out),
                        "# HELP emailng_healthd_switches_total Times this proxy's health monitor moved the pair to "
                        "its primary or secondary store.\n"
                        "# TYPE emailng_healthd_switches_total counter\n"
                        "emailng_healthd_switches_total{pair=\"pair1\",to=\"primary\"} 2\n"
                        "emailng_healthd_switches_total{pair=\"pair1\",to=\"secondary\"} 3\n"
                        "emailng_healthd_switches_total{pair=\"pair2\",to=\"primary\"} 0\n"
                        "emailng_healthd_switches_total{pair=\"pair2\",to=\"secondary\"} 0\n");
    buf_free(&out);
    config_free(&c);
    buf_free(&err);
    buf_free(&unknown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_fast_fail_keys),
        cmocka_unit_test(test_errors_name_file_line_and_key),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_table_writer),
        cmocka_unit_test(test_drain_file),
        cmocka_unit_test(test_catchup_secret_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
