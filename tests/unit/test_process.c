/* Unit tests for src/lib/process.c's error paths (cmocka): a failed fork
 * must not leak the input pipe, and a failed waitpid must be an error,
 * never a status read from an uninitialised variable.
 *
 * fork() and waitpid() are replaced by this file's definitions (the
 * program's own symbols come before libc's); they call the real ones
 * unless a test asks for a failure. */
#include <dirent.h>
#include <sched.h>
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "process.h"

static int fork_fails;

enum waitpid_mode { WAIT_REAL, WAIT_EINTR_ONCE, WAIT_REAPED_ELSEWHERE };
static enum waitpid_mode waitpid_mode;

pid_t fork(void)
{
    if (fork_fails) {
        errno = EAGAIN;
        return -1;
    }
    pid_t (*real_fork)(void) = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
    return real_fork();
}

pid_t waitpid(pid_t pid, int *status, int options)
{
    pid_t (*real_waitpid)(pid_t, int *, int) = (pid_t (*)(pid_t, int *, int))dlsym(RTLD_NEXT, "waitpid");
    switch (waitpid_mode) {
    case WAIT_EINTR_ONCE:
        waitpid_mode = WAIT_REAL;
        errno = EINTR;
        return -1;
    case WAIT_REAPED_ELSEWHERE:
        /* As if a SIGCHLD handler elsewhere had reaped it first. */
        real_waitpid(pid, NULL, options);
        errno = ECHILD;
        return -1;
    case WAIT_REAL:
        break;
    }
    return real_waitpid(pid, status, options);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static int reset(void **state)
{
    (void)state;
    fork_fails = 0;
    waitpid_mode = WAIT_REAL;
    return 0;
}

static void test_run_collects_output_and_status(void **state)
{
    (void)state;
    const char *const argv[] = {"sh", "-c", "cat; echo out; exit 3", NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    assert_int_equal(process_run(argv, "in\n", &out, &err), 3);
    assert_string_equal(buf_cstr(&out), "in\nout\n");
    buf_free(&out);
    buf_free(&err);
}

static void test_failed_fork_leaks_no_descriptor(void **state)
{
    (void)state;
    const char *const argv[] = {"cat", NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int before = open_fds();
    fork_fails = 1;
    assert_int_equal(process_run(argv, "input for the pipe", &out, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "cannot fork"));
    assert_int_equal(process_run(argv, NULL, &out, &err), -1);
    assert_int_equal(open_fds(), before);
    buf_free(&out);
    buf_free(&err);
}

static void test_run_waits_again_after_a_signal(void **state)
{
    (void)state;
    const char *const argv[] = {"sh", "-c", "exit 5", NULL};
    buf err = BUF_INIT;
    waitpid_mode = WAIT_EINTR_ONCE;
    assert_int_equal(process_run(argv, NULL, NULL, &err), 5);
    buf_free(&err);
}

static void test_run_fails_when_the_child_cannot_be_waited_for(void **state)
{
    (void)state;
    const char *const argv[] = {"true", NULL};
    buf err = BUF_INIT;
    int before = open_fds();
    waitpid_mode = WAIT_REAPED_ELSEWHERE;
    assert_int_equal(process_run(argv, "x", NULL, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "waitpid"));
    assert_int_equal(open_fds(), before);
    buf_free(&err);
}

static void test_spawn_fails_when_the_child_cannot_be_waited_for(void **state)
{
    (void)state;
    char log[] = "/tmp/emailng-test-process-XXXXXX";
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    close(fd);
    const char *const argv[] = {"/bin/true", NULL};
    buf err = BUF_INIT;
    int before = open_fds();
    waitpid_mode = WAIT_REAPED_ELSEWHERE;
    assert_int_equal(process_spawn_daemon(argv, log, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "waitpid"));
    assert_int_equal(open_fds(), before);
    waitpid_mode = WAIT_REAL;
    buf_reset(&err);
    assert_int_equal(process_spawn_daemon(argv, log, &err), 0);
    unlink(log);
    buf_free(&err);
}

static void test_spawn_failed_fork_closes_the_log(void **state)
{
    (void)state;
    const char *const argv[] = {"/bin/true", NULL};
    buf err = BUF_INIT;
    int before = open_fds();
    fork_fails = 1;
    assert_int_equal(process_spawn_daemon(argv, "/dev/null", &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "cannot fork"));
    assert_int_equal(open_fds(), before);
    buf_free(&err);
}

static void test_table_holds_us_with_our_parent(void **state)
{
    (void)state;
    struct process_entry *t;
    size_t n;
    assert_int_equal(process_table(&t, &n), 0);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].pid == (long)getpid()) {
            found = 1;
            assert_int_equal(t[i].ppid, (long)getppid());
            assert_true(t[i].start > 0);
        }
    assert_true(found);
    free(t);
    assert_true(process_tree_rss_kb(getpid()) > 0);
}

static void test_port_owner_finds_our_listener(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    buf name = BUF_INIT;
    assert_int_equal(port_owner(ntohs(sa.sin_port), &name), getpid());
    assert_true(name.len > 0);
    close(fd);
    buf_free(&name);
}

/* A child whose own child outlives it: stop_tree ends both. */
static void test_stop_tree_ends_the_descendants(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            signal(SIGTERM, SIG_IGN);       /* only SIGKILL ends it */
            dprintf(ready[1], "%ld\n", (long)getpid());
            for (;;)
                pause();
        }
        for (;;)
            pause();
    }
    close(ready[1]);
    char line[32] = "";
    assert_true(read(ready[0], line, sizeof line - 1) > 0);
    close(ready[0]);
    pid_t grandchild = (pid_t)strtol(line, NULL, 10);
    assert_true(process_alive(grandchild));
    assert_int_equal(process_stop_tree(child, 5), 0);
    for (int i = 0; i < 100 && process_alive(grandchild); i++)
        usleep(10 * 1000);
    assert_false(process_alive(grandchild));
}

