/* quota: over-quota at the border (S4). A recipient is expanded through
 * the table (aliases, lists, alternates) to the mailboxes it reaches;
 * each mailbox's quota is asked of the store pair that holds it through
 * an injected lookup (the real one is quotaclient.c), with a short
 * cache. Any mailbox over quota beyond its grace refuses the recipient
 * with 552 5.2.2; when no store answers for some mailbox the configured
 * default action applies (DUNNO: the store decides) and the reason says
 * so for the log. */
#ifndef POLICYD_QUOTA_H
#define POLICYD_QUOTA_H

#include <stdint.h>

#include "config.h"
#include "decision.h"
#include "strmap.h"
#include "table.h"

typedef enum { QS_OK = 0, QS_OVER = 1, QS_UNKNOWN = 2 } quota_status;

typedef void (*quota_done_fn)(void *arg, quota_status st, const char *detail);
/* Asks the quota of one mailbox in store pair `pair` for a message of
 * `size` bytes; calls done exactly once (possibly before returning). */
typedef void (*quota_lookup_fn)(void *ctx, const char *mailbox, const char *pair,
                                unsigned long long size, quota_done_fn done, void *arg);

typedef struct quota_checker {
    const config *cfg;
    quota_lookup_fn lookup;
    void *lookup_ctx;
    strmap cache;           /* "mailbox|sizeclass" -> cache_entry */
    int64_t (*now)(void);   /* seconds; replaceable in tests */
    unsigned long hits, misses;
} quota_checker;

typedef struct quota_job quota_job;
/* Called once with the decision; d is valid only during the call. */
typedef void (*quota_result_fn)(void *arg, const decision *d);

void quota_checker_init(quota_checker *qc, const config *cfg, quota_lookup_fn lookup, void *ctx);
void quota_checker_free(quota_checker *qc);

/* Starts a check. Returns the job (NULL if it finished at once: cb was
 * already called). quota_job_cancel() stops the callback from being
 * called (the lookups still finish and free the job). */
quota_job *quota_check(quota_checker *qc, const table *t, const char *recipient,
                       unsigned long long size, quota_result_fn cb, void *arg);
void quota_job_cancel(quota_job *j);

#endif
