/* emailng-passwd: lets the webmail change a user's own password (issue
 * 13, C3) without any directory credential on the web tier.
 *
 * Roundcube's password plugin (driver "poppassd") connects to this
 * daemon's unix socket, which only root and the group www-data (php-fpm's
 * workers) may open, and speaks the poppassd dialogue:
 *     S: 200 emailng-passwd ready
 *     C: user ADDRESS        S: 300 current password please
 *     C: pass CURRENT        S: 200 new password please   | 500 refused
 *     C: newpass NEW         S: 200 password changed      | 500 reason
 * The current password is checked against the directory's hash
 * (directory_user_check_password: the account must be active) before the
 * new one is hashed (yescrypt, password.h) and written; then Dovecot's
 * auth cache forgets the user (`doveadm auth cache flush`), so the old
 * password stops working at once. So whoever controls the web tier can
 * change only passwords it already knows. A refusal costs the client
 * FAIL_DELAY seconds, and connections are served one at a time: guessing
 * through this socket is slower than through IMAP.
 *
 * It stays root. On the one host of a small site it writes over ldapi as
 * root (the directory's rootdn, templates/slapd/slapd.conf). On a proxy of
 * a site of several hosts (--tls-*) it talks LDAPS to the directory with
 * this host's client certificate CN=passwd (root's key): that identity
 * may read the users' status and hashes and write only userPassword
 * (templates/slapd-directory/slapd.conf). Its input is three bounded
 * lines, read with a timeout.
 *
 * Usage: emailng-passwd --socket PATH --group GROUP --ldap-uri URI
 *            --ldap-base DN [--tls-ca FILE --tls-cert FILE --tls-key FILE]
 *            [--dovecot-config FILE] [--min-length N]
 *            [--log FILE] [--pid-file FILE] [-t]
 *   --dovecot-config  the Dovecot whose auth cache to flush; none where
 *                     no Dovecot caches (the hosts of several: none does).
 *   -t  check the arguments and the directory, then exit.
 * One log line per attempt: user, result (changed, refused, error). */
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
#include "password.h"
#include "line_service.h"
#include "process.h"

#define LINE_MAX_BYTES (PASSWORD_MAX + 64)
#define IO_TIMEOUT_SECONDS 10
#define FAIL_DELAY 2
#define DOVEADM "/usr/bin/doveadm"

struct options {
    const char *socket, *group, *ldap_uri, *ldap_base, *dovecot_config, *log, *pid_file;
    struct directory_tls tls;       /* all NULL: ldapi */
    long min_length;
    int check;
};

static void usage_exit(void)
{
    fprintf(stderr, "usage: emailng-passwd --socket PATH --group GROUP --ldap-uri URI --ldap-base DN "
                    "[--tls-ca FILE --tls-cert FILE --tls-key FILE] [--dovecot-config FILE] [--min-length N] "
                    "[--log FILE] [--pid-file FILE] [-t]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},      {"group", required_argument, NULL, 'g'},
        {"ldap-uri", required_argument, NULL, 'u'},    {"ldap-base", required_argument, NULL, 'b'},
        {"dovecot-config", required_argument, NULL, 'd'}, {"min-length", required_argument, NULL, 'm'},
        {"log", required_argument, NULL, 'l'},         {"pid-file", required_argument, NULL, 'p'},
        {"tls-ca", required_argument, NULL, 'A'},      {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->log = "-";
    o->pid_file = "";
    o->min_length = 10;
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
        case 'A': o->tls.ca_file = optarg; break;
        case 'C': o->tls.cert_file = optarg; break;
        case 'K': o->tls.key_file = optarg; break;
        case 'm': {
            char *end = NULL;
            o->min_length = strtol(optarg, &end, 10);
            if (end == optarg || *end || o->min_length < 1 || o->min_length > PASSWORD_MAX)
                usage_exit();
            break;
        }
        case 't': o->check = 1; break;
        default: usage_exit();
        }
    }
    if (optind != argc || !o->socket || !o->group || !o->ldap_uri || !o->ldap_base)
        usage_exit();
    /* TLS needs all three (a half-given set would silently mean ldapi). */
    int n_tls = !!o->tls.ca_file + !!o->tls.cert_file + !!o->tls.key_file;
    if (n_tls != 0 && n_tls != 3)
        usage_exit();
}

/* The directory over ldapi, or over LDAPS with our client certificate. */
static int open_directory(const struct options *o, struct directory **d, buf *err)
{
    return directory_open_tls(d, o->ldap_uri, o->ldap_base, o->tls.ca_file ? &o->tls : NULL, err);
}



/* The argument of "WORD ARG" (case-insensitive word), or NULL. */
static const char *argument(const buf *line, const char *word)
{
    size_t w = strlen(word);
    if (line->len <= w + 1 || strncasecmp(line->data, word, w) != 0 || line->data[w] != ' ')
        return NULL;
    return line->data + w + 1;
}