/* An attached run: the exit status, a signal as 128+N, a missing program
 * as 127, a failed fork and a lost child as errors. */
static void test_run_attached(void **state)
{
    (void)state;
    buf err = BUF_INIT;
    const char *exit3[] = {"/bin/sh", "-c", "exit 3", NULL};
    assert_int_equal(process_run_attached(exit3, &err), 3);
    const char *killed[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    assert_int_equal(process_run_attached(killed, &err), 128 + SIGTERM);
    const char *missing[] = {"/nonexistent/emailng-test-program", NULL};
    assert_int_equal(process_run_attached(missing, &err), 127);
    fork_fails = 1;
    assert_int_equal(process_run_attached(exit3, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "cannot fork"));
    fork_fails = 0;
    buf_reset(&err);
    waitpid_mode = WAIT_REAPED_ELSEWHERE;
    assert_int_equal(process_run_attached(exit3, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "waitpid"));
    buf_free(&err);
}

/* A child in a network namespace of its own is another host's; we and a
 * plain child are ours; a pid that is gone is no one's. (Root: unshare.) */
static void test_network_namespace_tells_hosts_apart(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t other = fork();
    assert_true(other >= 0);
    if (other == 0) {
        char ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    assert_int_equal(process_in_our_network_namespace(getpid()), 1);
    assert_int_equal(process_in_our_network_namespace(other), 0);
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
    assert_int_equal(process_in_our_network_namespace(other), 0);
    close(ready[0]);
    close(ready[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_network_namespace_tells_hosts_apart, reset),
        cmocka_unit_test_setup(test_run_collects_output_and_status, reset),
        cmocka_unit_test_setup(test_failed_fork_leaks_no_descriptor, reset),
        cmocka_unit_test_setup(test_run_waits_again_after_a_signal, reset),
        cmocka_unit_test_setup(test_run_fails_when_the_child_cannot_be_waited_for, reset),
        cmocka_unit_test_setup(test_spawn_fails_when_the_child_cannot_be_waited_for, reset),
        cmocka_unit_test_setup(test_spawn_failed_fork_closes_the_log, reset),
        cmocka_unit_test_setup(test_table_holds_us_with_our_parent, reset),
        cmocka_unit_test_setup(test_stop_tree_ends_the_descendants, reset),
        cmocka_unit_test_setup(test_port_owner_finds_our_listener, reset),
        cmocka_unit_test_setup(test_run_attached, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
