/* Unit tests for src/lib/daemon.c and src/lib/msg.c (cmocka): the
 * skeleton every EmailNG daemon shares. Forked children try what would
 * end or change the test process (exit, privileges, signals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "daemon_log.h"
#include "fsutil.h"
#include "msg.h"

static char dir[] = "/tmp/emailng-test-daemon-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    buf err = BUF_INIT;
    fs_remove_tree(dir, &err);
    buf_free(&err);
    return 0;
}

static void read_text(const char *path, buf *out)
{
    buf err = BUF_INIT;
    buf_reset(out);
    assert_int_equal(fs_read_file(path, 1 << 20, out, &err), 0);
    buf_free(&err);
}

static int child_status(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_severities(void **state)
{
    (void)state;
    char *path = xasprintf("%s/msg.log", dir);
    assert_int_equal(daemon_log_open("emailng-test", path), 0);
    msg_info("plain %d", 1);
    msg_warn("careful %s", "now");
    msg_error("went wrong");
    pid_t pid = fork();
    if (pid == 0)
        msg_fatal("cannot go on: %s", "reason");
    int status = child_status(pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    pid = fork();
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        msg_panic("impossible state %d", 42);
    }
    status = child_status(pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    daemon_log_close();
    buf text = BUF_INIT;
    read_text(path, &text);
    const char *want[] = {"emailng-test[", "]: plain 1\n", "]: warning: careful now\n", "]: error: went wrong\n",
                          "]: fatal: cannot go on: reason\n", "]: panic: impossible state 42\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(buf_cstr(&text), want[i]) == NULL)
            fail_msg("the log lacks \"%s\":\n%s", want[i], buf_cstr(&text));
    buf_free(&text);
    free(path);
}

/* Written by the daemon, removed when it exits; a forked child's exit
 * leaves it alone. */
static void test_pid_file(void **state)
{
    (void)state;
    char *path = xasprintf("%s/d.pid", dir);
    pid_t daemon = fork();
    if (daemon == 0) {
        buf err = BUF_INIT;
        if (daemon_pid_file_create(path, &err) != 0)
            _exit(2);
        pid_t child = fork();
        if (child == 0)
            exit(0);                    /* runs atexit handlers: must not remove it */
        int st;
        waitpid(child, &st, 0);
        exit(fs_exists(path) ? 0 : 3);
    }
    int status = child_status(daemon);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(fs_exists(path));
    free(path);
}

static void test_signals(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        daemon_signals_catch();
        if (daemon_signal_stop() != 0 || daemon_signal_hup())
            _exit(2);
        raise(SIGHUP);
        raise(SIGHUP);
        if (!daemon_signal_hup() || daemon_signal_hup())
            _exit(3);               /* once per check, however many arrived */
        raise(SIGTERM);
        _exit(daemon_signal_stop() == SIGTERM ? 0 : 4);
    }
    int status = child_status(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* As root: the user's uid, gid and groups, no way back to root, not
 * dumpable. (The tests run as root in CI, as the daemons start.) */
static void test_drop_privileges(void **state)
{
    (void)state;
    buf err = BUF_INIT;
    assert_int_equal(daemon_drop_privileges("no-such-user-emailng", &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "does not exist"));
    buf_free(&err);
    if (getuid() != 0)
        fail_msg("run the unit tests as root: daemon_drop_privileges is tested as the daemons use it");
    struct passwd *pw = getpwnam("nobody");
    assert_non_null(pw);
    pid_t pid = fork();
    if (pid == 0) {
        buf e = BUF_INIT;
        if (daemon_drop_privileges("nobody", &e) != 0)
            _exit(2);
        gid_t groups[64];
        int n = getgroups(64, groups);
        for (int i = 0; i < n; i++)
            if (groups[i] == 0)
                _exit(3);           /* root's group kept */
        if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid)
            _exit(4);
        if (setuid(0) == 0)
            _exit(5);
        _exit(prctl(PR_GET_DUMPABLE) == 0 ? 0 : 6);
    }
    int status = child_status(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_severities),
        cmocka_unit_test(test_pid_file),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_drop_privileges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