/* Dovecot's auth cache forgets the user: the old password fails at once. */
static void flush_auth_cache(const struct options *o, const char *user)
{
    if (o->dovecot_config == NULL)
        return;                 /* no Dovecot here caches passwords */
    const char *argv[] = {DOVEADM, "-c", o->dovecot_config, "auth", "cache", "flush", user, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int rc = process_run(argv, NULL, &out, &err);
    if (rc != 0)
        daemon_log("warning: doveadm auth cache flush %s failed (%d): %s%s; the cached password expires by "
                   "itself (auth_cache_ttl)", user, rc, buf_cstr(&err), buf_cstr(&out));
    buf_free(&out);
    buf_free(&err);
}

static void log_attempt(const char *user, const char *result, const char *detail)
{
    buf line = BUF_INIT;
    daemon_log_begin(&line);
    daemon_log_field(&line, "user", user);
    daemon_log_field(&line, "result", result);
    if (detail && *detail)
        daemon_log_field(&line, "detail", detail);
    daemon_log_end(&line);
}

/* One client's dialogue. */
static void serve(const struct options *o, int fd)
{
    buf line = BUF_INIT, user = BUF_INIT, current = BUF_INIT, hash = BUF_INIT, err = BUF_INIT;
    const char *arg;
    struct directory *d = NULL;
    line_say(fd, "200 emailng-passwd ready\r\n");
    if (line_read(fd, &line, LINE_MAX_BYTES) != 0 || (arg = argument(&line, "user")) == NULL) {
        line_say(fd, "500 expected: user ADDRESS\r\n");
        goto out;
    }
    buf_append_str(&user, arg);
    line_say(fd, "300 current password please\r\n");
    if (line_read(fd, &line, LINE_MAX_BYTES) != 0 || (arg = argument(&line, "pass")) == NULL) {
        line_say(fd, "500 expected: pass CURRENT\r\n");
        goto out;
    }
    buf_append_str(&current, arg);
    if (open_directory(o, &d, &err) != 0) {
        log_attempt(buf_cstr(&user), "error", buf_cstr(&err));
        line_say(fd, "500 the directory cannot be reached; try again later\r\n");
        goto out;
    }
    int match = directory_user_check_password(d, buf_cstr(&user), buf_cstr(&current), &err);
    if (match != 1) {
        log_attempt(buf_cstr(&user), match < 0 ? "error" : "refused", match < 0 ? buf_cstr(&err) : "current password");
        sleep(FAIL_DELAY);
        line_say(fd, "500 the current password is not right\r\n");
        goto out;
    }
    line_say(fd, "200 new password please\r\n");
    password_wipe(&line);
    if (line_read(fd, &line, LINE_MAX_BYTES) != 0 || (arg = argument(&line, "newpass")) == NULL) {
        line_say(fd, "500 expected: newpass NEW\r\n");
        goto out;
    }
    if ((long)strlen(arg) < o->min_length) {
        log_attempt(buf_cstr(&user), "refused", "new password too short");
        line_say(fd, "500 the new password is too short\r\n");
        goto out;
    }
    if (password_hash(arg, &hash, &err) != 0 ||
        directory_user_set_password(d, buf_cstr(&user), buf_cstr(&hash), &err) != 0) {
        log_attempt(buf_cstr(&user), "error", buf_cstr(&err));
        line_say(fd, "500 the password could not be changed\r\n");
        goto out;
    }
    flush_auth_cache(o, buf_cstr(&user));
    log_attempt(buf_cstr(&user), "changed", NULL);
    line_say(fd, "200 password changed\r\n");
out:
    directory_close(d);
    password_wipe(&line);
    password_wipe(&current);
    buf_free(&user);
    buf_free(&hash);
    buf_free(&err);
}

static void serve_connection(void *context, int fd)
{
    serve(context, fd);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    buf err = BUF_INIT;
    (void)daemon_log_open("emailng-passwd", "-");      /* stderr until the log is open */
    if (daemon_forbid_core_dumps(&err) != 0) {
        fprintf(stderr, "emailng-passwd: %s\n", buf_cstr(&err));
        return 1;
    }
    gid_t gid;
    if (line_service_group("emailng-passwd", o.group, &gid) != 0)
        return 1;
    struct directory *d = NULL;
    if (open_directory(&o, &d, &err) != 0) {
        fprintf(stderr, "emailng-passwd: %s\n", buf_cstr(&err));
        return 1;
    }
    directory_close(d);
    if (o.check)
        return 0;
    struct line_service service = {.name = "emailng-passwd", .socket = o.socket, .gid = gid, .log = o.log,
                                   .pid_file = o.pid_file, .io_timeout_seconds = IO_TIMEOUT_SECONDS,
                                   .serve = serve_connection, .context = &o};
    return line_service_run(&service);
}
