/* Unit tests for src/healthd/probe.c against scripted fake servers on
 * 127.0.0.1 (a forked child per case): good dialogues, wrong replies,
 * silence past the deadline, oversized lines, refused connections; the
 * password never appears in a result (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "probe.h"

/* The fake server: for each `reply` entry, reads one line (except the
 * first, the greeting) and writes the reply; "" = read and stay silent;
 * "~REPLY" = wait 700 ms, then write REPLY (a store slowed by a storm). */
static pid_t serve(const char *const *replies, struct sockaddr_storage *sa, socklen_t *len)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 4), 0);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    memset(sa, 0, sizeof(*sa));
    memcpy(sa, &a, sizeof a);
    *len = sizeof a;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(l);
        return pid;
    }
    int c = accept(l, NULL, NULL);
    for (size_t i = 0; replies[i]; i++) {
        if (i > 0) {                    /* read one client line */
            char ch;
            while (read(c, &ch, 1) == 1 && ch != '\n')
                ;
        }
        if (!*replies[i]) {
            sleep(5);
            break;
        }
        const char *reply = replies[i];
        if (reply[0] == '~') {
            usleep(700 * 1000);
            reply++;
        }
        if (write(c, reply, strlen(reply)) < 0)
            break;
    }
    sleep(1);
    _exit(0);
}

static void run_one(probe_kind kind, const char *const *replies, long timeout_ms, probe *p)
{
    struct sockaddr_storage sa;
    socklen_t len;
    pid_t pid = serve(replies, &sa, &len);
    probe_init(p, kind, &sa, len, "probe@example.test", "S3CRET\"pw");
    probe_run(p, 1, timeout_ms, timeout_ms);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_null(strstr(buf_cstr(&p->detail), "S3CRET"));
}

static void test_lmtp_good(void **state)
{
    (void)state;
    const char *r[] = {"220 store LMTP ready\r\n", "250-store\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                       "221 2.0.0 bye\r\n", NULL};
    probe p;
    run_one(PROBE_LMTP, r, 2000, &p);
    assert_true(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "ok in"));
    probe_free(&p);
}

static void test_lmtp_bad_greeting(void **state)
{
    (void)state;
    const char *r[] = {"421 4.3.2 shutting down\r\n", NULL};
    probe p;
    run_one(PROBE_LMTP, r, 2000, &p);
    assert_false(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "greeting: unexpected reply \"421 4.3.2"));
    probe_free(&p);
}

static void test_lmtp_silent_times_out(void **state)
{
    (void)state;
    const char *r[] = {"220 ready\r\n", "", NULL};     /* never answers LHLO */
    probe p;
    long long t0 = clock_ms();
    run_one(PROBE_LMTP, r, 300, &p);
    long long took = clock_ms() - t0;
    assert_false(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "LHLO: timed out after 300 ms"));
    assert_true(took < 1500);                          /* the deadline is hard */
    assert_true(p.slow);                               /* greeted: busy, not dead */
    probe_free(&p);
}

static void test_silent_before_the_greeting_is_not_slow(void **state)
{
    (void)state;
    const char *r[] = {"", NULL};                      /* accepts, never greets */
    probe p;
    run_one(PROBE_IMAP, r, 300, &p);
    assert_false(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "greeting: timed out after 300 ms"));
    assert_false(p.slow);
    probe_free(&p);
}

static void test_imap_login_unanswered_is_slow(void **state)
{
    (void)state;
    const char *r[] = {"* OK ready\r\n", "", NULL};   /* LOGIN waits (a login storm) */
    probe p;
    run_one(PROBE_IMAP, r, 300, &p);
    assert_false(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "LOGIN: timed out after 300 ms"));
    assert_true(p.slow);
    probe_free(&p);
}

/* An IMAP probe with patience, in rounds of 300 ms until it is no longer
 * pending (at most 10); the first round must leave it pending. Returns
 * the number of rounds. */
static int run_rounds(const char *const *replies, long patience_ms, probe *p)
{
    struct sockaddr_storage sa;
    socklen_t len;
    pid_t pid = serve(replies, &sa, &len);
    probe_init(p, PROBE_IMAP, &sa, len, "probe@example.test", "S3CRET\"pw");
    p->patience_ms = patience_ms;
    int rounds = 0;
    do {
        probe_run(p, 1, 300, 300);
        if (rounds++ == 0) {
            assert_true(p->pending);
            assert_true(p->slow);
            assert_false(p->ok);
            assert_non_null(strstr(buf_cstr(&p->detail), "LOGIN: no answer yet after"));
        }
    } while (p->pending && rounds < 10);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return rounds;
}

/* A login slower than a round stays open (pending) and, continued by the
 * next rounds, ends ok: the store serves, slowly. */
static void test_slow_login_continues_and_ends_ok(void **state)
{
    (void)state;
    const char *r[] = {"* OK ready\r\n", "~A1 OK Logged in\r\n",
                       "* 0 EXISTS\r\nA2 OK [READ-ONLY] Examine completed\r\n",
                       "* BYE\r\nA3 OK Logout completed\r\n", NULL};
    probe p;
    int rounds = run_rounds(r, 5000, &p);
    assert_true(p.ok);
    assert_false(p.pending);
    assert_true(rounds >= 2);                          /* it outlived its first round */
    assert_true(p.ms >= 600);                          /* timed from its first round */
    assert_non_null(strstr(buf_cstr(&p.detail), "ok in"));
    assert_null(strstr(buf_cstr(&p.detail), "S3CRET"));
    probe_free(&p);
}

