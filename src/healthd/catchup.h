/* catchup: the pluggable "has this store caught up?" check. A recovering
 * store becomes up (and takes its pair back) only once the check says so.
 * The check is a program (catchup_command: absolute path and arguments, no
 * shell) run with
 *   HEALTHD_PAIR, HEALTHD_STORE, HEALTHD_PARTNER  (pair name, addresses)
 *   HEALTHD_DOWN_SINCE  (Unix time the store last stopped serving, as
 *                        this monitor saw it; absent when it never saw it)
 * in its environment, stdout on /dev/null, stderr on log_fd (healthd's log:
 * the check logs what it changes, e.g. a duplicate it removed; /dev/null
 * when log_fd is -1), stdin /dev/null or, with
 * a secret (catchup_secret_file, read as root at start), that secret as one
 * line on a pipe (never argv or the environment); exit 0 = caught
 * up, anything else (or running past catchup_timeout_ms, when it is
 * killed) = not yet. It runs in the background: the probes never wait. */
#ifndef HEALTHD_CATCHUP_H
#define HEALTHD_CATCHUP_H

#include <sys/types.h>

#include "buf.h"

typedef struct catchup_job {
    pid_t pid;                  /* 0 = not running */
    long long deadline_ms;
} catchup_job;

int catchup_start(catchup_job *j, char *const argv[], const char *pair, const char *store,
                  const char *partner, const char *secret, long long away_since, int log_fd, long timeout_ms,
                  long long now_ms, buf *err);
/* -1 still running; 1 caught up; 0 not yet (detail says why). */
int catchup_poll(catchup_job *j, long long now_ms, buf *detail);
/* Kills and reaps a running check. */
void catchup_cancel(catchup_job *j);

#endif
