/* Unit tests for src/lib/password.c (cmocka).  Terminal reading is tested
 * on a real pseudo-terminal (forkpty), standard input through a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "password.h"

static void test_hash_and_verify(void **state)
{
    (void)state;
    buf h1 = BUF_INIT, h2 = BUF_INIT, err = BUF_INIT;
    assert_int_equal(password_hash("correct horse", &h1, &err), 0);
    assert_int_equal(strncmp(buf_cstr(&h1), "{CRYPT}$y$", 10), 0);
    assert_int_equal(password_hash("correct horse", &h2, &err), 0);
    assert_string_not_equal(buf_cstr(&h1), buf_cstr(&h2));   /* fresh salt */

    assert_int_equal(password_verify("correct horse", buf_cstr(&h1)), 1);
    assert_int_equal(password_verify("correct horse", buf_cstr(&h1) + 7), 1);
    assert_int_equal(password_verify("correct horsE", buf_cstr(&h1)), 0);
    assert_int_equal(password_verify("", buf_cstr(&h1)), 0);
    assert_int_equal(password_verify("x", ""), 0);
    assert_int_equal(password_verify("x", "{CRYPT}"), 0);
    assert_int_equal(password_verify("x", "*0"), 0);
    assert_int_equal(password_verify("x", "{CRYPT}$y$garbage"), 0);
    assert_int_equal(password_verify(NULL, buf_cstr(&h1)), 0);

    assert_int_equal(password_hash("", &h1, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "empty"));
    buf_free(&h1);
    buf_free(&h2);
    buf_free(&err);
}

static void test_generate(void **state)
{
    (void)state;
    buf a = BUF_INIT, b = BUF_INIT;
    assert_int_equal(password_generate(&a), 0);
    assert_int_equal(password_generate(&b), 0);
    assert_int_equal(a.len, PASSWORD_GENERATED_LEN);
    assert_string_not_equal(buf_cstr(&a), buf_cstr(&b));
    for (size_t i = 0; i < a.len; i++)
        assert_null(strchr("0oO1lI", a.data[i]));
    password_wipe(&a);
    password_wipe(&b);
    assert_null(a.data);
}

/* Put `content` (len bytes) on standard input, then read with from_stdin. */
static int read_from_stdin(const char *content, size_t len, buf *out, buf *err)
{
    char path[] = "/tmp/emailng-test-pw-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    assert_non_null(freopen(path, "r", stdin));
    unlink(path);
    return password_read("unused", 1, out, err);
}

