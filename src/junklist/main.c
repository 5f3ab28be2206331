/* emailng-junklist: the webmail's Junk / Not junk buttons also teach the
 * user's own spam lists (issue 13, C3): "junk" adds the message's sender
 * to the user's deny list (emailngSpamDeny), "not junk" to the allow list
 * (emailngSpamAllow), the attributes `emailng user spam` writes (the
 * sender leaves the other list, so it is never in both). The web tier
 * (PHP as www-data) holds no directory credential: Roundcube's markasjunk
 * plugin (driver cmd_learn) runs this program in report mode, which hands
 * one line to the daemon over a unix socket only root and www-data may
 * open:
 *     C: spam USER SENDER | ham USER SENDER
 *     S: 200 ... | 500 reason
 * and the daemon, root (only root writes the lists: the directory's rootdn
 * over ldapi), writes them only if
 *   - the line is strictly well-formed (junk_request.h: a verdict and two
 *     addresses of address_normalize()'s narrow form, bounded length), and
 *   - USER really holds a message from SENDER in some mailbox (doveadm
 *     search on this host's store): so whoever controls the web tier can
 *     put into a user's lists only senders that user has mail from, never
 *     anyone at will. The plugin reports before it moves the message, so
 *     the message is where the user saw it.
 * One log line per request: user, verdict, sender, result (added,
 * unchanged, refused, error) and why. Connections are served one at a
 * time, each with a read/write timeout.
 *
 * Usage: emailng-junklist --socket PATH --group GROUP --ldap-uri URI
 *            --ldap-base DN --dovecot-config FILE [--log FILE]
 *            [--pid-file FILE] [-t]
 *        emailng-junklist --report --socket PATH spam|ham USER SENDER
 *   -t        check the arguments and the directory, then exit.
 *   --report  the client (as www-data): prints the daemon's answer;
 *             exit 0 if the lists were written or already held the sender. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "daemon_log.h"
#include "directory.h"
#include "junk_request.h"
#include "process.h"

#define IO_TIMEOUT_SECONDS 10
#define ANSWER_MAX_BYTES 512
#define DOVEADM "/usr/bin/doveadm"
#define DOVEADM_EXIT_NOUSER 67      /* sysexits EX_NOUSER: doveadm knows no such user */

struct options {
    const char *socket, *group, *ldap_uri, *ldap_base, *dovecot_config, *log, *pid_file;
    int check, report;
};

static void usage_exit(void)
{
    fprintf(stderr, "usage: emailng-junklist --socket PATH --group GROUP --ldap-uri URI --ldap-base DN "
                    "--dovecot-config FILE [--log FILE] [--pid-file FILE] [-t]\n"
                    "       emailng-junklist --report --socket PATH spam|ham USER SENDER\n");
    exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},      {"group", required_argument, NULL, 'g'},
        {"ldap-uri", required_argument, NULL, 'u'},    {"ldap-base", required_argument, NULL, 'b'},
        {"dovecot-config", required_argument, NULL, 'd'}, {"log", required_argument, NULL, 'l'},
        {"pid-file", required_argument, NULL, 'p'},    {"report", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->log = "-";
    o->pid_file = "";
    int c;
    while ((c = getopt_long(argc, argv, "t", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o->socket = optarg; break;
        case 'g': o->group = optarg; break;
        case 'u': o->ldap_uri = optarg; break;
        case 'b': o->ldap_base = optarg; break;
        case 'd': o->dovecot_config = optarg; break;
        case 'l': o->log = optarg; break;
        case 'p': o->pid_file = optarg; break;
        case 'r': o->report = 1; break;
        case 't': o->check = 1; break;
        default: usage_exit();
        }
    }
    if (o->report) {
        if (optind + 3 != argc || !o->socket)
            usage_exit();
        return;
    }
    if (optind != argc || !o->socket || !o->group || !o->ldap_uri || !o->ldap_base || !o->dovecot_config)
        usage_exit();
}

/* One line (LF or CR LF stripped) of at most max bytes; -1 on EOF, timeout,
 * a NUL or a longer line. Byte by byte: it is one short line. */
static int read_line(int fd, buf *line, size_t max)
{
    buf_reset(line);
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\0' || line->len > max)
            return -1;
        if (c == '\n')
            break;
        buf_append_char(line, c);
    }
    if (line->len && line->data[line->len - 1] == '\r')
        line->data[--line->len] = '\0';
    return 0;
}

