/* maillog: the mail daemons' log lines as events; see maillog.h. */
#include "maillog.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* ---- small helpers ----------------------------------------------------- */

/* A field of a hostile line, safe to print: printable ASCII kept, every
 * other byte (and the backslash, so that an escape cannot be forged) as \xNN. */
static char *safe_copy(const char *p, size_t n)
{
    buf out = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            buf_printf(&out, "\\x%02x", c);
        else
            buf_append_char(&out, (char)c);
    }
    buf_cstr(&out);
    return buf_steal(&out);
}

static void set_field(char **slot, const char *p, size_t n)
{
    free(*slot);
    *slot = safe_copy(p, n);
}

static void set_str(char **slot, const char *s)
{
    set_field(slot, s, strlen(s));
}

/* memmem for a C string needle within [p, end). */
static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    if (p == NULL || (size_t)(end - p) < n)
        return NULL;
    return memmem(p, (size_t)(end - p), needle, n);
}

static int starts(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

/* The value after key (e.g. "to=<") up to the first byte of stop, within
 * [p, end); sets *slot. Returns the end of the value, or NULL. */
static const char *take_value(const char *p, const char *end, const char *key, const char *stop, char **slot)
{
    const char *k = find(p, end, key);
    if (k == NULL)
        return NULL;
    const char *v = k + strlen(key);
    const char *e = v;
    while (e < end && strchr(stop, *e) == NULL)
        e++;
    set_field(slot, v, (size_t)(e - v));
    return e;
}

/* A Postfix queue id: 5 to 20 letters and digits (short hex ids, long ids). */
static size_t queue_id_length(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && isalnum((unsigned char)p[n]))
        n++;
    return n >= 5 && n <= 20 ? n : 0;
}

/* ---- time stamps ---------------------------------------------------------- */

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static int two_digits(const char *p, int *out)
{
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
        return -1;
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return 0;
}

/* "Mmm dd HH:MM:SS " or "Mmm  d HH:MM:SS " (syslog, local time, no year);
 * returns the bytes read (16) or 0. */
static size_t parse_syslog_stamp(const char *p, const char *end, time_t now, time_t *out)
{
    if (end - p < 16 || p[3] != ' ' || p[6] != ' ' || p[9] != ':' || p[12] != ':' || p[15] != ' ')
        return 0;
    const char *m = NULL;
    for (int i = 0; i < 12 && m == NULL; i++)
        if (memcmp(months + 3 * i, p, 3) == 0)
            m = months + 3 * i;
    char day[2] = {p[4] == ' ' ? '0' : p[4], p[5]};
    struct tm tm = {0};
    if (m == NULL || two_digits(day, &tm.tm_mday) != 0 || two_digits(p + 7, &tm.tm_hour) != 0 ||
        two_digits(p + 10, &tm.tm_min) != 0 || two_digits(p + 13, &tm.tm_sec) != 0 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return 0;
    struct tm now_tm;
    if (localtime_r(&now, &now_tm) == NULL)
        return 0;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_year = now_tm.tm_year;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t != (time_t)-1 && t > now + 86400) {     /* December's lines read in January */
        tm.tm_year--;
        tm.tm_isdst = -1;
        t = mktime(&tm);
    }
    if (t == (time_t)-1)
        return 0;
    *out = t;
    return 16;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]+hhmm " (emailng-policyd); returns the bytes read or 0. */
