/* engine: see engine.h. */
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "greylist.h"
#include "listpolicy.h"
#include "ratelimit.h"

enum { ST_LIST, ST_RATELIMIT, ST_SPF, ST_QUOTA, ST_GREYLIST, ST_FINAL };

struct eval {
    engine *e;
    session *s;
    const request *r;
    engine_done_fn done;
    void *arg;
    int stage;
    int waiting;            /* an async step is out */
    int in_run;             /* run() is on the stack */
    int quota_ready;
    quota_job *qjob;
    spf_job *sjob;
    decision d;             /* the step's decision */
    buf reasons;
    buf prepend;            /* header to prepend if nothing refuses */
};

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

static void default_spf_check(engine *e, const char *ip, const char *helo, const char *sender,
                              spf_result_fn cb, void *arg, void **job)
{
    if (!e->spf) {
        spf_answer a;
        spf_answer_init(&a);
        spf_answer_set(&a, "temperror", "", "no SPF helper");
        *job = NULL;
        cb(arg, &a);
        spf_answer_free(&a);
        return;
    }
    *job = spf_client_check(e->spf, ip, helo, sender, cb, arg);
}

void engine_init(engine *e, const config *cfg, table *t, store *s, quota_lookup_fn lookup, void *lookup_ctx)
{
    memset(e, 0, sizeof(*e));
    e->cfg = cfg;
    e->table = t;
    e->store = s;
    e->now = wall_now;
    e->spf_check = default_spf_check;
    quota_checker_init(&e->quota, cfg, lookup, lookup_ctx);
}

void engine_free(engine *e)
{
    quota_checker_free(&e->quota);
}

void session_init(session *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->instance);
    spf_answer_init(&s->spf);
}

void session_free(session *s)
{
    buf_free(&s->instance);
    spf_answer_free(&s->spf);
}

/* A policy's answer (v->d): into the log reason and the counters. */
static void add_reason(eval *v, enum stats_policy policy)
{
    stats_policy_answer(v->e->stats, policy, buf_cstr(&v->d.action));
    if (v->reasons.len)
        buf_append_str(&v->reasons, "; ");
    buf_append_str(&v->reasons, buf_cstr(&v->d.reason));
}

static void eval_free(eval *v)
{
    decision_free(&v->d);
    buf_free(&v->reasons);
    buf_free(&v->prepend);
    free(v);
}

static void complete(eval *v, const char *action)
{
    decision out;
    decision_init(&out);
    decision_set(&out, action, "%s", buf_cstr(&v->reasons));
    if (!decision_is_dunno(&out) && strncmp(action, "PREPEND", 7) != 0) {
        if (action[0] == '5')
            v->e->rejected++;
        else
            v->e->deferred++;
    }
    v->done(v->arg, &out);
    decision_free(&out);
}

static int run(eval *v);

static void quota_done(void *arg, const decision *d)
{
    eval *v = arg;
    v->qjob = NULL;
    decision_set(&v->d, buf_cstr((buf *)&d->action), "%s", buf_cstr((buf *)&d->reason));
    v->quota_ready = 1;
    v->waiting = 0;
    if (!v->in_run)
        run(v);
}

static void spf_done(void *arg, const spf_answer *a)
{
    eval *v = arg;
    v->sjob = NULL;
    v->s->spf_done = 1;
    spf_answer_set(&v->s->spf, a->result, buf_cstr((buf *)&a->header_comment), buf_cstr((buf *)&a->comment));
    v->waiting = 0;
    if (!v->in_run)
        run(v);
}

/* Runs steps until one waits (returns 0) or the evaluation completes
 * (calls done, frees v, returns 1). */
