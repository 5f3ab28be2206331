/* Unit tests for src/lib/maillog.c (cmocka): the lines our daemons really
 * write (copied from the e2e suites' STATE/log/HOST/NAME.log), and hostile
 * ones (control characters, overlong lines, truncated lines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maillog.h"

/* 2026-12-07 12:00:00 local time: the year of the yearless syslog stamps. */
static time_t noon(void)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 11, .tm_mday = 7, .tm_hour = 12, .tm_isdst = -1};
    return mktime(&tm);
}

static int parse(enum maillog_format format, const char *line, struct maillog_event *ev)
{
    return maillog_parse_line(format, line, strlen(line), noon(), ev);
}

static void test_postfix_accepted_and_message_id(void **state)
{
    (void)state;
    struct maillog_event ev;
    assert_int_equal(parse(MAILLOG_POSTFIX, "Dec 07 02:15:14 mail postfix/smtpd[10506]: 02E14A723CF: "
                                            "client=unknown[127.0.0.2]", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_ACCEPTED);
    assert_string_equal(ev.daemon, "postfix/smtpd");
    assert_string_equal(ev.queue_id, "02E14A723CF");
    assert_string_equal(ev.client, "unknown[127.0.0.2]");
    assert_null(ev.orig_queue_id);
    struct tm tm;
    assert_non_null(localtime_r(&ev.when, &tm));
    assert_int_equal(tm.tm_year, 126);
    assert_int_equal(tm.tm_mon, 11);
    assert_int_equal(tm.tm_mday, 7);
    assert_int_equal(tm.tm_hour, 2);
    assert_int_equal(tm.tm_min, 15);
    assert_int_equal(tm.tm_sec, 14);
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_POSTFIX, "Dec 07 02:15:14 mail postfix/reinject/smtpd[11936]: 791D1A725A8: "
                                            "client=localhost[127.0.0.1], orig_queue_id=02E14A723CF, "
                                            "orig_client=unknown[127.0.0.2]", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_ACCEPTED);
    assert_string_equal(ev.daemon, "postfix/reinject/smtpd");
    assert_string_equal(ev.client, "localhost[127.0.0.1]");
    assert_string_equal(ev.orig_queue_id, "02E14A723CF");
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_POSTFIX, "Dec 07 02:15:14 mail postfix/cleanup[11847]: 02E14A723CF: "
                                            "message-id=<eccbbd31018247029041a57674a45d73@e2e.example.test>", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_MESSAGE_ID);
    assert_string_equal(ev.message_id, "<eccbbd31018247029041a57674a45d73@e2e.example.test>");
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_POSTFIX, "Dec 07 02:15:14 mail postfix/qmgr[10503]: 02E14A723CF: "
                                            "from=<alice@example.test>, size=1765, nrcpt=2 (queue active)", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_QUEUED);
    assert_string_equal(ev.sender, "alice@example.test");
    maillog_event_free(&ev);
}

