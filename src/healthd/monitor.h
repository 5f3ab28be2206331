/* monitor: the two state machines of emailng-healthd, pure functions of
 * their inputs (probe results, a caught-up answer, the time in ms), so
 * the unit tests drive them with injected results and an injected clock.
 *
 * One store:
 *   starting --good--> up            starting --bad--> suspect
 *   up --bad--> suspect              suspect --good--> up
 *   suspect --bad, fail_grace since the first bad probe--> down
 *   down --good--> recovering        recovering --bad--> down
 *   recovering --good, >= recover_probes in a row, >= recover_grace since
 *     the first good one, and caught up--> up
 *   with fast_fail, "refused" (the store's host answered a connect with a
 *   reset: nothing listens there, the daemons are gone) is a bad result
 *   that does not wait for fail_grace:
 *   starting/up --refused--> suspect (down at once if refused_confirm is 0)
 *   suspect --refused, refused_confirm since the first refusal of an
 *     unbroken run of refusals--> down
 *   any other result ends the run of refusals. A busy or slow store never
 *   refuses (its kernel still accepts; a full backlog drops, not resets),
 *   so this path cannot switch a loaded store away.
 *   "busy" (the store greeted, but its login or EXAMINE did not finish in
 *   the round: a login storm queues the probe's login behind hundreds of
 *   users') is a bad result that waits busy_grace, not fail_grace:
 *   suspect --bad for fail_grace without a busy or good round in between,
 *     or not good for busy_grace--> down
 *   Switching a loaded store's users to its partner only moves the load
 *   (and the partner then looks busy too: the pair flaps).
 * "Caught up" is the answer of the pluggable catch-up check (docs/healthd.md);
 * with no check configured it is always yes.
 *
 * One pair (primary, secondary; active = the store proxies send users to):
 *   a store "serves" while up or suspect (or starting: not yet known).
 *   - active serves: stay, except go back to the primary once it is up
 *     (up = healthy and caught up) while the secondary is active;
 *   - active does not serve: move to the partner if it serves, or if the
 *     active is down and the partner is at least recovering (answers, but
 *     is not caught up: a live store beats a dead one; dsync merges later);
 *   - otherwise (both down) keep the last active. */
#ifndef HEALTHD_MONITOR_H
#define HEALTHD_MONITOR_H

#include "buf.h"

typedef enum store_state {
    ST_STARTING,
    ST_UP,
    ST_SUSPECT,
    ST_DOWN,
    ST_RECOVERING,
} store_state;

/* What one check found. BAD and GOOD are 0 and 1 so a plain "ok" works. */
typedef enum store_verdict {
    VERDICT_BAD = 0,            /* failed: timeout, wrong reply, closed, unreachable */
    VERDICT_GOOD = 1,           /* every probe of the round passed */
    VERDICT_REFUSED = 2,        /* a connect was refused (RST): nothing listens */
    VERDICT_BUSY = 3,           /* greeted, but the login or EXAMINE ran out of
                                 * the round's time: loaded, not dead */
} store_verdict;

typedef struct store_policy {
    long long fail_grace_ms;    /* bad probes for this long: suspect -> down */
    long long recover_grace_ms; /* good probes for this long: recovering -> up */
    int recover_probes;         /* and at least this many good probes in a row */
    int fast_fail;              /* refusals go down after refused_confirm_ms, not fail_grace */
    long long refused_confirm_ms;
    long long busy_grace_ms;    /* not good, busy at times, this long: suspect -> down
                                 * (at least fail_grace_ms) */
} store_policy;

typedef struct store_sm {
    store_state state;
    long long since_ms;         /* when the current state began */
    long long first_bad_ms;     /* first bad probe of the current failure */
    long long first_good_ms;    /* first good probe of the current recovery */
    long long first_refused_ms; /* first of the current run of refusals, or -1 */
    long long first_hard_ms;    /* first of the current run of bad (not busy)
                                 * rounds, or -1 */
    int good;                   /* good probes in a row while recovering */
} store_sm;

const char *store_state_name(store_state s);
void store_sm_init(store_sm *s, store_state initial, long long now_ms);

/* Feeds one check's verdict (store_verdict; 1 = every probe of the round
 * passed, 0 = failed) and the latest caught-up answer (1 yes, 0 not yet).
 * Feeds must come in time order. Returns 1 if the state changed, with
 * `why` set to the reason (e.g. "bad for 3000 ms"). */
int store_sm_feed(store_sm *s, const store_policy *p, int verdict, int caught_up,
                  long long now_ms, buf *why);

/* 1 while recovering with enough good probes and time: the moment the
 * caller should ask the catch-up check (its answer goes to the next feed). */
int store_sm_wants_catchup(const store_sm *s, const store_policy *p, long long now_ms);

int store_serves(store_state s);

/* Index (0 primary, 1 secondary) of the store the pair should use now,
 * given the current one; `why` says why when it changes. */
int pair_decide(store_state primary, store_state secondary, int active, buf *why);

#endif