static int run(eval *v)
{
    engine *e = v->e;
    const config *cfg = e->cfg;
    const request *r = v->r;
    int64_t now = e->now();
    v->in_run = 1;
    while (!v->waiting) {
        switch (v->stage) {
        case ST_LIST:
            /* Who may post to a mailing list (U4): first, it needs no
             * counter and no lookup. */
            if (listpolicy_check(e->table, r, &v->d) == 1) {
                add_reason(v, STATS_LIST);
                complete(v, v->d.action.data);
                goto finished;
            }
            add_reason(v, STATS_LIST);
            v->stage = ST_RATELIMIT;
            break;
        case ST_RATELIMIT:
            if (ratelimit_check(cfg, e->table, e->store, r, now, v->s->rcpts, &v->d) == 1) {
                add_reason(v, STATS_RATELIMIT);
                complete(v, v->d.action.data);
                goto finished;
            }
            add_reason(v, STATS_RATELIMIT);
            v->stage = ST_SPF;
            break;
        case ST_SPF: {
            const char *skip = spf_skip_reason(cfg, r);
            if (skip) {
                decision_set(&v->d, "DUNNO", "%s", skip);
                add_reason(v, STATS_SPF);
                v->stage = ST_QUOTA;
                break;
            }
            if (!v->s->spf_done) {
                v->waiting = 1;
                void *job = NULL;
                e->spf_check(e, request_get(r, "client_address"), request_get(r, "helo_name"),
                             request_get(r, "sender"), spf_done, v, &job);
                if (v->waiting)
                    v->sjob = job;
                break;
            }
            spf_decide(cfg, r, &v->s->spf, &v->d);
            add_reason(v, STATS_SPF);
            if (strncmp(v->d.action.data, "PREPEND ", 8) == 0) {
                if (!v->s->spf_header_sent)
                    buf_append_str(&v->prepend, v->d.action.data);
            } else if (!decision_is_dunno(&v->d)) {
                complete(v, v->d.action.data);
                goto finished;
            }
            v->stage = ST_QUOTA;
            break;
        }
        case ST_QUOTA:
            if (!cfg->quota.enabled || !*request_get(r, "recipient")) {
                stats_policy_answer(e->stats, STATS_QUOTA, "DUNNO");
                v->stage = ST_GREYLIST;
                break;
            }
            if (!v->quota_ready) {
                v->waiting = 1;
                unsigned long long size = strtoull(request_get(r, "size"), NULL, 10);
                quota_job *j = quota_check(&e->quota, e->table, request_get(r, "recipient"),
                                           size, quota_done, v);
                if (v->waiting)
                    v->qjob = j;
                break;
            }
            add_reason(v, STATS_QUOTA);
            if (!decision_is_dunno(&v->d)) {
                complete(v, v->d.action.data);
                goto finished;
            }
            v->stage = ST_GREYLIST;
            break;
        case ST_GREYLIST:
            if (greylist_check(cfg, e->store, r, now, &v->d) == 1) {
                add_reason(v, STATS_GREYLIST);
                complete(v, v->d.action.data);
                goto finished;
            }
            add_reason(v, STATS_GREYLIST);
            v->stage = ST_FINAL;
            break;
        default:
            v->s->rcpts++;
            if (v->prepend.len) {
                v->s->spf_header_sent = 1;
                complete(v, v->prepend.data);
            } else {
                complete(v, "DUNNO");
            }
            goto finished;
        }
    }
    v->in_run = 0;
    return 0;
finished:
    eval_free(v);
    return 1;
}

static void new_transaction(session *s, const request *r)
{
    const char *inst = request_get(r, "instance");
    if (s->instance.len && strcmp(s->instance.data, inst) == 0)
        return;
    buf_reset(&s->instance);
    buf_append_str(&s->instance, inst);
    s->rcpts = 0;
    s->spf_done = 0;
    s->spf_header_sent = 0;
}

eval *engine_eval(engine *e, session *sess, const request *r, engine_done_fn done, void *arg)
{
    e->requests++;
    const char *state = request_get(r, "protocol_state");
    if (strcmp(state, "RCPT") != 0) {
        decision d;
        decision_init(&d);
        if (strcmp(state, "END-OF-MESSAGE") == 0) {
            if (ratelimit_record(e->cfg, e->store, r, e->now()) != 0)
                decision_set(&d, "DUNNO", "ratelimit: could not count the message: %s", store_error(e->store));
            else
                decision_set(&d, "DUNNO", "ratelimit: message counted");
            buf_reset(&sess->instance);     /* the next message starts afresh */
        } else {
            decision_set(&d, "DUNNO", "nothing to check at %s", *state ? state : "an unknown state");
        }
        done(arg, &d);
        decision_free(&d);
        return NULL;
    }
    new_transaction(sess, r);
    eval *v = xcalloc(1, sizeof(*v));
    v->e = e;
    v->s = sess;
    v->r = r;
    v->done = done;
    v->arg = arg;
    decision_init(&v->d);
    buf_init(&v->reasons);
    buf_init(&v->prepend);
    v->stage = ST_LIST;
    return run(v) ? NULL : v;
}

void eval_set_done(eval *v, engine_done_fn fn)
{
    v->done = fn;
}

void eval_cancel(eval *v)
{
    if (!v)
        return;
    quota_job_cancel(v->qjob);
    spf_job_cancel(v->sjob);
    eval_free(v);
}
