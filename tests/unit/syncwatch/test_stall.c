/* stall: only the title of a doveadm-server of this store's Dovecot that
 * serves a dsync and waits for its handshake is taken; the partner's
 * address and the user come out whole; anything malformed or hostile is
 * not taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "stall.h"

#define PREFIX "dovecot-emailng-store1"

static int parse(const char *title, size_t len, struct stall_title *t)
{
    return stall_parse_title(title, len, PREFIX, t);
}

static int parse_str(const char *title, struct stall_title *t)
{
    return parse(title, strlen(title), t);
}

static void test_waiting_slave_is_taken(void **state)
{
    (void)state;
    struct stall_title t = {BUF_INIT, BUF_INIT};
    assert_int_equal(parse_str(PREFIX "/doveadm-server [198.18.0.32 alice@example.test slave_recv_handshake]", &t),
                     1);
    assert_string_equal(buf_cstr(&t.client), "198.18.0.32");
    assert_string_equal(buf_cstr(&t.user), "alice@example.test");
    assert_int_equal(parse_str(PREFIX "/doveadm-server [2001:db8::32 bob@example.test slave_recv_handshake]", &t), 1);
    assert_string_equal(buf_cstr(&t.client), "2001:db8::32");
    assert_string_equal(buf_cstr(&t.user), "bob@example.test");
    stall_title_free(&t);
}

static void test_cmdline_nul_bytes(void **state)
{
    (void)state;
    struct stall_title t = {BUF_INIT, BUF_INIT};
    /* The title written over argv: NULs between the old arguments, and padding. */
    static const char title[] = PREFIX "/doveadm-server [198.18.0.32\0alice@example.test slave_recv_handshake]\0\0\0";
    assert_int_equal(parse(title, sizeof title - 1, &t), 1);
    assert_string_equal(buf_cstr(&t.user), "alice@example.test");
    stall_title_free(&t);
}

static void test_other_titles_are_not_taken(void **state)
{
    (void)state;
    struct stall_title t = {BUF_INIT, BUF_INIT};
    const char *others[] = {
        /* a sync that is running, the master side, other services */
        PREFIX "/doveadm-server [198.18.0.32 alice@example.test slave_recv_mailbox_tree]",
        PREFIX "/doveadm-server [dsync - running dsync-server on 198.18.0.32:12345]",
        PREFIX "/doveadm-server",
        PREFIX "/imap [alice@example.test 198.18.0.21 IDLE]",
        /* the other store's Dovecot on the same machine (the test fabric) */
        "dovecot-emailng-store2/doveadm-server [198.18.0.31 alice@example.test slave_recv_handshake]",
        "dovecot-emailng-store10/doveadm-server [198.18.0.31 alice@example.test slave_recv_handshake]",
        /* a prefix that is only a part of the name */
        "x" PREFIX "/doveadm-server [198.18.0.32 alice@example.test slave_recv_handshake]",
        /* malformed: no address, not an address, no user, extra words, no bracket */
        PREFIX "/doveadm-server [alice@example.test slave_recv_handshake]",
        PREFIX "/doveadm-server [mail.example.test alice@example.test slave_recv_handshake]",
        PREFIX "/doveadm-server [198.18.0.32  slave_recv_handshake]",
        PREFIX "/doveadm-server [198.18.0.32 alice@example.test x slave_recv_handshake]",
        PREFIX "/doveadm-server [198.18.0.32 alice@example.test slave_recv_handshake",
        PREFIX "/doveadm-server [198.18.0.32 alice@example.test slave_recv_handshake] ",
        /* a user with a control character (a forged log line) */
        PREFIX "/doveadm-server [198.18.0.32 alice\n@example.test slave_recv_handshake]",
        "",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        if (parse_str(others[i], &t) != 0)
            fail_msg("taken: %s", others[i]);
        assert_int_equal(t.client.len, 0);
        assert_int_equal(t.user.len, 0);
    }
    /* A user over 255 bytes. */
    buf long_title = BUF_INIT;
    buf_append_str(&long_title, PREFIX "/doveadm-server [198.18.0.32 ");
    for (int i = 0; i < 256; i++)
        buf_append_char(&long_title, 'a');
    buf_append_str(&long_title, " slave_recv_handshake]");
    assert_int_equal(parse(long_title.data, long_title.len, &t), 0);
    buf_free(&long_title);
    stall_title_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiting_slave_is_taken),
        cmocka_unit_test(test_cmdline_nul_bytes),
        cmocka_unit_test(test_other_titles_are_not_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
