/* daemon_log: a daemon's log, one line per event:
 *     2024-05-01T12:00:00.123+0200 emailng-policyd[1234]: message
 * appended to a file (reopened by daemon_log_reopen, e.g. on SIGHUP after
 * rotation) or written to stderr when the path is "-" or "". A message is
 * kept to one line: every byte that is not printable ASCII becomes '?',
 * and it is cut at DAEMON_LOG_MAX bytes. Lines of key="value" fields are
 * built with daemon_log_begin, daemon_log_field and daemon_log_end; a
 * field is quoted and escaped, so hostile input can never forge a line. */
#ifndef EMAILNG_DAEMON_LOG_H
#define EMAILNG_DAEMON_LOG_H

#include "buf.h"

#define DAEMON_LOG_MAX 4000             /* bytes of one message */
#define DAEMON_LOG_FIELD_MAX 512        /* bytes of one field's value, before escaping */

/* prog names the lines ("emailng-policyd"; kept, not copied). 0 or -1 (errno). */
int daemon_log_open(const char *prog, const char *path);
int daemon_log_reopen(void);            /* 0 or -1 (errno); the old file stays in use */
void daemon_log_close(void);            /* back to stderr */
int daemon_log_fd(void);

void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void daemon_log_str(const char *msg);  /* without formatting (a callback for modules) */

void daemon_log_begin(buf *line);      /* appends the timestamp and program */
void daemon_log_field(buf *line, const char *key, const char *value);   /* ` key="value"` */
void daemon_log_end(buf *line);        /* writes the line and frees it */

#endif
