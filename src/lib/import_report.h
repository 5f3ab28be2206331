/* import_report: what `emailng import` reads from doveadm's answers and
 * keeps per user between runs.
 *
 * doveadm's output (stdout and stderr together): the dsync state is the
 * last line made only of base64 characters (`doveadm sync -s` prints it
 * last on stdout; log lines carry a "doveadm(user)" or "dsync(user)"
 * prefix); errors are the lines with ": Error: ". `doveadm -f tab mailbox
 * status 'messages vsize' '*'` gives the folders, messages and bytes;
 * `doveadm -f tab quota get` the STORAGE value and limit in KiB ("-": no
 * limit).
 *
 * The per-user state (STATE/import/users/ADDRESS) is "key value" lines:
 * the pass it belongs to, the phase (pre: before cut-over, final), the
 * result (done, over-quota, failed), the dsync state the next run starts
 * from, and the last report. Unknown keys are ignored, a bad number is
 * an error. */
#ifndef EMAILNG_IMPORT_REPORT_H
#define EMAILNG_IMPORT_REPORT_H

#include "buf.h"

struct import_totals {
    unsigned long long folders, messages, bytes;
};

/* NULL if there is none; caller frees. */
char *import_dsync_state(const char *output);

/* How many error lines output has; the first few (cut) are appended to
 * first_errors, "; "-separated. */
size_t import_error_lines(const char *output, buf *first_errors);

int import_mailbox_totals(const char *tab_output, struct import_totals *t, buf *err);

/* limit_kib = -1: no limit. */
int import_quota_storage(const char *tab_output, long long *used_kib, long long *limit_kib, buf *err);

struct import_user_state {
    unsigned long pass;
    char *phase;            /* "pre" or "final" */
    char *result;           /* "done", "over-quota", "failed" */
    char *dsync_state;      /* "" before the first successful run */
    struct import_totals here, source;
    unsigned long long new_messages, new_bytes, errors;
    long long quota_used_kib, quota_limit_kib;
    double seconds;
    char *finished;         /* UTC time of the run, ISO 8601 */
    char *error;            /* the first errors, or "" */
};

void import_user_state_free(struct import_user_state *s);
int import_user_state_parse(const char *text, struct import_user_state *s, buf *err);
void import_user_state_format(const struct import_user_state *s, buf *out);
/* The report line: "folders=N messages=N bytes=N new_messages=N ..." */
void import_user_state_summary(const struct import_user_state *s, buf *out);

#endif
