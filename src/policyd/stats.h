/* stats: emailng-policyd's figures for Prometheus (O1), kept in memory and
 * published as a file in the text exposition format (src/lib/promtext.h)
 * that emailng-metricsd appends to its own answer.
 *
 * Why a file the daemon writes itself: the hot path stays a few
 * increments (no I/O, no lock, no socket per request); the file is
 * rewritten (temporary file + rename, so a reader never sees half of it)
 * every metrics_interval seconds when something changed, and at exit;
 * metricsd needs no second parser of anything and no access to policyd's
 * socket or state. Counters start from zero with the process (Prometheus'
 * rate() and increase() take resets in their stride).
 *
 *   emailng_policyd_requests_total{state,action}  every answered request,
 *       by Postfix's protocol state (RCPT, END-OF-MESSAGE, other) and the
 *       kind of action Postfix got (dunno, prepend, defer, reject, other)
 *   emailng_policyd_actions_total{policy,action}  at RCPT, what each policy
 *       answered (list first, then ratelimit, spf, quota, greylist; one that
 *       is off or does not apply answers dunno; after a refusal the later
 *       ones are not asked)
 *   emailng_policyd_bad_requests_total  malformed requests (answered on_error)
 *   emailng_policyd_request_duration_seconds  histogram: from a request's
 *       first byte to its answer, for every answered request (bad ones too)
 *   emailng_policyd_start_time_seconds  when the process started */
#ifndef POLICYD_STATS_H
#define POLICYD_STATS_H

#include "buf.h"
#include "promtext.h"

enum stats_policy { STATS_RATELIMIT, STATS_SPF, STATS_QUOTA, STATS_GREYLIST, STATS_LIST, STATS_POLICIES };
enum stats_action { STATS_DUNNO, STATS_PREPEND, STATS_DEFER, STATS_REJECT, STATS_OTHER, STATS_ACTIONS };
enum stats_state { STATS_RCPT, STATS_END_OF_MESSAGE, STATS_STATE_OTHER, STATS_STATES };

typedef struct policy_stats {
    unsigned long long requests[STATS_STATES][STATS_ACTIONS];
    unsigned long long actions[STATS_POLICIES][STATS_ACTIONS];
    unsigned long long bad_requests;
    prom_histogram duration;
    double start_time;          /* Unix time */
    int changed;                /* since the last stats_format */
} policy_stats;

void stats_init(policy_stats *s, double start_time);
void stats_free(policy_stats *s);
/* The kind of a Postfix action line ("DUNNO", "450 4.7.1 ...", ...). */
enum stats_action stats_action_kind(const char *action);
/* s may be NULL (the engine's unit tests run without). */
void stats_policy_answer(policy_stats *s, enum stats_policy policy, const char *action);
void stats_request(policy_stats *s, const char *protocol_state, const char *action, double seconds);
void stats_bad_request(policy_stats *s, double seconds);
/* Appends the families to out and clears changed. */
void stats_format(policy_stats *s, buf *out);

#endif