static int say(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- report mode (www-data, from Roundcube) ---------------------------------- */

static int report(const struct options *o, char **args)
{
    buf line = BUF_INIT, answer = BUF_INIT, err = BUF_INIT;
    /* One line: a newline inside an argument would end it early, so the
     * daemon would refuse the rest anyway; refuse it here, plainly. */
    for (int i = 0; i < 3; i++)
        if (strpbrk(args[i], "\r\n") != NULL) {
            fputs("emailng-junklist: an argument holds a line break\n", stderr);
            return 1;
        }
    buf_printf(&line, "%s %s %s\n", args[0], args[1], args[2]);
    int fd = unix_connect(o->socket, &err);
    int rc = 1;
    if (fd < 0) {
        fprintf(stderr, "emailng-junklist: %s\n", buf_cstr(&err));
    } else {
        struct timeval tv = {.tv_sec = IO_TIMEOUT_SECONDS};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 || say(fd, buf_cstr(&line)) != 0 ||
            read_line(fd, &answer, ANSWER_MAX_BYTES) != 0) {
            fprintf(stderr, "emailng-junklist: no answer from %s\n", o->socket);
        } else {
            printf("%s\n", buf_cstr(&answer));
            rc = strncmp(buf_cstr(&answer), "200 ", 4) == 0 ? 0 : 1;
        }
        close(fd);
    }
    buf_free(&line);
    buf_free(&answer);
    buf_free(&err);
    return rc;
}

/* ---- the daemon (root) ------------------------------------------------------- */

static void log_decision(struct junk_request *r, const char *result, const char *detail)
{
    buf line = BUF_INIT;
    daemon_log_begin(&line);
    daemon_log_field(&line, "user", buf_cstr(&r->user));
    daemon_log_field(&line, "verdict", junk_verdict_name(r->verdict));
    daemon_log_field(&line, "sender", buf_cstr(&r->sender));
    daemon_log_field(&line, "result", result);
    if (detail && *detail)
        daemon_log_field(&line, "detail", detail);
    daemon_log_end(&line);
}

/* 1 if doveadm finds a message from sender in any of user's mailboxes,
 * 0 if none, -1 if doveadm fails (err says why). doveadm's FROM matches
 * the From address as a substring: both sides are narrow addresses here. */
static int user_has_mail_from(const struct options *o, struct junk_request *r, buf *err)
{
    const char *argv[] = {DOVEADM, "-c", o->dovecot_config, "search", "-u", buf_cstr(&r->user),
                          "mailbox", "*", "from", buf_cstr(&r->sender), NULL};
    buf out = BUF_INIT;
    int rc = process_run(argv, NULL, &out, err);
    int found = -1;
    if (rc == 0) {
        /* each hit is "GUID UID"; anything else would be a warning */
        found = 0;
        for (const char *p = buf_cstr(&out); *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
            size_t hex = strspn(p, "0123456789abcdef");
            if (hex == 32 && p[hex] == ' ')
                found = 1;
        }
    } else if (rc == DOVEADM_EXIT_NOUSER) {
        found = 0;          /* no such user: no mail from anyone */
    } else if (rc > 0) {
        buf_printf(err, "doveadm search exited %d: %.200s", rc, buf_cstr(&out));
    }
    buf_free(&out);
    return found;
}

/* Adds sender to attr (add) or takes it out (!add); *changed set if so. */
static int list_change(struct directory *d, struct junk_request *r, const char *attr, int add,
                       int *changed, buf *err)
{
    char **values = NULL;
    size_t n = 0;
    if (directory_user_get_values(d, buf_cstr(&r->user), attr, &values, &n, err) != 0)
        return -1;
    size_t at = n;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(values[i], buf_cstr(&r->sender)) == 0)
            at = i;
    int rc = 0;
    if (add && at == n) {
        values = xrealloc(values, (n + 2) * sizeof *values);
        values[n++] = xstrdup(buf_cstr(&r->sender));
        values[n] = NULL;
        *changed = 1;
        rc = directory_user_set_values(d, buf_cstr(&r->user), attr, (const char *const *)values, n, err);
    } else if (!add && at < n) {
        free(values[at]);
        memmove(&values[at], &values[at + 1], (n - at) * sizeof *values);
        n--;
        *changed = 1;
        rc = directory_user_set_values(d, buf_cstr(&r->user), attr, (const char *const *)values, n, err);
    }
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
    return rc;
}

