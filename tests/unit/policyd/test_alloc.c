/* Unit tests: emailng-policyd when libevent cannot allocate (cmocka).
 * bufferevent_socket_new, evconnlistener_new and event_new are replaced
 * here (the executable's definition wins over libevent's; the real one is
 * reached through dlsym(RTLD_NEXT)), so that each can be made to fail:
 * the daemon must close the connection, give up on the listener, answer
 * the quota question "unknown" and the SPF check temperror, never crash. */
#include <dlfcn.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "daemon_log.h"
#include "engine.h"
#include "quotaclient.h"
#include "server.h"
#include "spfhelper.h"
#include "table.h"

/* ---- failure injection ---- */

static int fail_bufferevent, fail_listener, fail_event;

struct bufferevent *bufferevent_socket_new(struct event_base *base, evutil_socket_t fd, int options)
{
    static struct bufferevent *(*real)(struct event_base *, evutil_socket_t, int);
    if (fail_bufferevent)
        return NULL;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "bufferevent_socket_new");
    return real(base, fd, options);
}

struct evconnlistener *evconnlistener_new(struct event_base *base, evconnlistener_cb cb, void *ptr,
                                          unsigned flags, int backlog, evutil_socket_t fd)
{
    static struct evconnlistener *(*real)(struct event_base *, evconnlistener_cb, void *, unsigned, int,
                                          evutil_socket_t);
    if (fail_listener)
        return NULL;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "evconnlistener_new");
    return real(base, cb, ptr, flags, backlog, fd);
}

struct event *event_new(struct event_base *base, evutil_socket_t fd, short events, event_callback_fn cb,
                        void *arg)
{
    static struct event *(*real)(struct event_base *, evutil_socket_t, short, event_callback_fn, void *);
    if (fail_event)
        return NULL;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "event_new");
    return real(base, fd, events, cb, arg);
}

/* ---- fixtures ---- */

static char dir[64];
static char sock[96];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/policyd-alloc-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof sock, "%s/policy", dir);
    fail_bufferevent = fail_listener = fail_event = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fail_bufferevent = fail_listener = fail_event = 0;
    unlink(sock);
    rmdir(dir);
    return 0;
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    return fd;
}

/* ---- server ---- */

/* A connection whose bufferevent cannot be made is closed (the client sees
 * EOF, Postfix then applies its default_action) and not counted. */
