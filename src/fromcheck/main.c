/* emailng-fromcheck: the milter of the submission services (587, 465)
 * that holds the header From: and Sender: to the login, as Postfix's
 * reject_sender_login_mismatch holds the envelope sender (S1, issue 11).
 *
 * Every address of every From: and Sender: header must belong to the SASL
 * login ({auth_authen}): the login itself, the envelope sender (which
 * Postfix has already checked against the login), or an address that
 * smtpd_sender_login_maps gives to the login. For the last, the milter
 * asks Postfix's own map with `postmap -q ADDRESS MAP` (the very map and
 * configuration the submission service uses: LDAP on the small site, the
 * exported LMDB table on a relay), so the rule is one rule. Otherwise
 * 550 5.7.1 at the end of DATA, and the message is not queued. A failed
 * lookup is a 451 4.3.0 (try again), never an accept.
 *
 *   emailng-fromcheck -s SOCKET -m MAP -c POSTFIX_CONFIG_DIR -u USER -p PIDFILE [-t]
 *
 * It drops to USER (postfix: the identity the map's LDAP ACL and the LMDB
 * table's group already grant) before it creates SOCKET (umask 077, so
 * only that user and root reach it), writes PIDFILE, and logs on stderr.
 * -t checks the arguments and exits. */
#include <errno.h>
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authors.h"
#include "buf.h"
#include "daemon.h"
#include "msg.h"
#include "process.h"

static const char *opt_socket, *opt_map, *opt_config, *opt_user, *opt_pidfile;

struct session {
    char *login;        /* {auth_authen} */
    char *envelope;     /* MAIL FROM, without <> */
    int failed;         /* 0, or 5 (refuse) / 4 (lookup failed) */
    buf reason;
};

static void session_reset(struct session *s)
{
    free(s->login);
    free(s->envelope);
    s->login = s->envelope = NULL;
    s->failed = 0;
    buf_free(&s->reason);
}

/* Printable ASCII only, and no '%' (libmilter formats the reply). */
static void append_safe(buf *b, const char *s)
{
    for (size_t i = 0; s[i] && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        buf_append_char(b, c >= 0x20 && c < 0x7f && c != '%' ? (char)c : '?');
    }
}

/* 1 owned, 0 not, -1 the map could not be asked. */
static int map_owner_is(const char *address, const char *login)
{
    const char *argv[] = {"/usr/sbin/postmap", "-c", opt_config, "-q", address, opt_map, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int rc = process_run(argv, NULL, &out, &err);
    int owned = -1;
    if (rc == 1) {
        owned = 0;      /* not in the map */
    } else if (rc == 0) {
        owned = 0;
        char *list = buf_steal(&out), *save = NULL;
        for (char *t = strtok_r(list, ", \t\r\n", &save); t && !owned; t = strtok_r(NULL, ", \t\r\n", &save))
            owned = strcasecmp(t, login) == 0;
        free(list);
    } else {
        msg_warn("postmap -q %s %s failed (exit %d): %s%s", address, opt_map, rc, buf_cstr(&err), buf_cstr(&out));
    }
    buf_free(&out);
    buf_free(&err);
    return owned;
}

static int owned_by(const char *address, const struct session *s)
{
    if (authors_same(address, s->login) || (s->envelope && s->envelope[0] && authors_same(address, s->envelope)))
        return 1;
    int owned = map_owner_is(address, s->login);
    char *bare = owned == 0 ? authors_strip_extension(address) : NULL;
    if (bare)
        owned = map_owner_is(bare, s->login);
    free(bare);
    return owned;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)host;
    (void)addr;
    struct session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SMFIS_TEMPFAIL;
    smfi_setpriv(ctx, s);
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    struct session *s = smfi_getpriv(ctx);
    if (s == NULL)
        return SMFIS_TEMPFAIL;
    session_reset(s);
    const char *login = smfi_getsymval(ctx, "{auth_authen}");
    const char *from = argv && argv[0] ? argv[0] : "";
    size_t n = strlen(from);
    if (n >= 2 && from[0] == '<' && from[n - 1] == '>') {
        from++;
        n -= 2;
    }
    s->envelope = strndup(from, n);
    s->login = login && *login ? strdup(login) : NULL;
    if (s->envelope == NULL)
        return SMFIS_TEMPFAIL;
    if (s->login == NULL) {
        /* submission relays nothing without a login; never let it through */
        smfi_setreply(ctx, "550", "5.7.1", "Submission requires a login");
        return SMFIS_REJECT;
    }
    return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    struct session *s = smfi_getpriv(ctx);
    if (s == NULL || s->login == NULL)
        return SMFIS_TEMPFAIL;
    if (s->failed || (strcasecmp(name, "From") != 0 && strcasecmp(name, "Sender") != 0))
        return SMFIS_CONTINUE;
    struct authors a = {0};
    buf why = BUF_INIT;
    if (authors_parse(value, &a, &why) != 0 || a.n == 0) {
        s->failed = 5;
        buf_printf(&s->reason, "%s: header cannot be checked (%s); write it as Name <address> with your own address",
                   strcasecmp(name, "From") == 0 ? "From" : "Sender", why.len ? buf_cstr(&why) : "no address");
    }
    for (size_t i = 0; !s->failed && i < a.n; i++) {
        int owned = owned_by(a.address[i], s);
        if (owned < 0) {
            s->failed = 4;
        } else if (!owned) {
            s->failed = 5;
            buf_printf(&s->reason, "%s: ", strcasecmp(name, "From") == 0 ? "From" : "Sender");
            append_safe(&s->reason, a.address[i]);
            buf_append_str(&s->reason, " is not an address of ");
            append_safe(&s->reason, s->login);
            buf_append_str(&s->reason, "; send only as your own addresses");
            msg_info("refused: login=%s header=%s address=%s", s->login, name, a.address[i]);
        }
    }
    authors_free(&a);
    buf_free(&why);
    return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);
    if (s == NULL)
        return SMFIS_TEMPFAIL;
    if (s->failed == 5) {
        buf text = BUF_INIT;
        append_safe(&text, buf_cstr(&s->reason));
        smfi_setreply(ctx, "550", "5.7.1", (char *)buf_cstr(&text));
        buf_free(&text);
        return SMFIS_REJECT;
    }
    if (s->failed) {
        smfi_setreply(ctx, "451", "4.3.0", "Your sender address cannot be checked now; try again later");
        return SMFIS_TEMPFAIL;
    }
    return SMFIS_ACCEPT;    /* nothing more to see in this message */
}

