/* counters: what emailng-syncwatch did, for Prometheus (O1), written by
 * the daemon after a round that changed them (and at start) as a small
 * file in the text format (src/lib/promtext.h) that emailng-metricsd
 * appends as it is:
 *   emailng_syncwatch_interventions_total{action,result}
 *     action="end"   a stalled dsync-server: result killed | failed
 *     action="retry" the partner asked to sync the user again:
 *                    result requested | failed | skipped
 * Counters start at zero with the process. */
#ifndef SYNCWATCH_COUNTERS_H
#define SYNCWATCH_COUNTERS_H

#include "buf.h"

enum sw_outcome {
    SW_END_KILLED,
    SW_END_FAILED,
    SW_RETRY_REQUESTED,
    SW_RETRY_FAILED,
    SW_RETRY_SKIPPED,
    SW_OUTCOMES,
};

struct sw_counters {
    unsigned long long n[SW_OUTCOMES];
    int changed;
};

void sw_count(struct sw_counters *c, enum sw_outcome what);
/* Appends the family to out and clears changed. */
void sw_format(struct sw_counters *c, buf *out);

#endif