static void test_postfix_handed_and_delivered(void **state)
{
    (void)state;
    struct maillog_event ev;
    /* to the filter: amavisd's reply quotes the reinjection's "queued as" */
    assert_int_equal(parse(MAILLOG_POSTFIX,
                           "Dec 07 02:15:14 mail postfix/amavis/smtp[11867]: 02E14A723CF: to=<alice@example.test>, "
                           "orig_to=<conference@example.test>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.62, "
                           "delays=0.16/0.02/0/0.43, dsn=2.0.0, status=sent (250 2.0.0 from "
                           "MTA(smtp:/tmp/emailng-e2e-_fem2_dc/data/mail/postfix/queue/public/amavis-reinject): 250 "
                           "2.0.0 Ok: queued as 791D1A725A8)", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_HANDED);
    assert_string_equal(ev.recipient, "alice@example.test");
    assert_string_equal(ev.orig_recipient, "conference@example.test");
    assert_string_equal(ev.relay, "127.0.0.1[127.0.0.1]:10024");
    assert_string_equal(ev.dsn, "2.0.0");
    assert_string_equal(ev.next_queue_id, "791D1A725A8");
    maillog_event_free(&ev);

    /* LMTP to Dovecot: delivered, and the reply names Dovecot's session */
    assert_int_equal(parse(MAILLOG_POSTFIX,
                           "Dec 07 02:15:14 mail postfix/lmtp[11952]: 791D1A725A8: to=<bob@example.test>, "
                           "relay=mail.example.test[/tmp/emailng-e2e-_fem2_dc/run/mail/dovecot/lmtp], delay=0.15, "
                           "delays=0.02/0.01/0.03/0.09, dsn=2.0.0, status=sent (250 2.0.0 <bob@example.test> "
                           "1jIEIbIWFmuxLgAAg+zDdQ:R2 Saved)", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_DELIVERED);
    assert_null(ev.next_queue_id);
    assert_string_equal(ev.session, "1jIEIbIWFmuxLgAAg+zDdQ:R2");
    assert_string_equal(ev.reply, "250 2.0.0 <bob@example.test> 1jIEIbIWFmuxLgAAg+zDdQ:R2 Saved");
    maillog_event_free(&ev);
}

static void test_postfix_deferred_and_bounced(void **state)
{
    (void)state;
    struct maillog_event ev;
    assert_int_equal(parse(MAILLOG_POSTFIX,
                           "Dec 07 02:31:02 relay1 postfix/smtp[4411]: 4C2F1A7207D: to=<alice@example.test>, "
                           "relay=none, delay=31, delays=0.05/0/31/0, dsn=4.4.1, status=deferred (connect to "
                           "198.18.0.32[198.18.0.32]:25: Connection refused)", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_DEFERRED);
    assert_string_equal(ev.relay, "none");
    assert_string_equal(ev.reply, "connect to 198.18.0.32[198.18.0.32]:25: Connection refused");
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_POSTFIX,
                           "Dec 07 02:31:02 store1 postfix/lmtp[4411]: 4C2F1A7207D: to=<carol@example.test>, "
                           "relay=198.18.0.21[198.18.0.21]:24, delay=0.1, delays=0/0/0/0.1, dsn=5.2.2, "
                           "status=bounced (host 198.18.0.21[198.18.0.21] said: 552 5.2.2 <carol@example.test> "
                           "Quota exceeded (mailbox for user is full) (in reply to end of DATA command))", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_BOUNCED);
    assert_non_null(strstr(ev.reply, "552 5.2.2"));
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_POSTFIX, "Dec 12 09:00:00 relay1 postfix/qmgr[99]: 4C2F1A7207D: "
                                            "from=<someone@outside.test>, status=expired, returned to sender", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_BOUNCED);
    maillog_event_free(&ev);
}

static void test_postfix_refusals(void **state)
{
    (void)state;
    struct maillog_event ev;
    assert_int_equal(parse(MAILLOG_POSTFIX,
                           "Dec 07 02:15:14 mail postfix/smtpd[10506]: NOQUEUE: reject: RCPT from unknown[127.0.0.2]: "
                           "550 5.1.1 <list2-841fc647@example.test>: Recipient address rejected: User unknown in "
                           "virtual mailbox table; from=<bob@example.test> to=<list2-841fc647@example.test> "
                           "proto=ESMTP helo=<client.e2e.test>", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_REFUSED);
    assert_null(ev.queue_id);
    assert_string_equal(ev.stage, "RCPT");
    assert_string_equal(ev.client, "unknown[127.0.0.2]");
    assert_string_equal(ev.reply, "550 5.1.1 <list2-841fc647@example.test>: Recipient address rejected: User "
                                  "unknown in virtual mailbox table");
    assert_string_equal(ev.sender, "bob@example.test");
    assert_string_equal(ev.recipient, "list2-841fc647@example.test");
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_POSTFIX,
                           "Dec 07 02:15:25 mail postfix/smtpd[10506]: 47BD5A7207D: reject: END-OF-MESSAGE from "
                           "unknown[127.0.0.2]: bare <LF> received; from=<bob@example.test> to=<alice@example.test> "
                           "proto=ESMTP helo=<client.e2e.test>", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_REFUSED);
    assert_string_equal(ev.queue_id, "47BD5A7207D");
    assert_string_equal(ev.stage, "END-OF-MESSAGE");
    assert_string_equal(ev.reply, "bare <LF> received");
    maillog_event_free(&ev);

    /* clamav-milter at DATA (a virus): cleanup logs it */
    assert_int_equal(parse(MAILLOG_POSTFIX,
                           "Dec 07 02:20:49 mail postfix/cleanup[7138]: 692F5A75680: milter-reject: END-OF-MESSAGE "
                           "from unknown[127.0.0.2]: 5.7.1 Message refused: virus EmailNG.E2E.EICAR.UNOFFICIAL found; "
                           "from=<outside@sender.test> to=<alice@example.test> proto=ESMTP helo=<client.e2e.test>",
                           &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_REFUSED);
    assert_string_equal(ev.daemon, "postfix/cleanup");
    assert_string_equal(ev.stage, "END-OF-MESSAGE");
    assert_string_equal(ev.reply, "5.7.1 Message refused: virus EmailNG.E2E.EICAR.UNOFFICIAL found");
    assert_string_equal(ev.recipient, "alice@example.test");
    maillog_event_free(&ev);
}

static void test_postfix_lines_without_events(void **state)
{
    (void)state;
    struct maillog_event ev;
    const char *lines[] = {
        "Dec 07 02:15:09 mail postfix/postfix-script[10497]: starting the Postfix mail system",
        "Dec 07 02:15:09 mail postfix/smtpd[10506]: connect from localhost[127.0.0.1]",
        "Dec 07 02:15:14 mail postfix/qmgr[10503]: 02E14A723CF: removed",
        "Dec 07 02:15:18 mail postfix/smtpd[10506]: warning: unknown[127.0.0.2]: request longer than 2048: "
        "MAIL FROM:<aaaaaaaaaaaaaaaaaaa...",
        "Dec 07 02:15:14 mail postfix/smtpd[10506]: disconnect from unknown[127.0.0.2] ehlo=1 mail=1 rcpt=0/1 "
        "quit=1 commands=3/4",
        "",
        "Dec 07",
        "Xyz 07 02:15:14 mail postfix/smtpd[1]: 02E14A723CF: client=x",
        "Dec 32 02:15:14 mail postfix/smtpd[1]: 02E14A723CF: client=x",
        "Dec 07 25:15:14 mail postfix/smtpd[1]: 02E14A723CF: client=x",
        "Dec 07 02:15:14 mail sshd[1]: 02E14A723CF: client=x",
        "Dec 07 02:15:14 mail postfix/smtpd[1]: 02E14A723CF: to=<truncated",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        assert_int_equal(parse(MAILLOG_POSTFIX, lines[i], &ev), 0);
}

static void test_dovecot_sieve_and_saved(void **state)
{
    (void)state;
    struct maillog_event ev;
    assert_int_equal(parse(MAILLOG_DOVECOT,
                           "Dec 07 02:15:14 lmtp(bob@example.test)<11953><1jIEIbIWFmuxLgAAg+zDdQ:R2>: Info: sieve: "
                           "msgid=<eccbbd31018247029041a57674a45d73@e2e.example.test>: stored mail into mailbox "
                           "'INBOX'", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_DELIVERED);
    assert_string_equal(ev.daemon, "dovecot/lmtp");
    assert_string_equal(ev.recipient, "bob@example.test");
    assert_string_equal(ev.session, "1jIEIbIWFmuxLgAAg+zDdQ:R2");
    assert_string_equal(ev.message_id, "<eccbbd31018247029041a57674a45d73@e2e.example.test>");
    assert_string_equal(ev.folder, "INBOX");
    assert_string_equal(ev.detail, "sieve: stored mail into mailbox 'INBOX'");
    maillog_event_free(&ev);

    /* the global Sieve script files spam into Junk */
    assert_int_equal(parse(MAILLOG_DOVECOT,
                           "Dec 07 02:20:49 lmtp(bob@example.test)<7167><mKHfEwEYFmv/GwAAg+zDdQ>: Info: sieve: "
                           "msgid=<e1a9cb2312604e698d30bca8ba58ba89@e2e.example.test>: fileinto action: stored mail "
                           "into mailbox 'Junk'", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_DELIVERED);
    assert_string_equal(ev.folder, "Junk");
    assert_string_equal(ev.detail, "sieve: fileinto action: stored mail into mailbox 'Junk'");
    maillog_event_free(&ev);

    /* without Sieve (Dovecot's own words) */
    assert_int_equal(parse(MAILLOG_DOVECOT,
                           "Dec 07 02:19:01 lmtp(alice@example.test)<2201><AbCdEfGh>: Info: "
                           "msgid=<x@y>: saved mail to Junk", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_DELIVERED);
    assert_string_equal(ev.folder, "Junk");
    assert_string_equal(ev.detail, "saved mail to Junk");
    maillog_event_free(&ev);

    /* a proxy's LMTP (full topology): its session (the one the store's Postfix was
     * told) and the store's reply */
    assert_int_equal(parse(MAILLOG_DOVECOT,
                           "Dec 07 02:21:04 lmtp(8377): Info: lmtp-server: conn 198.18.0.31:56675 [1]: rcpt "
                           "alice@example.test: <vudgAxAYFmu5IAAAg+zDdQ>: Sent message to <alice@example.test> at "
                           "198.18.0.31:24: 250 2.0.0 <alice@example.test> vudgAxAYFmu5IAAAg+zDdQ:P1 Saved (1/1 at 32 "
                           "ms)", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_PROXIED);
    assert_string_equal(ev.recipient, "alice@example.test");
    assert_string_equal(ev.relay, "198.18.0.31");
    assert_string_equal(ev.session, "vudgAxAYFmu5IAAAg+zDdQ");
    assert_string_equal(ev.reply, "250 2.0.0 <alice@example.test> vudgAxAYFmu5IAAAg+zDdQ:P1 Saved (1/1 at 32 ms)");
    maillog_event_free(&ev);

    const char *others[] = {
        "Dec 07 02:25:54 lmtp(10076): Error: lmtp-client: conn 198.18.0.31:24 [1]: connect(198.18.0.31:24) failed: "
        "Connection refused",
        "Dec 07 02:15:14 lmtp(11953): Info: Connect from local",
        "Dec 07 02:15:14 lmtp(11953): Info: Disconnect from local: Logged out (state=READY)",
        "Dec 07 02:15:14 imap-login: Info: Login: user=<alice@example.test>, method=PLAIN, rip=127.0.0.2",
        "Dec 07 02:15:03 master: Info: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3, lmtp, sieve",
        "Dec 07 02:15:14 lmtp(bob@example.test<11953><1jIEIbIWFmuxLgAAg+zDdQ: Info: sieve: msgid=<a>: stored",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(parse(MAILLOG_DOVECOT, others[i], &ev), 0);
}

static void test_amavisd_scans(void **state)
{
    (void)state;
    struct maillog_event ev;
    assert_int_equal(parse(MAILLOG_AMAVISD,
                           "Dec  7 02:15:14 mail.example.test /usr/sbin/amavisd[10346]: (10346-02) Passed CLEAN "
                           "{RelayedInbound}, [127.0.0.2]:37411 <alice@example.test> -> <alice@example.test>,"
                           "<bob@example.test>, Queue-ID: 02E14A723CF, Message-ID: "
                           "<eccbbd31018247029041a57674a45d73@e2e.example.test>, mail_id: OSOeiYL0omoe, Hits: -0.999, "
                           "size: 1729, queued_as: 791D1A725A8, 422 ms", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_SCANNED);
    assert_string_equal(ev.daemon, "amavisd");
    assert_string_equal(ev.verdict, "CLEAN");
    assert_string_equal(ev.score, "-0.999");
    assert_string_equal(ev.queue_id, "02E14A723CF");
    assert_string_equal(ev.next_queue_id, "791D1A725A8");
    assert_string_equal(ev.sender, "alice@example.test");
    assert_string_equal(ev.recipient, "alice@example.test");
    assert_string_equal(ev.message_id, "<eccbbd31018247029041a57674a45d73@e2e.example.test>");
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_AMAVISD,
                           "Dec  7 02:20:49 mail.example.test /usr/sbin/amavisd[6766]: (06766-02) Passed SPAMMY "
                           "{RelayedTaggedInbound}, [127.0.0.2]:51613 <spammer@sender.test> -> <bob@example.test>, "
                           "Queue-ID: E5445A7566F, Message-ID: <e1a9cb2312604e698d30bca8ba58ba89@e2e.example.test>, "
                           "mail_id: c52c8MZuRgHl, Hits: 999, size: 684, queued_as: 50C35A75659, 351 ms", &ev), 1);
    assert_string_equal(ev.verdict, "SPAMMY");
    assert_string_equal(ev.score, "999");
    assert_string_equal(ev.next_queue_id, "50C35A75659");
    maillog_event_free(&ev);

    /* the format of a virus blocked after the queue (filter.before_queue: false) */
    assert_int_equal(parse(MAILLOG_AMAVISD,
                           "Dec  7 02:23:51 mail.example.test /usr/sbin/amavisd[10347]: (10347-05) Blocked INFECTED "
                           "(EmailNG.E2E.EICAR.UNOFFICIAL) {DiscardedInbound,Quarantined}, [127.0.0.2]:42120 "
                           "<outside@sender.test> -> <alice@example.test>, quarantine: virus-a1B2c3D4e5F6, Queue-ID: "
                           "9E1B3A7208E, Message-ID: <v@x>, mail_id: a1B2c3D4e5F6, Hits: -, size: 1800, 120 ms", &ev), 1);
    assert_string_equal(ev.verdict, "INFECTED (EmailNG.E2E.EICAR.UNOFFICIAL)");
    assert_string_equal(ev.detail, "blocked");
    assert_string_equal(ev.score, "-");
    assert_null(ev.next_queue_id);
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_AMAVISD, "Dec  7 02:15:05 mail.example.test /usr/sbin/amavisd[10095]: "
                                            "SpamControl: init_pre_chroot on SpamAssassin done", &ev), 0);
    assert_int_equal(parse(MAILLOG_AMAVISD, "Dec  7 02:15:14 mail.example.test /usr/sbin/amavisd[10346]: "
                                            "(10346-02) OSOeiYL0omoe FWD from <alice@example.test> -> "
                                            "<alice@example.test>, BODY=7BIT 250 2.0.0 Ok: queued as 791D1A725A8",
                           &ev), 0);
}

static void test_policyd_decisions(void **state)
{
    (void)state;
    struct maillog_event ev;
    assert_int_equal(parse(MAILLOG_POLICYD,
                           "2026-12-07T02:15:14.016+0000 emailng-policyd[10356]: decision queue_id=\"02E14A723CF\" "
                           "state=\"END-OF-MESSAGE\" client=\"127.0.0.2\" helo=\"client.e2e.test\" sasl_user=\"\" "
                           "sender=\"alice@example.test\" recipient=\"conference@example.test\" action=\"DUNNO\" "
                           "reason=\"ratelimit: message counted\" ms=0.096", &ev), 1);
    assert_int_equal(ev.kind, MAILLOG_POLICY);
    assert_string_equal(ev.queue_id, "02E14A723CF");
    assert_string_equal(ev.stage, "END-OF-MESSAGE");
    assert_string_equal(ev.verdict, "DUNNO");
    assert_string_equal(ev.reply, "ratelimit: message counted");
    assert_string_equal(ev.recipient, "conference@example.test");
    assert_int_equal((long long)ev.when, 1796609714LL);      /* 2026-12-07 02:15:14 UTC */
    maillog_event_free(&ev);

    /* RCPT: no queue id yet; escaped quotes in the action */
    assert_int_equal(parse(MAILLOG_POLICYD,
                           "2026-12-07T02:15:13.967+0000 emailng-policyd[10356]: decision queue_id=\"\" "
                           "state=\"RCPT\" client=\"127.0.0.2\" helo=\"client.e2e.test\" sasl_user=\"\" "
                           "sender=\"alice@example.test\" recipient=\"conference@example.test\" action=\"PREPEND "
                           "Received-SPF: pass (mail.example.test: localhost is always allowed.) "
                           "receiver=mail.example.test; client-ip=127.0.0.2; envelope-from=\\\"alice@example.test\\\"; "
                           "helo=client.e2e.test; identity=mailfrom\" reason=\"ratelimit: 127.0.0.2/32 within limits; "
                           "spf: pass; quota: 2 mailboxes with room; greylist: off for this domain\" ms=56.826", &ev), 1);
    assert_null(ev.queue_id);
    assert_string_equal(ev.stage, "RCPT");
    assert_non_null(strstr(ev.verdict, "envelope-from=\"alice@example.test\";"));
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_POLICYD, "2026-12-07T02:15:11.829+0000 emailng-policyd[10356]: SIGHUP: "
                                            "reopened the log", &ev), 0);
    assert_int_equal(parse(MAILLOG_POLICYD, "2026-13-07T02:15:11.829+0000 emailng-policyd[1]: decision "
                                            "queue_id=\"A\"", &ev), 0);
}

/* A sender chooses addresses and Message-IDs: control characters must not
 * survive into a field, and nothing may be read past the line. */
static void test_hostile_lines(void **state)
{
    (void)state;
    struct maillog_event ev;
    assert_int_equal(parse(MAILLOG_POSTFIX, "Dec 07 02:15:14 mail postfix/cleanup[1]: 02E14A723CF: "
                                            "message-id=<\x1b[31mred\x07\\x1b@evil>", &ev), 1);
    assert_string_equal(ev.message_id, "<\\x1b[31mred\\x07\\x5cx1b@evil>");
    maillog_event_free(&ev);

    assert_int_equal(parse(MAILLOG_DOVECOT, "Dec 07 02:15:14 lmtp(a@b)<1><S>: Info: sieve: msgid=<m>: stored "
                                            "mail into mailbox 'Ju\xc3\xa9nk\r'", &ev), 1);
    assert_string_equal(ev.folder, "Ju\\xc3\\xa9nk\\x0d");
    maillog_event_free(&ev);

    /* a NUL inside, and a line over the limit: not parsed */
    const char with_nul[] = "Dec 07 02:15:14 mail postfix/smtpd[1]: 02E14A723CF: client=a\0b";
    assert_int_equal(maillog_parse_line(MAILLOG_POSTFIX, with_nul, sizeof with_nul - 1, noon(), &ev), 0);
    size_t big = MAILLOG_LINE_MAX + 100;
    char *line = malloc(big + 1);
    assert_non_null(line);
    memset(line, 'a', big);
    memcpy(line, "Dec 07 02:15:14 mail postfix/cleanup[1]: 02E14A723CF: message-id=<", 67);
    line[big] = '\0';
    assert_int_equal(maillog_parse_line(MAILLOG_POSTFIX, line, big, noon(), &ev), 0);
    /* every prefix of a real line is parsed or refused, never read past */
    const char *real = "Dec 07 02:15:14 mail postfix/amavis/smtp[11867]: 02E14A723CF: to=<alice@example.test>, "
                       "relay=127.0.0.1[127.0.0.1]:10024, delay=0.62, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued "
                       "as 791D1A725A8)";
    for (size_t n = 0; n <= strlen(real); n++) {
        char *copy = malloc(n + 1);
        assert_non_null(copy);
        memcpy(copy, real, n);
        copy[n] = '\0';
        if (maillog_parse_line(MAILLOG_POSTFIX, copy, n, noon(), &ev) == 1)
            maillog_event_free(&ev);
        if (maillog_parse_line(MAILLOG_DOVECOT, copy, n, noon(), &ev) == 1)
            maillog_event_free(&ev);
        free(copy);
    }
    free(line);
}

static void test_year_of_a_december_line_read_in_january(void **state)
{
    (void)state;
    struct tm tm = {.tm_year = 127, .tm_mon = 0, .tm_mday = 2, .tm_hour = 8, .tm_isdst = -1};
    time_t january = mktime(&tm);
    struct maillog_event ev;
    const char *line = "Dec 31 23:59:59 mail postfix/smtpd[1]: 02E14A723CF: client=x[1.2.3.4]";
    assert_int_equal(maillog_parse_line(MAILLOG_POSTFIX, line, strlen(line), january, &ev), 1);
    assert_non_null(localtime_r(&ev.when, &tm));
    assert_int_equal(tm.tm_year, 126);
    maillog_event_free(&ev);
}

static void test_file_formats_and_time_arguments(void **state)
{
    (void)state;
    assert_int_equal(maillog_format_of_file("postfix.log"), MAILLOG_POSTFIX);
    assert_int_equal(maillog_format_of_file("dovecot.log-20261207"), MAILLOG_DOVECOT);
    assert_int_equal(maillog_format_of_file("amavisd.log"), MAILLOG_AMAVISD);
    assert_int_equal(maillog_format_of_file("policyd.log"), MAILLOG_POLICYD);
    assert_int_equal(maillog_format_of_file("postfix.log-20261206.gz"), -1);
    assert_int_equal(maillog_format_of_file("slapd.log"), -1);
    assert_int_equal(maillog_format_of_file("postfix.logx"), -1);

    time_t now = noon(), t;
    assert_int_equal(maillog_parse_time_arg("2h", now, &t), 0);
    assert_int_equal((long long)(now - t), 7200);
    assert_int_equal(maillog_parse_time_arg("30m", now, &t), 0);
    assert_int_equal((long long)(now - t), 1800);
    assert_int_equal(maillog_parse_time_arg("1d", now, &t), 0);
    assert_int_equal(maillog_parse_time_arg("2026-12-07 12:00", now, &t), 0);
    assert_int_equal((long long)t, (long long)now);
    assert_int_equal(maillog_parse_time_arg("2026-12-07T12:00:00", now, &t), 0);
    assert_int_equal((long long)t, (long long)now);
    assert_int_equal(maillog_parse_time_arg("2026-12-07", now, &t), 0);
    assert_int_equal((long long)(now - t), 12 * 3600);
    const char *bad[] = {"", "h", "2x", "-2h", "2hh", "yesterday", "2026-13-01", "2026-12-07 25:00", "2026-12-07 1:00",
                         "2026-12-07X12:00", "99999999999999999999h", "2026-12-07 12:00:61"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(maillog_parse_time_arg(bad[i], now, &t), -1);
    assert_string_equal(maillog_kind_name(MAILLOG_HANDED), "handed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_accepted_and_message_id),
        cmocka_unit_test(test_postfix_handed_and_delivered),
        cmocka_unit_test(test_postfix_deferred_and_bounced),
        cmocka_unit_test(test_postfix_refusals),
        cmocka_unit_test(test_postfix_lines_without_events),
        cmocka_unit_test(test_dovecot_sieve_and_saved),
        cmocka_unit_test(test_amavisd_scans),
        cmocka_unit_test(test_policyd_decisions),
        cmocka_unit_test(test_hostile_lines),
        cmocka_unit_test(test_year_of_a_december_line_read_in_january),
        cmocka_unit_test(test_file_formats_and_time_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
