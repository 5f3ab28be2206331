/* daemon_log: a daemon's log, one line per event:
 *     2024-05-01T12:00:00.123+0200 emailng-policyd[1234]: message
 * appended to a file (reopened by daemon_log_reopen, e.g. on SIGHUP after
 * rotation) or written to stderr when the path is "-" or "". A message is
 * kept to one line: every byte that is not printable ASCII becomes '?',
 * and it is cut at DAEMON_LOG_MAX bytes. Lines of key="value" fields are
 * built with daemon_log_begin, daemon_log_field and daemon_log_end; a
 * field is quoted and escaped, so hostile input can never forge a line.
 *
 * Lines are written at once unless buffering is turned on
 * (daemon_log_buffer): then they are kept in memory, in order, and
 * written by daemon_log_flush, when the buffer is full, before a reopen or
 * close, and at exit(). A forked child drops what its parent had buffered
 * and writes its own lines at once. */
#ifndef EMAILNG_DAEMON_LOG_H
#define EMAILNG_DAEMON_LOG_H

#include "buf.h"

#define DAEMON_LOG_MAX 4000             /* bytes of one message */
#define DAEMON_LOG_FIELD_MAX 512        /* bytes of one field's value, before escaping */

/* prog names the lines ("emailng-policyd"; kept, not copied). 0 or -1 (errno). */
int daemon_log_open(const char *prog, const char *path);
/* 0 or -1 (errno; the old file stays in use). Standard output and error,
 * when they are open on the old log file, are moved to the new one. */
int daemon_log_reopen(void);
void daemon_log_close(void);            /* back to stderr */
int daemon_log_fd(void);

void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void daemon_log_str(const char *msg);  /* without formatting (a callback for modules) */

void daemon_log_begin(buf *line);      /* appends the timestamp and program */
void daemon_log_field(buf *line, const char *key, const char *value);   /* ` key="value"` */
void daemon_log_end(buf *line);        /* writes the line and frees it */
void daemon_log_write(buf *line);      /* writes the line and empties it (keeps its memory) */

/* Buffering: cap bytes at most (0: off, after a flush). pending(arg), when
 * given, is called each time the empty buffer gets a line, so that the
 * caller can schedule a flush (emailng-policyd: at the end of the event
 * loop's pass). 0, or -1 (errno) when the lines buffered so far could not
 * be written or buffering could not be set up (lines are written at once). */
int daemon_log_buffer(size_t cap, void (*pending)(void *), void *arg);
int daemon_log_flush(void);             /* 0 or -1 (errno; the lines are dropped) */

#endif
