/* doveadm_client: run one command on a remote Dovecot doveadm server
 * (its TCP protocol, implicit TLS) and read the values it prints.
 * Why our own client: Dovecot 2.3.19's doveadm reaches a remote server
 * (`doveadm CMD -S host:port`) only without TLS; TLS is used only when a
 * passdb proxies the user (doveadm_ssl). The protocol is small: a VERSION
 * line, "-" (authenticate) or "+", "PLAIN <base64 \0doveadm\0PASSWORD>",
 * "+", then a line "FLAGS<TAB>USER<TAB>CMD<TAB>ARG..." (tab-escaped) and
 * the reply: the printed values, each tab-escaped and followed by a tab,
 * then "\n" and a status line "+" (success) or "-CODE".
 * The server's certificate is checked against the site's CA and the
 * address connected to; the password is read from a file by the caller.
 * Functions return 0, or -1 with a one-line reason in err. */
#ifndef EMAILNG_DOVEADM_CLIENT_H
#define EMAILNG_DOVEADM_CLIENT_H

#include <stddef.h>

#include "buf.h"

struct doveadm_target {
    const char *address;       /* numeric IPv4/IPv6 */
    int port;
    const char *ca_file;       /* PEM; the server certificate must chain to it */
    const char *password;      /* doveadm_password */
    int timeout_ms;            /* connect, and each read or write */
};

struct doveadm_reply {
    int ok;                    /* status line "+" */
    char *code;                /* the text after "-" when !ok ("NOUSER", "TEMPFAIL", ...; may be "") */
    char **fields;             /* the printed values, unescaped, in order */
    size_t n_fields;
};

/* Runs argv (command words, then arguments) for user ("" for commands
 * that are not about one user). A command that ran and failed is 0 with
 * reply->ok = 0. */
int doveadm_run(const struct doveadm_target *t, const char *user, const char *const argv[],
                struct doveadm_reply *reply, buf *err);

/* Parses a reply from its bytes. Returns 0 when complete, 1 when more bytes
 * are needed, -1 if malformed (err says why). */
int doveadm_reply_parse(const char *data, size_t len, struct doveadm_reply *reply, buf *err);

void doveadm_reply_free(struct doveadm_reply *reply);

/* Dovecot's tab escaping: \001 -> \0011, TAB -> \001t, CR -> \001r,
 * LF -> \001n, NUL -> \0010. */
void doveadm_tab_escape(const char *s, buf *out);

#endif