static size_t parse_iso_stamp(const char *p, const char *end, time_t *out)
{
    if (end - p < 25)
        return 0;
    int century, year, mon, day, hour, min, sec;
    if (two_digits(p, &century) || two_digits(p + 2, &year) || p[4] != '-' || two_digits(p + 5, &mon) ||
        p[7] != '-' || two_digits(p + 8, &day) || p[10] != 'T' || two_digits(p + 11, &hour) || p[13] != ':' ||
        two_digits(p + 14, &min) || p[16] != ':' || two_digits(p + 17, &sec))
        return 0;
    const char *q = p + 19;
    if (*q == '.')
        for (q++; q < end && isdigit((unsigned char)*q); q++)
            ;
    int oh, om;
    if (end - q < 6 || (q[0] != '+' && q[0] != '-') || two_digits(q + 1, &oh) || two_digits(q + 3, &om) ||
        q[5] != ' ')
        return 0;
    struct tm tm = {.tm_year = century * 100 + year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = min, .tm_sec = sec};
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    long offset = (oh * 60L + om) * 60L;
    *out = q[0] == '+' ? t - offset : t + offset;
    return (size_t)(q + 6 - p);
}

/* ---- Postfix --------------------------------------------------------------- */

/* "...; from=<S> to=<R> proto=..." after a refusal's reply. */
static void take_envelope(const char *p, const char *end, struct maillog_event *ev)
{
    take_value(p, end, " from=<", ">", &ev->sender);
    take_value(p, end, " to=<", ">", &ev->recipient);
}

/* "reject: STAGE from CLIENT: REPLY; from=<..> to=<..> ..." (smtpd, or milter-reject). */
static int postfix_refusal(const char *p, const char *end, struct maillog_event *ev)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL)
        return 0;
    set_field(&ev->stage, p, (size_t)(sp - p));
    const char *from = find(sp, end, " from ");
    const char *colon = from ? find(from, end, ": ") : NULL;
    if (colon == NULL)
        return 0;
    set_field(&ev->client, from + 6, (size_t)(colon - from - 6));
    const char *reply = colon + 2;
    /* the reply ends at the last "; from=<" (a reply can hold "; " itself) */
    const char *envelope = NULL;
    for (const char *q = reply; (q = find(q, end, "; from=<")) != NULL; q++)
        envelope = q;
    set_field(&ev->reply, reply, (size_t)((envelope ? envelope : end) - reply));
    if (envelope)
        take_envelope(envelope + 1, end, ev);
    ev->kind = MAILLOG_REFUSED;
    return 1;
}

/* "to=<R>, [orig_to=<O>, ]relay=X, delay=.., delays=.., dsn=D, status=S (TEXT)" */
static int postfix_delivery(const char *p, const char *end, const char *daemon, struct maillog_event *ev)
{
    take_value(p, end, "to=<", ">", &ev->recipient);
    take_value(p, end, "orig_to=<", ">", &ev->orig_recipient);
    take_value(p, end, "relay=", ",", &ev->relay);
    take_value(p, end, "dsn=", ",", &ev->dsn);
    const char *status = find(p, end, ", status=");
    if (status == NULL)
        return 0;
    status += 9;
    const char *text = find(status, end, " (");
    if (text && end > text + 2 && end[-1] == ')')
        set_field(&ev->reply, text + 2, (size_t)(end - 1 - text - 2));
    const char *word_end = text ? text : end;
    if (starts(status, word_end, "sent")) {
        /* the last "queued as ID" of the reply: amavisd's reply quotes the
         * reinjection's own "Ok: queued as ID" at its end */
        const char *q = NULL;
        for (const char *s = status; (s = find(s, end, "queued as ")) != NULL; s++)
            q = s + 10;
        size_t n = q ? queue_id_length(q, end) : 0;
        if (n) {
            set_field(&ev->next_queue_id, q, n);
            ev->kind = MAILLOG_HANDED;
        } else {
            ev->kind = MAILLOG_DELIVERED;
        }
        /* an LMTP reply "250 2.0.0 <R> SESSION Saved": Dovecot's session id */
        const char *r = ev->recipient ? find(status, end, "> ") : NULL;
        if (r && strstr(daemon, "lmtp")) {
            const char *s = r + 2, *e = s;
            while (e < end && *e != ' ' && *e != ')')
                e++;
            if (e > s && e < end && *e == ' ')
                set_field(&ev->session, s, (size_t)(e - s));
        }
    } else if (starts(status, word_end, "deferred")) {
        ev->kind = MAILLOG_DEFERRED;
    } else if (starts(status, word_end, "bounced") || starts(status, word_end, "expired")) {
        ev->kind = MAILLOG_BOUNCED;
    } else {
        return 0;
    }
    return 1;
}

