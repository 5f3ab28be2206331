/* log: emailng-healthd's log, one line per event: every store state
 * change (store, pair, old -> new, reason, probe detail), every change of
 * a pair's active store, table writes that failed, start and stop.
 * Appended to log_file (reopened on SIGHUP) or written to stderr for "-". */
#ifndef HEALTHD_LOG_H
#define HEALTHD_LOG_H

int log_open(const char *path);         /* 0 or -1 (errno) */
int log_reopen(void);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
