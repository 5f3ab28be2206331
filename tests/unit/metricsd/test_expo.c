/* Unit tests for emailng-metricsd's exposition (src/metricsd/expo.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expo.h"
#include "fsutil.h"

static void expect_line(const buf *out, const char *line)
{
    buf want = BUF_INIT;
    buf_printf(&want, "\n%s\n", line);
    buf have = BUF_INIT;
    buf_printf(&have, "\n%s", buf_cstr((buf *)out));
    if (strstr(buf_cstr(&have), buf_cstr(&want)) == NULL)
        fail_msg("expected the line \"%s\" in:\n%s", line, buf_cstr((buf *)out));
    buf_free(&want);
    buf_free(&have);
}

static void test_label_escape(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    expo_label_escape("a\\b\"c\nd", &out);
    assert_string_equal(buf_cstr(&out), "a\\\\b\\\"c\\nd");
    buf_free(&out);
}

/* The health monitor's status file (src/healthd/table.h) as metrics: a
 * pair with one store down is degraded, one with both up is not. */
static void test_healthd_status(void **state)
{
    (void)state;
    const char *text = "store 192.0.2.31 pair1 primary down\n"
                       "store 192.0.2.32 pair1 secondary up\n"
                       "store 192.0.2.33 pair2 primary up\n"
                       "store 192.0.2.34 pair2 secondary drained\n"
                       "store 192.0.2.35 pair3 primary up\n"
                       "store 192.0.2.36 pair3 secondary up\n"
                       "pair pair1 192.0.2.32\n"
                       "pair pair2 192.0.2.33\n"
                       "pair pair3 192.0.2.35\n"
                       "garbage line\n";
    buf out = BUF_INIT;
    expo_healthd_status(1, text, 1.5, &out);
    expect_line(&out, "emailng_healthd_up 1");
    expect_line(&out, "emailng_healthd_status_up 1");
    expect_line(&out, "emailng_healthd_status_age_seconds 1.500");
    expect_line(&out, "# TYPE emailng_store_up gauge");
    expect_line(&out, "emailng_store_up{pair=\"pair1\",store=\"192.0.2.31\",role=\"primary\"} 0");
    expect_line(&out, "emailng_store_up{pair=\"pair1\",store=\"192.0.2.32\",role=\"secondary\"} 1");
    expect_line(&out, "emailng_store_state{pair=\"pair2\",store=\"192.0.2.34\",role=\"secondary\",state=\"drained\"} 1");
    expect_line(&out, "emailng_pair_active_store{pair=\"pair1\",store=\"192.0.2.32\"} 1");
    expect_line(&out, "emailng_pair_degraded{pair=\"pair1\"} 1");
    expect_line(&out, "emailng_pair_degraded{pair=\"pair2\"} 1");
    expect_line(&out, "emailng_pair_degraded{pair=\"pair3\"} 0");
    assert_null(strstr(buf_cstr(&out), "garbage"));
    buf_free(&out);

    expo_healthd_status(0, NULL, 0, &out);
    expect_line(&out, "emailng_healthd_up 0");
    expect_line(&out, "emailng_healthd_status_up 0");
    assert_null(strstr(buf_cstr(&out), "emailng_store_up"));
    buf_free(&out);
}