static int parse_postfix(const char *p, const char *end, struct maillog_event *ev)
{
    /* "HOST PROG[PID]: " */
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL)
        return 0;
    const char *prog = sp + 1;
    const char *bracket = prog;
    while (bracket < end && *bracket != '[' && *bracket != ' ' && *bracket != ':')
        bracket++;
    if (bracket >= end || *bracket != '[' || !starts(prog, bracket, "postfix"))
        return 0;
    const char *rest = find(bracket, end, "]: ");
    if (rest == NULL)
        return 0;
    set_field(&ev->daemon, prog, (size_t)(bracket - prog));
    rest += 3;
    if (starts(rest, end, "NOQUEUE: reject: "))
        return postfix_refusal(rest + 17, end, ev);
    if (starts(rest, end, "NOQUEUE: milter-reject: "))
        return postfix_refusal(rest + 24, end, ev);
    size_t qlen = queue_id_length(rest, end);
    if (qlen == 0 || !starts(rest + qlen, end, ": "))
        return 0;
    set_field(&ev->queue_id, rest, qlen);
    const char *msg = rest + qlen + 2;
    if (starts(msg, end, "client=")) {
        const char *e = take_value(msg, end, "client=", ",", &ev->client);
        if (e)
            take_value(e, end, "orig_queue_id=", ",", &ev->orig_queue_id);
        ev->kind = MAILLOG_ACCEPTED;
        return 1;
    }
    if (starts(msg, end, "message-id=")) {
        set_field(&ev->message_id, msg + 11, (size_t)(end - msg - 11));
        ev->kind = MAILLOG_MESSAGE_ID;
        return 1;
    }
    if (starts(msg, end, "reject: "))
        return postfix_refusal(msg + 8, end, ev);
    if (starts(msg, end, "milter-reject: "))
        return postfix_refusal(msg + 15, end, ev);
    if (starts(msg, end, "discard: ")) {
        postfix_refusal(msg + 9, end, ev);
        ev->kind = MAILLOG_DISCARDED;
        return 1;
    }
    if (starts(msg, end, "from=<")) {
        take_value(msg, end, "from=<", ">", &ev->sender);
        if (find(msg, end, "status=expired") != NULL) {
            set_field(&ev->reply, "expired, returned to sender", 27);
            ev->kind = MAILLOG_BOUNCED;
        } else {
            ev->kind = MAILLOG_QUEUED;
        }
        return 1;
    }
    if (starts(msg, end, "to=<"))
        return postfix_delivery(msg, end, ev->daemon, ev);
    return 0;
}

/* ---- Dovecot --------------------------------------------------------------- */