static void test_read_stdin(void **state)
{
    (void)state;
    buf out = BUF_INIT, err = BUF_INIT;

    assert_int_equal(read_from_stdin("s3cret\n", 7, &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "s3cret");
    assert_int_equal(read_from_stdin("s3cret\r\nignored\n", 16, &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "s3cret");
    assert_int_equal(read_from_stdin("no newline", 10, &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "no newline");
    assert_int_equal(read_from_stdin(" spaces kept ", 13, &out, &err), 0);
    assert_string_equal(buf_cstr(&out), " spaces kept ");

    assert_int_equal(read_from_stdin("\n", 1, &out, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "is empty"));
    assert_int_equal(read_from_stdin("", 0, &out, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "end of input"));
    assert_int_equal(read_from_stdin("a\0b\n", 4, &out, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "NUL"));
    assert_int_equal(out.len, 0);

    char big[PASSWORD_MAX + 2];
    memset(big, 'x', sizeof big);
    big[PASSWORD_MAX] = '\n';
    assert_int_equal(read_from_stdin(big, PASSWORD_MAX + 1, &out, &err), 0);
    assert_int_equal(out.len, PASSWORD_MAX);
    big[PASSWORD_MAX] = 'x';
    big[PASSWORD_MAX + 1] = '\n';
    assert_int_equal(read_from_stdin(big, sizeof big, &out, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "longer than 1024 bytes"));
    assert_int_equal(out.len, 0);
    password_wipe(&out);
    buf_free(&err);
}

/* Read from the pty master until `want` shows up; everything is kept in
 * `seen`.  Returns 0 if found, -1 on EOF/error. */
static int pty_expect(int master, buf *seen, const char *want)
{
    char chunk[256];
    while (strstr(buf_cstr(seen), want) == NULL) {
        ssize_t n = read(master, chunk, sizeof chunk);
        if (n <= 0)
            return -1;
        buf_append(seen, chunk, (size_t)n);
    }
    return 0;
}

static void pty_session(const char *first, const char *second, buf *seen)
{
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        buf out = BUF_INIT, err = BUF_INIT;
        if (password_read("Password: ", 0, &out, &err) == 0)
            printf("RESULT:[%s]\n", buf_cstr(&out));
        else
            printf("ERROR:[%s]\n", buf_cstr(&err));
        fflush(stdout);
        _exit(0);
    }
    assert_int_equal(pty_expect(master, seen, "Password: "), 0);
    assert_int_equal(write(master, first, strlen(first)), (ssize_t)strlen(first));
    assert_int_equal(pty_expect(master, seen, "Retype password: "), 0);
    assert_int_equal(write(master, second, strlen(second)), (ssize_t)strlen(second));
    (void)pty_expect(master, seen, "]\n");         /* until the child's line */
    close(master);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_read_terminal(void **state)
{
    (void)state;
    buf seen = BUF_INIT;
    pty_session("tty-s3cret\n", "tty-s3cret\n", &seen);
    assert_non_null(strstr(buf_cstr(&seen), "RESULT:[tty-s3cret]"));
    /* echo off: the password shows up only in the child's own report */
    const char *first = strstr(buf_cstr(&seen), "tty-s3cret");
    assert_true(first == strstr(buf_cstr(&seen), "RESULT:[") + 8);

    buf_reset(&seen);
    pty_session("one\n", "two\n", &seen);
    assert_non_null(strstr(buf_cstr(&seen), "ERROR:[the two passwords differ]"));
    buf_free(&seen);
}

/* A site secret is made once, 0600 in a 0700 folder, and then kept. */
static void test_file_ensure(void **state)
{
    (void)state;
    char top[] = "/tmp/emailng-test-password-XXXXXX";
    assert_non_null(mkdtemp(top));
    char *file = xasprintf("%s/secrets/key", top);
    buf err = BUF_INIT;
    assert_int_equal(password_file_ensure(file, 2, 1, &err), 0);
    struct stat st, dir_st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char *dir = xasprintf("%s/secrets", top);
    assert_int_equal(stat(dir, &dir_st), 0);
    assert_int_equal(dir_st.st_mode & 07777, 0700);
    assert_int_equal(st.st_size, 2 * PASSWORD_GENERATED_LEN + 1);
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    char first[128] = "", second[128] = "";
    assert_non_null(fgets(first, sizeof first, f));
    fclose(f);
    assert_int_equal(first[2 * PASSWORD_GENERATED_LEN], '\n');
    /* a second call keeps the secret */
    assert_int_equal(password_file_ensure(file, 1, 0, &err), 0);
    f = fopen(file, "r");
    assert_non_null(f);
    assert_non_null(fgets(second, sizeof second, f));
    fclose(f);
    assert_string_equal(first, second);
    /* without the newline */
    char *bare = xasprintf("%s/secrets/bare", top);
    assert_int_equal(password_file_ensure(bare, 1, 0, &err), 0);
    assert_int_equal(stat(bare, &st), 0);
    assert_int_equal(st.st_size, PASSWORD_GENERATED_LEN);
    unlink(bare);
    unlink(file);
    rmdir(dir);
    rmdir(top);
    free(bare);
    free(dir);
    free(file);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_read_stdin),
        cmocka_unit_test(test_read_terminal),
        cmocka_unit_test(test_file_ensure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
