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
 * and the daemon, root, writes them only if
 *   - the line is strictly well-formed (junk_request.h: a verdict and two
 *     addresses of address_normalize()'s narrow form, bounded length), and
 *   - USER really holds a message from SENDER in some mailbox (doveadm
 *     search): so whoever controls the web tier can put into a user's
 *     lists only senders that user has mail from, never anyone at will.
 *     The plugin reports before it moves the message, so the message is
 *     where the user saw it.
 * Where it runs:
 *   - on the one host of a small site: the directory's rootdn over ldapi,
 *     and `doveadm -c DOVECOT search` on the local store;
 *   - on a proxy of a site of several hosts: the directory over LDAPS
 *     with the proxy's client certificate CN=passwd (--tls-*; that
 *     identity may read a user's store pair and write only userPassword
 *     and the two lists, templates/slapd-directory/slapd.conf), and the
 *     search over the doveadm protocol (doveadm_client.h: TLS checked
 *     against the site's CA, the pair's shared doveadm secret) on the
 *     active store of the user's pair, from healthd's pair table, where
 *     the proxy's Dovecot sends the user (--pair-table, --doveadm-*).
 * One log line per request: user, verdict, sender, result (added,
 * unchanged, refused, error) and why. Connections are served one at a
 * time, each with a read/write timeout.
 *
 * Usage: emailng-junklist --socket PATH --group GROUP --ldap-uri URI
 *            --ldap-base DN [--tls-ca FILE --tls-cert FILE --tls-key FILE]
 *            (--dovecot-config FILE | --pair-table FILE --doveadm-port N
 *             --doveadm-secret-file FILE --tls-ca FILE)
 *            [--log FILE] [--pid-file FILE] [-t]
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
#include "doveadm_client.h"
#include "fsutil.h"
#include "junk_request.h"
#include "pair_table.h"
#include "password.h"
#include "line_service.h"
#include "process.h"

#define IO_TIMEOUT_SECONDS 10
#define ANSWER_MAX_BYTES 512
#define DOVEADM "/usr/bin/doveadm"
#define DOVEADM_EXIT_NOUSER 67      /* sysexits EX_NOUSER: doveadm knows no such user */
#define DOVEADM_TIMEOUT_MS 8000     /* within the client's IO_TIMEOUT_SECONDS */
#define PAIR_TABLE_MAX (1 << 20)

struct options {
    const char *socket, *group, *ldap_uri, *ldap_base, *dovecot_config, *log, *pid_file;
    struct directory_tls tls;       /* all NULL: ldapi */
    const char *pair_table, *doveadm_secret_file;      /* the remote store (a proxy) */
    int doveadm_port;
    int check, report;
};

static void usage_exit(void)
{
    fprintf(stderr, "usage: emailng-junklist --socket PATH --group GROUP --ldap-uri URI --ldap-base DN "
                    "[--tls-ca FILE --tls-cert FILE --tls-key FILE] (--dovecot-config FILE | --pair-table FILE "
                    "--doveadm-port N --doveadm-secret-file FILE --tls-ca FILE) [--log FILE] [--pid-file FILE] [-t]\n"
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
        {"tls-ca", required_argument, NULL, 'A'},      {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},     {"pair-table", required_argument, NULL, 'P'},
        {"doveadm-port", required_argument, NULL, 'D'}, {"doveadm-secret-file", required_argument, NULL, 'S'},
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
        case 'A': o->tls.ca_file = optarg; break;
        case 'C': o->tls.cert_file = optarg; break;
        case 'K': o->tls.key_file = optarg; break;
        case 'P': o->pair_table = optarg; break;
        case 'S': o->doveadm_secret_file = optarg; break;
        case 'D': {
            char *end = NULL;
            long port = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || port < 1 || port > 65535)
                usage_exit();
            o->doveadm_port = (int)port;
            break;
        }
        default: usage_exit();
        }
    }
    if (o->report) {
        if (optind + 3 != argc || !o->socket)
            usage_exit();
        return;
    }
    if (optind != argc || !o->socket || !o->group || !o->ldap_uri || !o->ldap_base)
        usage_exit();
    /* LDAPS needs all three certificate files (a half-given set would
     * silently mean ldapi); the store is either local or remote, wholly. */
    int n_ldap_tls = !!o->tls.cert_file + !!o->tls.key_file;
    int n_remote = !!o->pair_table + !!o->doveadm_port + !!o->doveadm_secret_file;
    if ((n_ldap_tls != 0 && (n_ldap_tls != 2 || !o->tls.ca_file)) || (n_remote != 0 && n_remote != 3) ||
        (n_remote == 3) == (o->dovecot_config != NULL) || (n_remote == 3 && !o->tls.ca_file))
        usage_exit();
}

