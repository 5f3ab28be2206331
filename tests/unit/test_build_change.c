/* Unit tests for src/lib/build_change.c (cmocka): when `emailng up`
 * restarts a daemon for a new build of its program. The decision on given
 * file identities, then on a live process whose program is replaced on
 * disk the way apt and `make install` do (a new file renamed over it). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "build_change.h"
#include "buf.h"
#include "fsutil.h"
#include "process.h"

static struct stat file_id(dev_t dev, ino_t ino)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_dev = dev;
    st.st_ino = ino;
    return st;
}

static void test_exe_path_without_deleted_mark(void **state)
{
    (void)state;
    int deleted = -1;
    char *p = build_exe_path("/usr/sbin/dovecot (deleted)", &deleted);
    assert_string_equal(p, "/usr/sbin/dovecot");
    assert_int_equal(deleted, 1);
    free(p);
    p = build_exe_path("/usr/sbin/dovecot", &deleted);
    assert_string_equal(p, "/usr/sbin/dovecot");
    assert_int_equal(deleted, 0);
    free(p);
}

static char *make_dir_with(const char *program)
{
    char *dir = xstrdup("/tmp/emailng-build-change-XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (program) {
        char *path = xasprintf("%s/%s", dir, program);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("#!/bin/sh\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0755), 0);
        free(path);
    }
    return dir;
}

static void remove_dir(char *dir)
{
    buf err = BUF_INIT;
    assert_int_equal(fs_remove_tree(dir, &err), 0);
    buf_free(&err);
    free(dir);
}

static void test_our_daemon_starts_from_the_folder_of_the_running_emailng(void **state)
{
    (void)state;
    char *dir = make_dir_with("emailng-healthd");
    char *want = xasprintf("%s/emailng-healthd", dir);
    char *p = build_wanted_program("/usr/local/sbin/emailng-healthd (deleted)", dir);
    assert_string_equal(p, want);
    free(p);
    /* Not in that folder: the path it runs (emailng then finds it on PATH). */
    p = build_wanted_program("/opt/old/emailng-policyd", dir);
    assert_string_equal(p, "/opt/old/emailng-policyd");
    free(p);
    free(want);
    remove_dir(dir);
}

static void test_a_debian_daemon_starts_from_the_path_it_runs(void **state)
{
    (void)state;
    char *dir = make_dir_with("dovecot");      /* even with a file of that name next to us */
    char *p = build_wanted_program("/usr/sbin/dovecot (deleted)", dir);
    assert_string_equal(p, "/usr/sbin/dovecot");
    free(p);
    remove_dir(dir);
}

static void test_same_file_is_the_same_build(void **state)
{
    (void)state;
    struct stat a = file_id(8, 100), b = file_id(8, 100);
    buf why = BUF_INIT;
    assert_int_equal(build_changed("/usr/sbin/dovecot", &a, "/usr/sbin/dovecot", &b, &why), 0);
    assert_int_equal(why.len, 0);
    buf_free(&why);
}

static void test_replaced_file_is_a_new_build(void **state)
{
    (void)state;
    struct stat a = file_id(8, 100), b = file_id(8, 101);
    buf why = BUF_INIT;
    assert_int_equal(build_changed("/usr/sbin/dovecot (deleted)", &a, "/usr/sbin/dovecot", &b, &why), 1);
    assert_string_equal(buf_cstr(&why), "its program /usr/sbin/dovecot was replaced");
    buf_free(&why);
    /* Same inode number on another file system: another file. */
    struct stat c = file_id(9, 100);
    assert_int_equal(build_changed("/usr/sbin/dovecot", &a, "/usr/sbin/dovecot", &c, &why), 1);
    buf_free(&why);
}

static void test_other_folder_is_a_new_build(void **state)
{
    (void)state;
    struct stat a = file_id(8, 100), b = file_id(8, 200);
    buf why = BUF_INIT;
    assert_int_equal(build_changed("/opt/emailng-0.9.0/emailng-healthd", &a, "/opt/emailng-0.9.1/emailng-healthd",
                                   &b, &why), 1);
    assert_string_equal(buf_cstr(&why),
                        "it runs /opt/emailng-0.9.0/emailng-healthd, the build now is /opt/emailng-0.9.1/emailng-healthd");
    buf_free(&why);
}

static void test_program_gone_is_no_reason_to_restart(void **state)
{
    (void)state;
    struct stat a = file_id(8, 100);
    buf why = BUF_INIT;
    assert_int_equal(build_changed("/usr/sbin/slapd (deleted)", &a, "/usr/sbin/slapd", NULL, &why), 0);
    buf_free(&why);
}

/* A copy of sleep(1) at path, written the way apt and install(1) do: a
 * new file renamed over the old one. */
static void install_sleep(const char *path)
{
    char *tmp = xasprintf("%s.new", path);
    const char *argv[] = {"/bin/cp", "/bin/sleep", tmp, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    assert_int_equal(process_run(argv, NULL, &out, &err), 0);
    assert_int_equal(rename(tmp, path), 0);
    buf_free(&out);
    buf_free(&err);
    free(tmp);
}

static void test_live_process_whose_program_is_replaced(void **state)
{
    (void)state;
    char *dir = make_dir_with(NULL);
    char *program = xasprintf("%s/somed", dir);
    install_sleep(program);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(program, "somed", "60", (char *)NULL);
        _exit(127);
    }
    /* Until the child runs the program (not the test binary any more). */
    char *proc = xasprintf("/proc/%ld/exe", (long)pid);
    struct stat st, prog;
    assert_int_equal(stat(program, &prog), 0);
    for (int i = 0; i < 500; i++) {
        if (stat(proc, &st) == 0 && st.st_ino == prog.st_ino)
            break;
        usleep(10 * 1000);
    }
    buf why = BUF_INIT;
    assert_int_equal(build_changed_pid(pid, &why), 0);
    install_sleep(program);
    assert_int_equal(build_changed_pid(pid, &why), 1);
    char *want = xasprintf("its program %s was replaced", program);
    assert_string_equal(buf_cstr(&why), want);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* Gone: nothing to tell, nothing restarted. */
    buf_reset(&why);
    assert_int_equal(build_changed_pid(pid, &why), 0);
    buf_free(&why);
    free(want);
    free(proc);
    free(program);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exe_path_without_deleted_mark),
        cmocka_unit_test(test_our_daemon_starts_from_the_folder_of_the_running_emailng),
        cmocka_unit_test(test_a_debian_daemon_starts_from_the_path_it_runs),
        cmocka_unit_test(test_same_file_is_the_same_build),
        cmocka_unit_test(test_replaced_file_is_a_new_build),
        cmocka_unit_test(test_other_folder_is_a_new_build),
        cmocka_unit_test(test_program_gone_is_no_reason_to_restart),
        cmocka_unit_test(test_live_process_whose_program_is_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
