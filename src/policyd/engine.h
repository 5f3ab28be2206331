/* engine: runs the policies for one request, in order, and combines
 * their answers into the one action Postfix gets.
 *
 * At RCPT: send limits, then SPF (may wait for the helper), then quota
 * (may wait for the stores), then greylisting. The first policy that
 * refuses or defers decides; otherwise a Received-SPF header is
 * prepended (once per message) or the answer is DUNNO. At
 * END-OF-MESSAGE the message is counted for the send limits. Every other
 * state gets DUNNO. The log reason lists what each policy said. */
#ifndef POLICYD_ENGINE_H
#define POLICYD_ENGINE_H

#include <stdint.h>

#include "config.h"
#include "decision.h"
#include "quota.h"
#include "request.h"
#include "spf.h"
#include "spfhelper.h"
#include "stats.h"
#include "store.h"
#include "table.h"

typedef struct engine {
    const config *cfg;
    table *table;
    store *store;
    quota_checker quota;
    spf_client *spf;        /* NULL: SPF checks answer temperror */
    /* replaceable in tests: an SPF check without the helper */
    void (*spf_check)(struct engine *e, const char *ip, const char *helo, const char *sender,
                      spf_result_fn cb, void *arg, void **job);
    int64_t (*now)(void);
    unsigned long requests, deferred, rejected;
    policy_stats *stats;    /* NULL: not counted (stats.h) */
} engine;

/* per connection: what we know about the current message transaction */
typedef struct session {
    buf instance;
    long rcpts;             /* recipients we let through in this transaction */
    int spf_done;
    int spf_header_sent;
    spf_answer spf;
} session;

typedef struct eval eval;
typedef void (*engine_done_fn)(void *arg, const decision *d);

void engine_init(engine *e, const config *cfg, table *t, store *s, quota_lookup_fn lookup, void *lookup_ctx);
void engine_free(engine *e);
void session_init(session *s);
void session_free(session *s);

/* Evaluates r; calls done once (maybe before returning, then NULL is
 * returned). r and sess must stay valid until done or eval_cancel(). */
eval *engine_eval(engine *e, session *sess, const request *r, engine_done_fn done, void *arg);
void eval_cancel(eval *v);
/* Replaces the callback of a waiting evaluation. */
void eval_set_done(eval *v, engine_done_fn fn);

#endif