/* The directory over ldapi, or over LDAPS with our client certificate. */
static int open_directory(const struct options *o, struct directory **d, buf *err)
{
    return directory_open_tls(d, o->ldap_uri, o->ldap_base, o->tls.cert_file ? &o->tls : NULL, err);
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
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 || line_say(fd, buf_cstr(&line)) != 0 ||
            line_read(fd, &answer, ANSWER_MAX_BYTES) != 0) {
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

/* The search words: doveadm's FROM matches the From address as a
 * substring; both sides are narrow addresses here. */
#define SEARCH_ARGS(sender) "search", "mailbox", "*", "from", (sender)

/* On this host's store (the small site): doveadm -c DOVECOT search. */
static int local_has_mail_from(const struct options *o, struct directory *d, struct junk_request *r, buf *err)
{
    const char *argv[] = {DOVEADM, "-c", o->dovecot_config, "search", "-u", buf_cstr(&r->user),
                          "mailbox", "*", "from", buf_cstr(&r->sender), NULL};
    (void)d;
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

/* On the active store of the user's pair (a proxy): the pair from the
 * directory, its store from healthd's table (read per request: it changes
 * on a failover), the search over the doveadm protocol. */
static int remote_has_mail_from(const struct options *o, struct directory *d, struct junk_request *r, buf *err)
{
    struct directory_user u;
    buf table = BUF_INIT, address = BUF_INIT, secret = BUF_INIT;
    int found = -1;
    if (directory_user_get(d, buf_cstr(&r->user), &u, err) != 0)
        goto out;
    if (u.mail_host[0] == '\0') {
        buf_printf(err, "user %s has no store pair (emailngMailHost)", buf_cstr(&r->user));
        directory_user_clear(&u);
        goto out;
    }
    int rc = fs_read_file(o->pair_table, PAIR_TABLE_MAX, &table, err);
    if (rc == 0)
        rc = pair_table_address(buf_cstr(&table), u.mail_host, &address, err);
    directory_user_clear(&u);
    if (rc != 0 || fs_read_secret(o->doveadm_secret_file, PASSWORD_MAX, &secret, err) != 0)
        goto out;
    struct doveadm_target t = {.address = buf_cstr(&address), .port = o->doveadm_port, .ca_file = o->tls.ca_file,
                               .password = buf_cstr(&secret), .timeout_ms = DOVEADM_TIMEOUT_MS};
    const char *const argv[] = {SEARCH_ARGS(buf_cstr(&r->sender)), NULL};
    struct doveadm_reply reply;
    if (doveadm_run(&t, buf_cstr(&r->user), argv, &reply, err) != 0)
        goto out;
    if (reply.ok)
        found = reply.n_fields > 0;     /* each hit: the mailbox GUID and the UID */
    else if (reply.code && strcmp(reply.code, "NOUSER") == 0)
        found = 0;                      /* the store knows no such user: no mail from anyone */
    else
        buf_printf(err, "doveadm search on %s failed: %s", buf_cstr(&address), reply.code ? reply.code : "");
    doveadm_reply_free(&reply);
out:
    password_wipe(&secret);
    buf_free(&table);
    buf_free(&address);
    return found;
}

/* 1 if user holds a message from sender in any mailbox, 0 if none, -1 if
 * the store cannot be searched (err says why). */
static int user_has_mail_from(const struct options *o, struct directory *d, struct junk_request *r, buf *err)
{
    return o->pair_table ? remote_has_mail_from(o, d, r, err) : local_has_mail_from(o, d, r, err);
}

/* One client's request. */
static void serve(const struct options *o, int fd)
{
    buf line = BUF_INIT, err = BUF_INIT, answer = BUF_INIT;
    struct junk_request r;
    struct directory *d = NULL;
    if (line_read(fd, &line, JUNK_REQUEST_MAX) != 0) {
        line_say(fd, "500 expected one line: spam|ham USER SENDER\r\n");
        daemon_log("refused: no request line within %d bytes and %d seconds", JUNK_REQUEST_MAX, IO_TIMEOUT_SECONDS);
        buf_free(&line);
        return;
    }
    if (junk_request_parse(buf_cstr(&line), &r, &err) != 0) {
        log_decision(&r, "refused", buf_cstr(&err));
        buf_printf(&answer, "500 %s\r\n", buf_cstr(&err));
        line_say(fd, buf_cstr(&answer));
        goto out;
    }
    if (open_directory(o, &d, &err) != 0) {
        log_decision(&r, "error", buf_cstr(&err));
        line_say(fd, "500 the directory cannot be reached; try again later\r\n");
        goto out;
    }
    int found = user_has_mail_from(o, d, &r, &err);
    if (found != 1) {
        log_decision(&r, found < 0 ? "error" : "refused", found < 0 ? buf_cstr(&err) : "no message from the sender");
        line_say(fd, found < 0 ? "500 the mailbox cannot be searched; try again later\r\n"
                          : "500 the user holds no message from that sender\r\n");
        goto out;
    }
    int changed = 0;
    const struct directory_list_edit edits[] = {
        {junk_verdict_list(r.verdict), buf_cstr(&r.sender), 1},
        {junk_verdict_other_list(r.verdict), buf_cstr(&r.sender), 0},
    };
    if (directory_user_edit_lists(d, buf_cstr(&r.user), edits, 2, &changed, &err) != 0) {
        log_decision(&r, "error", buf_cstr(&err));
        line_say(fd, "500 the lists could not be written\r\n");
        goto out;
    }
    log_decision(&r, changed ? "added" : "unchanged", junk_verdict_list(r.verdict));
    buf_printf(&answer, "200 %s %s %s\r\n", buf_cstr(&r.sender), changed ? "added to" : "already in",
               r.verdict == JUNK_SPAM ? "the deny list" : "the allow list");
    line_say(fd, buf_cstr(&answer));
out:
    directory_close(d);
    junk_request_free(&r);
    buf_free(&line);
    buf_free(&err);
    buf_free(&answer);
}

static void serve_connection(void *context, int fd)
{
    serve(context, fd);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    if (o.report)
        return report(&o, argv + optind);
    buf err = BUF_INIT;
    (void)daemon_log_open("emailng-junklist", "-");      /* stderr until the log is open */
    gid_t gid;
    if (line_service_group("emailng-junklist", o.group, &gid) != 0)
        return 1;
    if (o.dovecot_config && access(DOVEADM, X_OK) != 0) {
        fprintf(stderr, "emailng-junklist: %s is missing (Debian package dovecot-core)\n", DOVEADM);
        return 1;
    }
    struct directory *d = NULL;
    if (open_directory(&o, &d, &err) != 0) {
        fprintf(stderr, "emailng-junklist: %s\n", buf_cstr(&err));
        return 1;
    }
    directory_close(d);
    if (o.doveadm_secret_file) {
        buf secret = BUF_INIT;
        int rc = fs_read_secret(o.doveadm_secret_file, PASSWORD_MAX, &secret, &err);
        password_wipe(&secret);
        if (rc != 0) {
            fprintf(stderr, "emailng-junklist: %s\n", buf_cstr(&err));
            return 1;
        }
    }
    if (o.check)
        return 0;
    struct line_service service = {.name = "emailng-junklist", .socket = o.socket, .gid = gid, .log = o.log,
                                   .pid_file = o.pid_file, .io_timeout_seconds = IO_TIMEOUT_SECONDS,
                                   .serve = serve_connection, .context = &o};
    return line_service_run(&service);
}