static void test_accept_without_bufferevent(void **state)
{
    (void)state;
    config cfg;
    config_defaults(&cfg);
    table tab;
    table_init(&tab);
    engine eng;
    engine_init(&eng, &cfg, &tab, NULL, NULL, NULL);
    struct event_base *base = event_base_new();
    assert_non_null(base);
    buf err = BUF_INIT;
    buf item = BUF_INIT;
    buf_printf(&item, "unix:%s", sock);
    int lfd = listen_on(buf_cstr(&item), (gid_t)-1, &err);
    assert_true(lfd >= 0);
    uid_t me = getuid();
    server *srv = server_new(base, &cfg, &eng, &lfd, 1, &me, 1);
    assert_non_null(srv);

    fail_bufferevent = 1;
    int client = connect_unix(sock);
    const char req[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n\n";
    assert_int_equal(write(client, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char got[64];
    ssize_t n = 1;
    int closed = 0;
    for (int i = 0; i < 200; i++) {     /* the loop accepts; the client sees the close */
        event_base_loop(base, EVLOOP_NONBLOCK);
        struct pollfd p = {client, POLLIN, 0};
        if (poll(&p, 1, 10) == 1) {
            n = read(client, got, sizeof got);
            /* closed with the request unread: a reset, else EOF */
            closed = n == 0 || (n < 0 && errno == ECONNRESET);
            break;
        }
    }
    assert_true(closed);
    assert_int_equal(server_connections(srv), 0);
    close(client);

    /* and the next connection, with memory again, is served */
    fail_bufferevent = 0;
    client = connect_unix(sock);
    for (int i = 0; i < 200 && server_connections(srv) == 0; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_int_equal(server_connections(srv), 1);
    close(client);
    for (int i = 0; i < 200 && server_connections(srv) > 0; i++) {     /* server_free keeps open ones */
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_int_equal(server_connections(srv), 0);

    server_free(srv);
    engine_free(&eng);
    event_base_free(base);
    table_free(&tab);
    config_free(&cfg);
    buf_free(&item);
    buf_free(&err);
}

/* A listener libevent cannot take: server_new says so and closes the fds. */
static void test_listener_not_allocated(void **state)
{
    (void)state;
    config cfg;
    config_defaults(&cfg);
    table tab;
    table_init(&tab);
    engine eng;
    engine_init(&eng, &cfg, &tab, NULL, NULL, NULL);
    struct event_base *base = event_base_new();
    assert_non_null(base);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    fail_listener = 1;
    assert_null(server_new(base, &cfg, &eng, fds, 2, NULL, 0));
    assert_false(fd_is_open(fds[0]));
    assert_false(fd_is_open(fds[1]));
    engine_free(&eng);
    event_base_free(base);
    table_free(&tab);
    config_free(&cfg);
}

/* ---- quota client ---- */

static quota_status quota_got = (quota_status)-1;
static char quota_log[256];

static void quota_done(void *arg, quota_status st, const char *detail)
{
    (void)arg;
    (void)detail;
    quota_got = st;
}

static void quota_log_fn(const char *msg)
{
    snprintf(quota_log, sizeof quota_log, "%s", msg);
}

static const char QUOTA_CONF[] =
    "listen: [\"127.0.0.1:10040\"]\n"
    "quota:\n"
    "  stores:\n"
    "    pair1: [\"127.0.0.1:9\"]\n";

/* No connection for the question: the mailbox is unknown at once
 * (quota.default_action), one log line, no crash. */
static void test_quota_without_bufferevent(void **state)
{
    (void)state;
    config cfg;
    config_defaults(&cfg);
    buf err = BUF_INIT;
    assert_int_equal(config_parse(&cfg, QUOTA_CONF, strlen(QUOTA_CONF), "c.yaml", &err), 0);
    struct event_base *base = event_base_new();
    assert_non_null(base);
    quota_client *qc = quota_client_new(base, &cfg, quota_log_fn);
    fail_bufferevent = 1;
    quota_got = (quota_status)-1;
    quota_client_lookup(qc, "alice@example.test", "pair1", 100, quota_done, NULL);
    assert_int_equal(quota_got, QS_UNKNOWN);
    assert_non_null(strstr(quota_log, "cannot allocate"));
    quota_client_free(qc);
    event_base_free(base);
    config_free(&cfg);
    buf_free(&err);
}

/* ---- SPF client ---- */

static int spf_calls;
static char spf_result[32];

static void spf_done(void *arg, const spf_answer *a)
{
    (void)arg;
    spf_calls++;
    snprintf(spf_result, sizeof spf_result, "%s", a->result);
}

static void test_spf_client_without_libevent(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    int sv[2];

    /* no bufferevent for the helper's socket: NULL, the socket closed */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fail_bufferevent = 1;
    assert_null(spf_client_new(base, sv[0], 1000, NULL));
    assert_false(fd_is_open(sv[0]));
    close(sv[1]);
    fail_bufferevent = 0;

    /* no timer for a check: temperror at once, nothing left behind */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    spf_client *c = spf_client_new(base, sv[0], 1000, NULL);
    assert_non_null(c);
    fail_event = 1;
    spf_calls = 0;
    assert_null(spf_client_check(c, "192.0.2.1", "mx.example.org", "a@example.org", spf_done, NULL));
    fail_event = 0;
    assert_int_equal(spf_calls, 1);
    assert_string_equal(spf_result, "temperror");
    spf_client_free(c);
    close(sv[1]);
    event_base_free(base);
}

int main(void)
{
    (void)daemon_log_open("policyd-test", getenv("TEST_LOG") ? getenv("TEST_LOG") : "/dev/null");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accept_without_bufferevent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_not_allocated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_without_bufferevent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spf_client_without_libevent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