/* "SERVICE[(USER|PID)][<PID>][<SESSION>]: Level: TEXT" */
static int parse_dovecot(const char *p, const char *end, struct maillog_event *ev)
{
    const char *q = p;
    while (q < end && (isalnum((unsigned char)*q) || *q == '-'))
        q++;
    if (q == p || !starts(p, q, "lmtp"))
        return 0;
    buf daemon = BUF_INIT;
    buf_printf(&daemon, "dovecot/%.*s", (int)(q - p), p);
    free(ev->daemon);
    ev->daemon = buf_steal(&daemon);
    const char *user = NULL, *user_end = NULL;
    if (q < end && *q == '(') {
        user = q + 1;
        user_end = memchr(user, ')', (size_t)(end - user));
        if (user_end == NULL)
            return 0;
        q = user_end + 1;
    }
    /* "<PID><SESSION>": the second one is the session */
    const char *session = NULL, *session_end = NULL;
    for (int i = 0; i < 2 && q < end && *q == '<'; i++) {
        const char *e = memchr(q, '>', (size_t)(end - q));
        if (e == NULL)
            return 0;
        if (i == 1) {
            session = q + 1;
            session_end = e;
        }
        q = e + 1;
    }
    const char *level_end = starts(q, end, ": ") ? find(q + 2, end, ": ") : NULL;
    if (level_end == NULL)
        return 0;
    const char *text = level_end + 2;
    int is_error = starts(q + 2, end, "Error") || starts(q + 2, end, "Fatal");
    const char *msgid = find(text, end, "msgid=");
    if (msgid) {
        const char *e = find(msgid, end, ": ");
        set_field(&ev->message_id, msgid + 6, (size_t)((e ? e : end) - msgid - 6));
    }
    const char *what = msgid ? find(msgid, end, ": ") : text;
    if (what == NULL)
        return 0;
    if (what != text)
        what += 2;
    const char *folder;
    if ((folder = find(what, end, "stored mail into mailbox '")) != NULL) {
        const char *f = folder + 26;
        const char *e = memchr(f, '\'', (size_t)(end - f));
        set_field(&ev->folder, f, (size_t)((e ? e : end) - f));
        ev->kind = MAILLOG_DELIVERED;
    } else if (starts(what, end, "saved mail to ")) {
        set_field(&ev->folder, what + 14, (size_t)(end - what - 14));
        ev->kind = MAILLOG_DELIVERED;
    } else if (msgid && find(what, end, "discard") != NULL && !is_error) {
        ev->kind = MAILLOG_DISCARDED;
    } else if (find(text, end, "Sent message to <") != NULL) {
        take_value(text, end, "Sent message to <", ">", &ev->recipient);
        take_value(text, end, "> at ", ":", &ev->relay);
        const char *r = find(text, end, "> at ");
        r = r ? find(r + 5, end, ": ") : NULL;
        if (r)
            set_field(&ev->reply, r + 2, (size_t)(end - r - 2));
        /* "rcpt R: <SESSION>: Sent message to": the session the delivering
         * Postfix was told; the store's Dovecot logs it with ":P1" added */
        const char *sent = find(text, end, "Sent message to <");
        if (sent - text >= 4 && memcmp(sent - 3, ">: ", 3) == 0) {
            const char *open = sent - 4;
            while (open > text && *open != '<' && *open != ' ')
                open--;
            if (*open == '<')
                set_field(&ev->session, open + 1, (size_t)(sent - 3 - open - 1));
        }
        ev->kind = MAILLOG_PROXIED;
    } else if (is_error && msgid) {
        ev->kind = MAILLOG_FAILED;
    } else {
        return 0;
    }
    if (user && ev->recipient == NULL && !isdigit((unsigned char)user[0]))
        set_field(&ev->recipient, user, (size_t)(user_end - user));
    if (session && ev->session == NULL)
        set_field(&ev->session, session, (size_t)(session_end - session));
    /* what the line says, with who said it: "sieve: stored mail into mailbox 'Junk'" */
    buf detail = BUF_INIT;
    if (starts(text, end, "sieve: ") && what != text)
        buf_append_str(&detail, "sieve: ");
    buf_append(&detail, what, (size_t)(end - what));
    set_field(&ev->detail, buf_cstr(&detail), detail.len);
    buf_free(&detail);
    return 1;
}

/* ---- amavisd-new ------------------------------------------------------------ */

/* "HOST /usr/sbin/amavisd[PID]: (PID-N) Passed CLEAN {RelayedInbound}, [IP]:PORT <S> -> <R>,<R2>,
 *  Queue-ID: Q, Message-ID: <M>, mail_id: X, Hits: -0.999, size: N, queued_as: Y, 422 ms" */
