/* maillog: one line of a mail daemon's log as an event of a message's
 * life. Postfix (every service: smtpd, cleanup, qmgr, smtp, lmtp, their
 * syslog_name variants such as postfix/amavis/smtp), Dovecot (lmtp with
 * Sieve, the proxies' LMTP proxy), amavisd-new and emailng-policyd write
 * the lines; `emailng trace` (src/emailng/cmd_trace.c) joins the events
 * into one timeline per message. No Debian library parses these formats,
 * so this module does, from the lines our daemons really write
 * (tests/unit/test_maillog.c).
 *
 * A log line is untrusted input (a sender chooses addresses, Message-IDs
 * and the text of replies that end up in it): lines longer than
 * MAILLOG_LINE_MAX are not parsed, and every field is stored with control
 * characters, '\\', and bytes >= 0x7f escaped as \xNN, so that printing a
 * field can never write a control sequence. */
#ifndef EMAILNG_MAILLOG_H
#define EMAILNG_MAILLOG_H

#include <stddef.h>
#include <time.h>

#define MAILLOG_LINE_MAX 8192

/* Which daemon wrote the file: the format of its lines. */
enum maillog_format {
    MAILLOG_POSTFIX,
    MAILLOG_DOVECOT,
    MAILLOG_AMAVISD,
    MAILLOG_POLICYD,
};

enum maillog_kind {
    MAILLOG_NONE = 0,
    MAILLOG_ACCEPTED,       /* smtpd "QID: client=..." (orig_queue_id: back from the filter) */
    MAILLOG_MESSAGE_ID,     /* cleanup "QID: message-id=<...>" */
    MAILLOG_QUEUED,         /* qmgr "QID: from=<...>, size=..., nrcpt=N (queue active)" */
    MAILLOG_REFUSED,        /* smtpd reject / milter-reject, with or without a queue id */
    MAILLOG_HANDED,         /* status=sent, answered "queued as NEWID" (a filter or the next MTA) */
    MAILLOG_DELIVERED,      /* status=sent by LMTP/local, or Dovecot's "saved/stored mail into FOLDER" */
    MAILLOG_DEFERRED,       /* status=deferred */
    MAILLOG_BOUNCED,        /* status=bounced, or "status=expired, returned to sender" */
    MAILLOG_DISCARDED,      /* Postfix discard, Sieve discard (a duplicate) */
    MAILLOG_SCANNED,        /* amavisd "Passed CLEAN ..." / "Blocked INFECTED (NAME) ..." */
    MAILLOG_POLICY,         /* emailng-policyd "decision ..." */
    MAILLOG_PROXIED,        /* a proxy's LMTP handed the recipient to a store */
    MAILLOG_FAILED,         /* a Dovecot delivery error (quota, ...) */
};

struct maillog_event {
    enum maillog_kind kind;
    time_t when;
    char *daemon;           /* "postfix/smtpd", "dovecot/lmtp", "amavisd", "emailng-policyd" */
    char *queue_id;         /* Postfix's; amavisd's Queue-ID; policyd's queue_id */
    char *message_id;       /* with its <> as logged */
    char *sender;           /* without <> */
    char *recipient;        /* to=, Dovecot's user, policyd's recipient */
    char *orig_recipient;   /* orig_to= (an alias before expansion) */
    char *client;           /* client=, or a filter's client */
    char *relay;            /* relay= of a delivery attempt */
    char *next_queue_id;    /* "queued as NEWID" / amavisd's queued_as */
    char *orig_queue_id;    /* orig_queue_id= of a reinjection */
    char *session;          /* Dovecot's session id; the LMTP reply's session id */
    char *folder;           /* the mailbox Dovecot saved into */
    char *stage;            /* RCPT, DATA, END-OF-MESSAGE (refusals); policyd's state */
    char *reply;            /* the SMTP reply of a refusal; status text of a delivery attempt */
    char *dsn;
    char *verdict;          /* amavisd's "CLEAN", "SPAM", "INFECTED (Name)"; policyd's action */
    char *score;            /* amavisd's Hits */
    char *detail;           /* a short description of the line's own words */
};

/* Parses one line (len bytes, no newline) written in format. now gives
 * the year of syslog stamps, which have none (a stamp more than a day in
 * the future is of the year before). Returns 1 and fills ev (free with
 * maillog_event_free) for a line about a message, 0 for any other line
 * (a daemon starting, an IMAP login, a line too long or not understood). */
int maillog_parse_line(enum maillog_format format, const char *line, size_t len, time_t now,
                       struct maillog_event *ev);
void maillog_event_free(struct maillog_event *ev);

/* The format of a log file by its name: postfix.log, dovecot.log,
 * amavisd.log, policyd.log (and their rotated copies NAME.log-DATE);
 * -1 for a file without messages' events. */
int maillog_format_of_file(const char *name);

/* The name of an event's kind: "accepted", "refused", ... */
const char *maillog_kind_name(enum maillog_kind kind);

/* --since/--until: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" or with a 'T',
 * local time; or "N" with a unit s, m, h, d: that long before now.
 * Returns 0 and sets *out, or -1. */
int maillog_parse_time_arg(const char *text, time_t now, time_t *out);

#endif