/* A certificate's notAfter as Unix time; an unreadable one has no sample. */
static void test_certificates(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_expo.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *cmd = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/k.pem -out %s/c.pem "
                          "-subj /CN=t -days 30 >/dev/null 2>&1 && openssl x509 -in %s/c.pem -noout -enddate "
                          "> %s/end", dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *cert = xasprintf("%s/c.pem", dir);
    struct expo_item items[] = {{"server", cert}, {"missing", "/nonexistent/c.pem"}};
    buf out = BUF_INIT;
    expo_certificates(items, 2, &out);
    /* openssl's own reading of the date, as Unix time (date -d) */
    cmd = xasprintf("date -u -d \"$(sed 's/notAfter=//' %s/end)\" +%%s", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char when[32] = "";
    assert_non_null(fgets(when, sizeof when, p));
    pclose(p);
    when[strcspn(when, "\n")] = '\0';
    buf line = BUF_INIT;
    buf_printf(&line, "emailng_certificate_expiry_timestamp_seconds{certificate=\"server\",path=\"%s\"} %s", cert, when);
    expect_line(&out, buf_cstr(&line));
    assert_null(strstr(buf_cstr(&out), "missing"));
    buf_free(&line);
    buf_free(&out);
    free(cmd);
    cmd = xasprintf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(cert);
}

static void test_volumes(void **state)
{
    (void)state;
    struct expo_item items[] = {{"mail", "/"}, {"gone", "/nonexistent"}};
    buf out = BUF_INIT;
    expo_volumes(items, 2, &out);
    assert_non_null(strstr(buf_cstr(&out), "\nemailng_volume_size_bytes{volume=\"mail\",path=\"/\"} "));
    assert_non_null(strstr(buf_cstr(&out), "\nemailng_volume_avail_bytes{volume=\"mail\",path=\"/\"} "));
    assert_null(strstr(buf_cstr(&out), "gone"));
    buf_free(&out);
}

static void test_replication(void **state)
{
    (void)state;
    struct replication_user users[] = {
        {"a@example.test", "none", "-", "-", "00:00:01", 0},
        {"b@example.test", "high", "-", "-", "00:00:01", 0},
        {"c@example.test", "low", "-", "-", "-", 1},
    };
    struct replication_status st = {users, 3};
    buf out = BUF_INIT;
    expo_replication(&st, &out);
    expect_line(&out, "emailng_replication_up 1");
    expect_line(&out, "emailng_replication_users{state=\"known\"} 3");
    expect_line(&out, "emailng_replication_users{state=\"queued\"} 2");
    expect_line(&out, "emailng_replication_users{state=\"failed\"} 1");
    buf_free(&out);
    expo_replication(NULL, &out);
    expect_line(&out, "emailng_replication_up 0");
    assert_null(strstr(buf_cstr(&out), "emailng_replication_users"));
    buf_free(&out);
}

static char *scratch_dir(void)
{
    char *dir = xstrdup("/tmp/expo-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void put(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    buf err = BUF_INIT;
    if (fs_write_file(path, text, strlen(text), 0644, &err) != 0)
        fail_msg("%s", buf_cstr(&err));
    buf_free(&err);
    free(path);
}

/* A daemon runs if its pid file names a live process. */
static void test_daemons(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    char *pid = xasprintf("%ld\n", (long)getpid());
    put(dir, "alive.pid", pid);
    put(dir, "gone.pid", "999999999\n");
    char *alive = xasprintf("%s/alive.pid", dir), *gone = xasprintf("%s/gone.pid", dir);
    char *missing = xasprintf("%s/missing.pid", dir);
    struct expo_item daemons[] = {{"policyd", alive}, {"syncwatch", gone}, {"healthd", missing}};
    buf out = BUF_INIT;
    expo_daemons(daemons, 3, &out);
    expect_line(&out, "# TYPE emailng_daemon_up gauge");
    expect_line(&out, "emailng_daemon_up{daemon=\"policyd\"} 1");
    expect_line(&out, "emailng_daemon_up{daemon=\"syncwatch\"} 0");
    expect_line(&out, "emailng_daemon_up{daemon=\"healthd\"} 0");
    buf_reset(&out);
    expo_daemons(daemons, 0, &out);
    assert_int_equal(out.len, 0);
    buf_free(&out);
    buf err = BUF_INIT;
    fs_remove_tree(dir, &err);
    buf_free(&err);
    free(pid);
    free(alive);
    free(gone);
    free(missing);
    free(dir);
}

/* A daemon's counters are appended as they are; a missing file or one that
 * is not whole (no final newline, a NUL) is left out and says so. */
static void test_daemon_metrics(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    const char *good = "# HELP emailng_policyd_x_total X.\n# TYPE emailng_policyd_x_total counter\n"
                       "emailng_policyd_x_total{policy=\"spf\"} 3\n";
    put(dir, "good.prom", good);
    put(dir, "cut.prom", "emailng_syncwatch_y_total 1");
    char *g = xasprintf("%s/good.prom", dir), *c = xasprintf("%s/cut.prom", dir), *m = xasprintf("%s/none", dir);
    char *z = xasprintf("%s/nul.prom", dir);
    FILE *f = fopen(z, "w");
    assert_non_null(f);
    fwrite("a 1\0b 2\n", 1, 8, f);
    fclose(f);
    struct expo_item files[] = {{"policyd", g}, {"syncwatch", c}, {"healthd", m}, {"other", z}};
    buf out = BUF_INIT;
    expo_daemon_metrics(files, 4, &out);
    expect_line(&out, "emailng_daemon_metrics_up{daemon=\"policyd\"} 1");
    expect_line(&out, "emailng_daemon_metrics_up{daemon=\"syncwatch\"} 0");
    expect_line(&out, "emailng_daemon_metrics_up{daemon=\"healthd\"} 0");
    expect_line(&out, "emailng_daemon_metrics_up{daemon=\"other\"} 0");
    assert_non_null(strstr(buf_cstr(&out), good));
    assert_null(strstr(buf_cstr(&out), "emailng_syncwatch_y_total"));
    assert_int_equal(strlen(buf_cstr(&out)), out.len);
    buf_free(&out);
    buf err = BUF_INIT;
    fs_remove_tree(dir, &err);
    buf_free(&err);
    free(g);
    free(c);
    free(m);
    free(z);
    free(dir);
}

/* amavisd's files by type; other names and folders do not count. */
static void test_quarantine(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    put(dir, "virus-AbC12+_x", "12345");
    put(dir, "virus-Zz9", "1234567");
    put(dir, "spam-q1", "123");
    put(dir, "notes.txt", "ignored");
    put(dir, "virus-bad name", "ignored");
    char *sub = xasprintf("%s/banned-folder", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    buf out = BUF_INIT;
    expo_quarantine(dir, &out);
    expect_line(&out, "emailng_quarantine_up 1");
    expect_line(&out, "emailng_quarantine_messages{type=\"virus\"} 2");
    expect_line(&out, "emailng_quarantine_messages{type=\"spam\"} 1");
    expect_line(&out, "emailng_quarantine_messages{type=\"banned\"} 0");
    expect_line(&out, "emailng_quarantine_size_bytes{type=\"virus\"} 12");
    expect_line(&out, "emailng_quarantine_size_bytes{type=\"spam\"} 3");
    expect_line(&out, "emailng_quarantine_size_bytes{type=\"clean\"} 0");
    buf_reset(&out);
    char *none = xasprintf("%s/none", dir);
    expo_quarantine(none, &out);
    assert_string_equal(buf_cstr(&out), "# HELP emailng_quarantine_up 1 if amavisd's quarantine folder could be "
                                        "read.\n# TYPE emailng_quarantine_up gauge\nemailng_quarantine_up 0\n");
    buf_free(&out);
    buf err = BUF_INIT;
    fs_remove_tree(dir, &err);
    buf_free(&err);
    free(none);
    free(sub);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_healthd_status),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_volumes),
        cmocka_unit_test(test_replication),
        cmocka_unit_test(test_daemons),
        cmocka_unit_test(test_daemon_metrics),
        cmocka_unit_test(test_quarantine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