static int parse_amavisd(const char *p, const char *end, struct maillog_event *ev)
{
    const char *pass = find(p, end, ") Passed ");
    const char *block = find(p, end, ") Blocked ");
    const char *v = pass ? pass + 9 : block ? block + 10 : NULL;
    if (v == NULL || !find(p, v, "amavis"))
        return 0;
    const char *brace = find(v, end, " {");
    if (brace == NULL)
        return 0;
    set_field(&ev->verdict, v, (size_t)(brace - v));
    set_str(&ev->daemon, "amavisd");
    set_field(&ev->detail, pass ? "passed" : "blocked", pass ? 6 : 7);
    const char *arrow = find(brace, end, "> -> <");
    if (arrow) {
        const char *s = arrow;
        while (s > brace && *s != '<')
            s--;
        set_field(&ev->sender, s + 1, (size_t)(arrow - s - 1));
        take_value(arrow, end, "> -> <", ">", &ev->recipient);
    }
    take_value(brace, end, "Queue-ID: ", ",", &ev->queue_id);
    take_value(brace, end, "Message-ID: ", ",", &ev->message_id);
    take_value(brace, end, "Hits: ", ",", &ev->score);
    take_value(brace, end, "queued_as: ", ",", &ev->next_queue_id);
    ev->kind = MAILLOG_SCANNED;
    return 1;
}

/* ---- emailng-policyd --------------------------------------------------------- */

/* key="value" with \" and \\ escapes (docs/policyd.md, the decision line). */
static void policyd_value(const char *p, const char *end, const char *key, char **slot)
{
    const char *k = find(p, end, key);
    if (k == NULL)
        return;
    buf value = BUF_INIT;
    for (const char *q = k + strlen(key); q < end && *q != '"'; q++) {
        if (*q == '\\' && q + 1 < end)
            q++;
        buf_append_char(&value, *q);
    }
    set_field(slot, buf_cstr(&value), value.len);
    buf_free(&value);
}

static int parse_policyd(const char *p, const char *end, struct maillog_event *ev)
{
    const char *d = find(p, end, "]: decision ");
    if (d == NULL || !starts(p, d, "emailng-policyd["))
        return 0;
    d += 12;
    set_str(&ev->daemon, "emailng-policyd");
    policyd_value(d, end, "queue_id=\"", &ev->queue_id);
    policyd_value(d, end, " state=\"", &ev->stage);
    policyd_value(d, end, " client=\"", &ev->client);
    policyd_value(d, end, " sender=\"", &ev->sender);
    policyd_value(d, end, " recipient=\"", &ev->recipient);
    policyd_value(d, end, " action=\"", &ev->verdict);
    policyd_value(d, end, " reason=\"", &ev->reply);
    if (ev->queue_id && ev->queue_id[0] == '\0') {
        free(ev->queue_id);
        ev->queue_id = NULL;
    }
    ev->kind = MAILLOG_POLICY;
    return 1;
}

/* ---- the entry points ---------------------------------------------------------- */

void maillog_event_free(struct maillog_event *ev)
{
    char **fields[] = {&ev->daemon, &ev->queue_id, &ev->message_id, &ev->sender, &ev->recipient,
                       &ev->orig_recipient, &ev->client, &ev->relay, &ev->next_queue_id, &ev->orig_queue_id,
                       &ev->session, &ev->folder, &ev->stage, &ev->reply, &ev->dsn, &ev->verdict, &ev->score,
                       &ev->detail};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
    ev->kind = MAILLOG_NONE;
}

