/* monitor: see monitor.h. */
#include "monitor.h"

const char *store_state_name(store_state s)
{
    switch (s) {
    case ST_STARTING: return "starting";
    case ST_UP: return "up";
    case ST_SUSPECT: return "suspect";
    case ST_DOWN: return "down";
    case ST_RECOVERING: return "recovering";
    }
    return "?";
}

void store_sm_init(store_sm *s, store_state initial, long long now_ms)
{
    s->state = initial;
    s->since_ms = now_ms;
    s->first_bad_ms = now_ms;
    s->first_good_ms = now_ms;
    s->first_refused_ms = -1;
    s->first_hard_ms = -1;
    s->good = 0;
}

static int go(store_sm *s, store_state to, long long now_ms)
{
    s->state = to;
    s->since_ms = now_ms;
    return 1;
}

static int recovered(const store_sm *s, const store_policy *p, long long now_ms)
{
    return s->good >= p->recover_probes && now_ms - s->first_good_ms >= p->recover_grace_ms;
}

int store_sm_wants_catchup(const store_sm *s, const store_policy *p, long long now_ms)
{
    return s->state == ST_RECOVERING && recovered(s, p, now_ms);
}

/* A refusal counts only with fast_fail; otherwise it is a plain failure. */
static int refused(const store_policy *p, int verdict)
{
    return verdict == VERDICT_REFUSED && p->fast_fail;
}

/* A busy store is given at least what a failing one is. */
static long long busy_grace(const store_policy *p)
{
    return p->busy_grace_ms > p->fail_grace_ms ? p->busy_grace_ms : p->fail_grace_ms;
}

int store_sm_feed(store_sm *s, const store_policy *p, int verdict, int caught_up,
                  long long now_ms, buf *why)
{
    int ok = verdict == VERDICT_GOOD;
    int busy = verdict == VERDICT_BUSY;
    int refusal = refused(p, verdict);
    if (!refusal)
        s->first_refused_ms = -1;
    /* A run of hard failures is broken by any sign of life. */
    if (ok || busy)
        s->first_hard_ms = -1;
    else if (s->first_hard_ms < 0)
        s->first_hard_ms = now_ms;
    switch (s->state) {
    case ST_STARTING:
    case ST_UP:
        if (ok) {
            if (s->state == ST_STARTING) {
                buf_printf(why, "first probe good");
                return go(s, ST_UP, now_ms);
            }
            return 0;
        }
        s->first_bad_ms = now_ms;
        if (refusal) {
            s->first_refused_ms = now_ms;
            if (p->refused_confirm_ms <= 0) {
                buf_printf(why, "connection refused: nothing listens");
                return go(s, ST_DOWN, now_ms);
            }
            buf_printf(why, "connection refused; down if still refused after %lld ms", p->refused_confirm_ms);
            return go(s, ST_SUSPECT, now_ms);
        }
        if (busy) {
            buf_printf(why, "store busy (greeted, probe unfinished); down if not good for %lld ms",
                       busy_grace(p));
            return go(s, ST_SUSPECT, now_ms);
        }
        if (p->fail_grace_ms <= 0) {
            buf_printf(why, "probe failed (no grace)");
            return go(s, ST_DOWN, now_ms);
        }
        buf_printf(why, "probe failed; down after %lld ms more", p->fail_grace_ms);
        return go(s, ST_SUSPECT, now_ms);
    case ST_SUSPECT:
        if (ok) {
            buf_printf(why, "probe good again after %lld ms", now_ms - s->first_bad_ms);
            return go(s, ST_UP, now_ms);
        }
        if (refusal) {
            if (s->first_refused_ms < 0)
                s->first_refused_ms = now_ms;
            if (now_ms - s->first_refused_ms >= p->refused_confirm_ms) {
                buf_printf(why, "connections refused for %lld ms (confirm %lld ms): nothing listens",
                           now_ms - s->first_refused_ms, p->refused_confirm_ms);
                return go(s, ST_DOWN, now_ms);
            }
        }
        if (s->first_hard_ms >= 0 && now_ms - s->first_hard_ms >= p->fail_grace_ms) {
            buf_printf(why, "probes failed for %lld ms (grace %lld ms)",
                       now_ms - s->first_hard_ms, p->fail_grace_ms);
            return go(s, ST_DOWN, now_ms);
        }
        if (now_ms - s->first_bad_ms >= busy_grace(p)) {
            buf_printf(why, "not good for %lld ms, busy at times (busy grace %lld ms)",
                       now_ms - s->first_bad_ms, busy_grace(p));
            return go(s, ST_DOWN, now_ms);
        }
        return 0;
    case ST_DOWN:
        if (!ok)
            return 0;
        s->good = 1;
        s->first_good_ms = now_ms;
        if (recovered(s, p, now_ms) && caught_up) {
            buf_printf(why, "probe good and caught up");
            return go(s, ST_UP, now_ms);
        }
        buf_printf(why, "probe good; up after %d good probes over %lld ms%s",
                   p->recover_probes, p->recover_grace_ms, " and the catch-up check");
        return go(s, ST_RECOVERING, now_ms);
    case ST_RECOVERING:
        if (!ok) {
            s->first_bad_ms = now_ms;
            buf_printf(why, "probe failed while recovering (%d good before)", s->good);
            s->good = 0;
            return go(s, ST_DOWN, now_ms);
        }
        s->good++;
        if (recovered(s, p, now_ms) && caught_up) {
            buf_printf(why, "%d good probes over %lld ms and caught up",
                       s->good, now_ms - s->first_good_ms);
            return go(s, ST_UP, now_ms);
        }
        return 0;
    }
    return 0;
}

int store_serves(store_state s)
{
    return s == ST_UP || s == ST_SUSPECT || s == ST_STARTING;
}

int pair_decide(store_state primary, store_state secondary, int active, buf *why)
{
    store_state st[2] = {primary, secondary};
    const char *name[2] = {"primary", "secondary"};
    int other = !active;
    if (store_serves(st[active])) {
        if (active == 1 && primary == ST_UP) {
            buf_printf(why, "primary is up and caught up again");
            return 0;
        }
        return active;
    }
    if (store_serves(st[other])) {
        buf_printf(why, "%s is %s, %s is %s", name[active], store_state_name(st[active]),
                   name[other], store_state_name(st[other]));
        return other;
    }
    if (st[active] == ST_DOWN && st[other] == ST_RECOVERING) {
        buf_printf(why, "%s is down, %s answers but is not caught up: a live store beats a dead one",
                   name[active], name[other]);
        return other;
    }
    return active;
}