/* One client's request. */
static void serve(const struct options *o, int fd)
{
    buf line = BUF_INIT, err = BUF_INIT, answer = BUF_INIT;
    struct junk_request r;
    struct directory *d = NULL;
    if (read_line(fd, &line, JUNK_REQUEST_MAX) != 0) {
        say(fd, "500 expected one line: spam|ham USER SENDER\r\n");
        daemon_log("refused: no request line within %d bytes and %d seconds", JUNK_REQUEST_MAX, IO_TIMEOUT_SECONDS);
        buf_free(&line);
        return;
    }
    if (junk_request_parse(buf_cstr(&line), &r, &err) != 0) {
        log_decision(&r, "refused", buf_cstr(&err));
        buf_printf(&answer, "500 %s\r\n", buf_cstr(&err));
        say(fd, buf_cstr(&answer));
        goto out;
    }
    int found = user_has_mail_from(o, &r, &err);
    if (found != 1) {
        log_decision(&r, found < 0 ? "error" : "refused", found < 0 ? buf_cstr(&err) : "no message from the sender");
        say(fd, found < 0 ? "500 the mailbox cannot be searched; try again later\r\n"
                          : "500 the user holds no message from that sender\r\n");
        goto out;
    }
    int changed = 0;
    if (directory_open(&d, o->ldap_uri, o->ldap_base, &err) != 0 ||
        list_change(d, &r, junk_verdict_list(r.verdict), 1, &changed, &err) != 0 ||
        list_change(d, &r, junk_verdict_other_list(r.verdict), 0, &changed, &err) != 0) {
        log_decision(&r, "error", buf_cstr(&err));
        say(fd, "500 the lists could not be written\r\n");
        goto out;
    }
    log_decision(&r, changed ? "added" : "unchanged", junk_verdict_list(r.verdict));
    buf_printf(&answer, "200 %s %s %s\r\n", buf_cstr(&r.sender), changed ? "added to" : "already in",
               r.verdict == JUNK_SPAM ? "the deny list" : "the allow list");
    say(fd, buf_cstr(&answer));
out:
    directory_close(d);
    junk_request_free(&r);
    buf_free(&line);
    buf_free(&err);
    buf_free(&answer);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    if (o.report)
        return report(&o, argv + optind);
    buf err = BUF_INIT;
    (void)daemon_log_open("emailng-junklist", "-");      /* stderr until the log is open */
    struct group *g = getgrnam(o.group);
    if (g == NULL) {
        fprintf(stderr, "emailng-junklist: no group %s\n", o.group);
        return 1;
    }
    if (access(DOVEADM, X_OK) != 0) {
        fprintf(stderr, "emailng-junklist: %s is missing (Debian package dovecot-core)\n", DOVEADM);
        return 1;
    }
    struct directory *d = NULL;
    if (directory_open(&d, o.ldap_uri, o.ldap_base, &err) != 0) {
        fprintf(stderr, "emailng-junklist: %s\n", buf_cstr(&err));
        return 1;
    }
    directory_close(d);
    if (o.check)
        return 0;
    if (daemon_log_open("emailng-junklist", o.log) != 0) {
        fprintf(stderr, "emailng-junklist: cannot open %s: %s\n", o.log, strerror(errno));
        return 1;
    }
    int listener = unix_listen(o.socket, 0660, g->gr_gid, 16, &err);
    if (listener < 0) {
        daemon_log("fatal: %s", buf_cstr(&err));
        return 1;
    }
    daemon_signals_catch();
    if (*o.pid_file && daemon_pid_file_create(o.pid_file, &err) != 0) {
        daemon_log("fatal: %s", buf_cstr(&err));
        return 1;
    }
    daemon_log("listening on %s (group %s)", o.socket, o.group);
    while (!daemon_signal_stop()) {
        if (daemon_signal_hup())
            daemon_log_reopen_now();
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = IO_TIMEOUT_SECONDS};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0)
            serve(&o, fd);
        close(fd);
    }
    close(listener);
    unlink(o.socket);
    daemon_log("stopped");
    return 0;
}
