/* Unit tests for src/healthd/watch.c: the held connection that turns a
 * store whose daemons die into a refusal at once (cmocka, real loopback
 * sockets, the watch driven by poll like main.c does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "watch.h"

/* A listening loopback socket; its address in *sa. */
static int listener(struct sockaddr_storage *sa, socklen_t *len)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 8), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
    memset(sa, 0, sizeof *sa);
    memcpy(sa, &a, sizeof a);
    *len = sizeof a;
    return l;
}

/* Drives the watch for up to ms; returns the first event that is not
 * WATCH_NONE (and the time it came in *at), or WATCH_NONE. */
static watch_event drive(watch *w, long ms, long long *at)
{
    long long end = clock_ms() + ms;
    for (;;) {
        long long now = clock_ms();
        if (now >= end)
            return WATCH_NONE;
        struct pollfd pfd;
        watch_pollfd(w, &pfd);
        long long wake = watch_next_ms(w);
        if (wake < 0 || wake > end)
            wake = end;
        int rc = poll(&pfd, pfd.fd >= 0 ? 1 : 0, wake > now ? (int)(wake - now) : 0);
        assert_true(rc >= 0);
        now = clock_ms();
        watch_event e = watch_step(w, rc > 0 ? pfd.revents : 0, now, 100, 1000, 500);
        if (e != WATCH_NONE) {
            *at = now;
            return e;
        }
    }
}

static void test_nothing_listens_is_refused(void **state)
{
    (void)state;
    struct sockaddr_storage sa;
    socklen_t len;
    close(listener(&sa, &len));                 /* the port is free now */
    watch w;
    long long at = 0;
    watch_init(&w, &sa, len, clock_ms());
    assert_int_equal(drive(&w, 1000, &at), WATCH_REFUSED);
    assert_int_equal(w.fd, -1);
    assert_int_equal(watch_next_ms(&w), at + 100);  /* retry_ms */
    /* Still refused at the retry: another event, not before it. */
    assert_int_equal(drive(&w, 1000, &at), WATCH_REFUSED);
    watch_close(&w);
}

static void test_held_connection_closed_by_a_dead_store(void **state)
{
    (void)state;
    struct sockaddr_storage sa;
    socklen_t len;
    int l = listener(&sa, &len);
    watch w;
    long long at = 0;
    watch_init(&w, &sa, len, clock_ms());
    /* Connected and held: no event however long it stays up. */
    assert_int_equal(drive(&w, 300, &at), WATCH_NONE);
    assert_true(w.fd >= 0);
    assert_int_equal(watch_next_ms(&w), -1);
    int c = accept(l, NULL, NULL);
    assert_true(c >= 0);
    assert_int_equal(write(c, "* OK ready\r\n", 12), 12);
    assert_int_equal(drive(&w, 200, &at), WATCH_NONE);       /* lines are read and dropped */
    /* The store's daemons die: listener and session close together. */
    long long killed = clock_ms();
    close(l);
    close(c);
    assert_int_equal(drive(&w, 1000, &at), WATCH_REFUSED);
    assert_true(at - killed < 100);             /* at once, not at a retry or a round */
    watch_close(&w);
}

static void test_session_closed_by_a_live_store_is_no_event(void **state)
{
    (void)state;
    struct sockaddr_storage sa;
    socklen_t len;
    int l = listener(&sa, &len);
    watch w;
    long long at = 0;
    watch_init(&w, &sa, len, clock_ms());
    assert_int_equal(drive(&w, 200, &at), WATCH_NONE);
    int c = accept(l, NULL, NULL);
    assert_true(c >= 0);
    /* e.g. Dovecot ends an idle pre-login session: the watch reconnects. */
    assert_int_equal(write(c, "* BYE Disconnected for inactivity.\r\n", 36), 36);
    close(c);
    assert_int_equal(drive(&w, 300, &at), WATCH_NONE);
    int c2 = accept(l, NULL, NULL);             /* the new connection is there */
    assert_true(c2 >= 0);
    assert_true(w.fd >= 0);
    close(c2);
    close(l);
    watch_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_listens_is_refused),
        cmocka_unit_test(test_held_connection_closed_by_a_dead_store),
        cmocka_unit_test(test_session_closed_by_a_live_store_is_no_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
