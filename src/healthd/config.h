/* config: emailng-healthd's configuration file (YAML, read with libyaml).
 * Every key is documented in docs/healthd.md. Unknown keys, wrong types
 * and out-of-range values are errors that name file:line and the key. */
#ifndef HEALTHD_CONFIG_H
#define HEALTHD_CONFIG_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "buf.h"

typedef struct hd_pair {
    char *name;                 /* [A-Za-z0-9._-], 1..64 */
    char *host[2];              /* primary, secondary: numeric IPv4/IPv6 */
} hd_pair;

typedef struct hd_config {
    hd_pair *pairs;
    size_t npairs;
    int lmtp_port;
    int imap_port;
    char *probe_user;
    char *probe_password_file;  /* the password is read from here, never argv */
    char *probe_password;       /* loaded by config_load */
    long interval_ms;           /* one probe round every interval */
    long timeout_ms;            /* hard deadline of one round */
    long connect_timeout_ms;    /* a connect unanswered this long fails; default timeout_ms */
    long fail_grace_ms;
    long recover_grace_ms;
    long recover_probes;
    int fast_fail;              /* a refused connect (RST) goes down after refused_confirm_ms */
    long refused_confirm_ms;
    long busy_grace_ms;         /* busy rounds (greeted, probe unfinished) this long: down */
    long probe_patience_ms;     /* a greeted probe still waiting stays open this long (probe.h) */
    char *table;                /* "pair1 198.18.0.31" lines, or "" */
    char *passwd_file;          /* Dovecot passwd-file form, or "" */
    char *log_file;             /* "-" = stderr */
    char *pid_file;             /* or "" */
    char **catchup_command;     /* argv, NULL-terminated; NULL = no check */
    long catchup_timeout_ms;
    char *catchup_secret_file;  /* read as root at start, or "" ... */
    char *catchup_secret;       /* ... and written to the check's stdin */
    char *drain_file;           /* stores drained by the administrator (drain.h), or "" */
    char *status_file;          /* every store's state and every pair's active store, or "" */
    char *metrics_file;         /* its counters for Prometheus (table.h), or "" */
    char *user;                 /* drop to this user after start (as root), or "" */
} hd_config;

void config_defaults(hd_config *c);
/* Reads the file and the probe password file; err names file:line. */
int config_load(hd_config *c, const char *path, buf *err);
/* Parses text (name is used in errors); does not read the password file. */
int config_parse(hd_config *c, const char *text, size_t len, const char *name, buf *err);
/* Reads and checks the password file: one line, no NUL/CR/LF/quote tricks. */
int config_read_password(hd_config *c, buf *err);
void config_free(hd_config *c);
/* Numeric address to a sockaddr with port; 0 or -1. */
int config_sockaddr(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len);

#endif