static sfsistat on_abort(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);
    if (s)
        session_reset(s);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);
    if (s) {
        session_reset(s);
        free(s);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
    .xxfi_name = "emailng-fromcheck",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_connect = on_connect,
    .xxfi_envfrom = on_envfrom,
    .xxfi_header = on_header,
    .xxfi_eoh = on_eoh,
    .xxfi_abort = on_abort,
    .xxfi_close = on_close,
};

static void usage(void)
{
    fprintf(stderr, "usage: emailng-fromcheck -s SOCKET -m MAP -c POSTFIX_CONFIG_DIR -u USER -p PIDFILE [-t]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int test = 0, opt;
    while ((opt = getopt(argc, argv, "s:m:c:u:p:t")) != -1) {
        switch (opt) {
        case 's': opt_socket = optarg; break;
        case 'm': opt_map = optarg; break;
        case 'c': opt_config = optarg; break;
        case 'u': opt_user = optarg; break;
        case 'p': opt_pidfile = optarg; break;
        case 't': test = 1; break;
        default: usage();
        }
    }
    if (optind != argc || !opt_socket || !opt_map || !opt_config || !opt_user || !opt_pidfile)
        usage();
    if (opt_socket[0] != '/' || strlen(opt_socket) > 100)
        msg_fatal("-s %s: expected an absolute path of a unix socket (at most 100 bytes)", opt_socket);
    if (strchr(opt_map, ':') == NULL)
        msg_fatal("-m %s: expected a Postfix map TYPE:NAME", opt_map);
    if (access(opt_config, R_OK) != 0 || access("/usr/sbin/postmap", X_OK) != 0)
        msg_fatal("%s or /usr/sbin/postmap: %s", opt_config, strerror(errno));
    if (test)
        return 0;
    buf err = BUF_INIT;
    if (daemon_drop_privileges(opt_user, &err) != 0)
        msg_fatal("%s", buf_cstr(&err));
    umask(077);
    char *conn = malloc(strlen(opt_socket) + 6);
    if (conn == NULL)
        msg_fatal("out of memory");
    sprintf(conn, "unix:%s", opt_socket);
    if (smfi_register(filter) != MI_SUCCESS || smfi_setconn(conn) != MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS)
        msg_fatal("cannot listen on %s", conn);
    if (daemon_pid_file_create(opt_pidfile, &err) != 0)
        msg_fatal("%s", buf_cstr(&err));
    msg_info("listening on %s, sender map %s", conn, opt_map);
    int rc = smfi_main();
    msg_info("stopped");
    free(conn);
    return rc == MI_SUCCESS ? 0 : 1;
}