int maillog_parse_line(enum maillog_format format, const char *line, size_t len, time_t now,
                       struct maillog_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len > MAILLOG_LINE_MAX || memchr(line, '\0', len) != NULL)
        return 0;
    const char *end = line + len;
    while (end > line && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    size_t stamp = format == MAILLOG_POLICYD ? parse_iso_stamp(line, end, &ev->when)
                                             : parse_syslog_stamp(line, end, now, &ev->when);
    if (stamp == 0)
        return 0;
    const char *p = line + stamp;
    int ok = 0;
    switch (format) {
    case MAILLOG_POSTFIX: ok = parse_postfix(p, end, ev); break;
    case MAILLOG_DOVECOT: ok = parse_dovecot(p, end, ev); break;
    case MAILLOG_AMAVISD: ok = parse_amavisd(p, end, ev); break;
    case MAILLOG_POLICYD: ok = parse_policyd(p, end, ev); break;
    }
    if (!ok || ev->kind == MAILLOG_NONE) {
        maillog_event_free(ev);
        return 0;
    }
    return 1;
}

int maillog_format_of_file(const char *name)
{
    static const struct {
        const char *stem;
        enum maillog_format format;
    } files[] = {
        {"postfix.log", MAILLOG_POSTFIX},
        {"dovecot.log", MAILLOG_DOVECOT},
        {"amavisd.log", MAILLOG_AMAVISD},
        {"policyd.log", MAILLOG_POLICYD},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n = strlen(files[i].stem);
        /* NAME.log, or logrotate's uncompressed NAME.log-YYYYMMDD[-N] */
        if (strncmp(name, files[i].stem, n) == 0 && (name[n] == '\0' || (name[n] == '-' &&
                                                                         strstr(name + n, ".gz") == NULL)))
            return (int)files[i].format;
    }
    return -1;
}

const char *maillog_kind_name(enum maillog_kind kind)
{
    static const char *const names[] = {
        [MAILLOG_NONE] = "none", [MAILLOG_ACCEPTED] = "accepted", [MAILLOG_MESSAGE_ID] = "message-id",
        [MAILLOG_QUEUED] = "queued", [MAILLOG_REFUSED] = "refused", [MAILLOG_HANDED] = "handed",
        [MAILLOG_DELIVERED] = "delivered", [MAILLOG_DEFERRED] = "deferred", [MAILLOG_BOUNCED] = "bounced",
        [MAILLOG_DISCARDED] = "discarded", [MAILLOG_SCANNED] = "scanned", [MAILLOG_POLICY] = "policy",
        [MAILLOG_PROXIED] = "proxied", [MAILLOG_FAILED] = "failed",
    };
    return (size_t)kind < sizeof names / sizeof names[0] && names[kind] ? names[kind] : "none";
}

int maillog_parse_time_arg(const char *text, time_t now, time_t *out)
{
    size_t n = strlen(text);
    if (n == 0 || n > 32)
        return -1;
    /* relative: "90m", "2h", "1d", "30s" */
    char *unit;
    long count = strtol(text, &unit, 10);
    if (isdigit((unsigned char)text[0]) && unit[0] != '\0' && unit[1] == '\0' && strchr("smhd", unit[0])) {
        long seconds = unit[0] == 's' ? 1 : unit[0] == 'm' ? 60 : unit[0] == 'h' ? 3600 : 86400;
        if (count < 0 || count > 100L * 366 * 86400 / seconds)
            return -1;
        *out = now - count * seconds;
        return 0;
    }
    struct tm tm = {0};
    int century, year, mon, day;
    if (n < 10 || two_digits(text, &century) || two_digits(text + 2, &year) || text[4] != '-' ||
        two_digits(text + 5, &mon) || text[7] != '-' || two_digits(text + 8, &day) || mon < 1 || mon > 12 ||
        day < 1 || day > 31)
        return -1;
    if (n > 10) {
        if ((text[10] != ' ' && text[10] != 'T') || (n != 16 && n != 19) || two_digits(text + 11, &tm.tm_hour) ||
            text[13] != ':' || two_digits(text + 14, &tm.tm_min) || tm.tm_hour > 23 || tm.tm_min > 59)
            return -1;
        if (n == 19 && (text[16] != ':' || two_digits(text + 17, &tm.tm_sec) || tm.tm_sec > 60))
            return -1;
    }
    tm.tm_year = century * 100 + year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t;
    return 0;
}