/* A login that never comes fails once its patience is over: a store whose
 * storage hangs still greets, but is not given more than that. */
static void test_pending_ends_after_its_patience(void **state)
{
    (void)state;
    const char *r[] = {"* OK ready\r\n", "", NULL};
    probe p;
    int rounds = run_rounds(r, 700, &p);
    assert_true(rounds >= 2 && rounds <= 3);           /* 300 (and 600) pending; then over 700 */
    assert_false(p.ok);
    assert_false(p.pending);
    assert_true(p.slow);
    const char *waited = strstr(buf_cstr(&p.detail), "LOGIN: timed out after ");
    assert_non_null(waited);
    assert_true(atol(waited + strlen("LOGIN: timed out after ")) >= 700);   /* the whole wait */
    probe_free(&p);
}

static void test_long_line(void **state)
{
    (void)state;
    char *big = xmalloc(20000);
    memset(big, 'A', 19999);
    big[19999] = '\0';
    const char *r[] = {big, NULL};
    probe p;
    run_one(PROBE_LMTP, r, 2000, &p);
    assert_false(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "longer than 8 KiB"));
    probe_free(&p);
    free(big);
}

static void test_imap_good(void **state)
{
    (void)state;
    const char *r[] = {"* OK [CAPABILITY IMAP4rev1] ready\r\n",
                       "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n",
                       "* FLAGS ()\r\n* 0 EXISTS\r\nA2 OK [READ-ONLY] Examine completed\r\n",
                       "* BYE Logging out\r\nA3 OK Logout completed\r\n", NULL};
    probe p;
    run_one(PROBE_IMAP, r, 2000, &p);
    assert_true(p.ok);
    probe_free(&p);
}

static void test_imap_login_refused(void **state)
{
    (void)state;
    const char *r[] = {"* OK ready\r\n", "A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", NULL};
    probe p;
    run_one(PROBE_IMAP, r, 2000, &p);
    assert_false(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "LOGIN: unexpected reply \"A1 NO [AUTHENTICATIONFAILED]"));
    probe_free(&p);
}

static void test_imap_closed(void **state)
{
    (void)state;
    const char *r[] = {"* OK ready\r\n", "A1 OK in\r\n", NULL};      /* then closes */
    probe p;
    run_one(PROBE_IMAP, r, 3000, &p);
    assert_false(p.ok);
    assert_non_null(strstr(buf_cstr(&p.detail), "EXAMINE INBOX: "));
    assert_false(p.refused);            /* closed after a greeting is no refusal */
    probe_free(&p);
}

static void test_refused_and_parallel(void **state)
{
    (void)state;
    /* A port nobody listens on: refused at once. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    memcpy(&sa, &a, sizeof a);
    probe ps[3];
    for (int i = 0; i < 3; i++)
        probe_init(&ps[i], i == 0 ? PROBE_LMTP : PROBE_IMAP, &sa, sizeof a, "u", "p");
    probe_run(ps, 3, 1000, 1000);
    for (int i = 0; i < 3; i++) {
        assert_false(ps[i].ok);
        assert_non_null(strstr(buf_cstr(&ps[i].detail), "connect: Connection refused"));
        assert_true(ps[i].refused);     /* the fast_fail evidence (monitor.h) */
        probe_free(&ps[i]);
    }
}

/* A host that does not answer the SYN (here: a listener whose backlog is
 * full drops it, as a cut link would) fails at the connect deadline, not
 * the round's; one that accepted keeps the whole deadline. */
static void test_connect_deadline(void **state)
{
    (void)state;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 0), 0);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    int fill[4];
    for (int i = 0; i < 4; i++) {       /* never accepted: the backlog fills up */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(100 * 1000);
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    memcpy(&sa, &a, sizeof a);
    probe p;
    probe_init(&p, PROBE_LMTP, &sa, sizeof a, NULL, NULL);
    long long t0 = clock_ms();
    probe_run(&p, 1, 3000, 300);
    long long took = clock_ms() - t0;
    assert_false(p.ok);
    assert_false(p.refused);
    assert_non_null(strstr(buf_cstr(&p.detail), "connect: timed out after 300 ms"));
    assert_true(took >= 290 && took < 1500);
    probe_free(&p);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(l);
    /* Accepted but silent: the round's deadline, not the connect's. */
    const char *r[] = {"", NULL};
    struct sockaddr_storage sa2;
    socklen_t len2;
    pid_t pid = serve(r, &sa2, &len2);
    probe_init(&p, PROBE_LMTP, &sa2, len2, NULL, NULL);
    t0 = clock_ms();
    probe_run(&p, 1, 800, 200);
    took = clock_ms() - t0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_non_null(strstr(buf_cstr(&p.detail), "greeting: timed out after 800 ms"));
    assert_true(took >= 790);
    probe_free(&p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lmtp_good),
        cmocka_unit_test(test_lmtp_bad_greeting),
        cmocka_unit_test(test_lmtp_silent_times_out),
        cmocka_unit_test(test_silent_before_the_greeting_is_not_slow),
        cmocka_unit_test(test_imap_login_unanswered_is_slow),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_imap_good),
        cmocka_unit_test(test_imap_login_refused),
        cmocka_unit_test(test_imap_closed),
        cmocka_unit_test(test_refused_and_parallel),
        cmocka_unit_test(test_connect_deadline),
        cmocka_unit_test(test_slow_login_continues_and_ends_ok),
        cmocka_unit_test(test_pending_ends_after_its_patience),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
