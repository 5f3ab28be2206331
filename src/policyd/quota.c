/* quota: see quota.h. */
#include "quota.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct cache_entry {
    int status;
    int64_t expires;
} cache_entry;

struct quota_job {
    quota_checker *qc;
    quota_result_fn cb;
    void *arg;
    int cancelled;
    size_t pending;         /* lookups not answered + 1 while starting */
    int is_alias;
    int truncated;
    char *recipient;
    char *over;             /* first mailbox over quota */
    char *unknown;          /* first mailbox nobody answered for */
    size_t n, n_unknown;
};

typedef struct lookup_arg {
    quota_job *job;
    char *mailbox;
    char *cache_key;
} lookup_arg;

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

void quota_checker_init(quota_checker *qc, const config *cfg, quota_lookup_fn lookup, void *ctx)
{
    memset(qc, 0, sizeof(*qc));
    qc->cfg = cfg;
    qc->lookup = lookup;
    qc->lookup_ctx = ctx;
    qc->now = wall_now;
    strmap_init(&qc->cache, free);
}

void quota_checker_free(quota_checker *qc)
{
    strmap_free(&qc->cache);
}

static int size_class(unsigned long long size)
{
    int c = 0;
    while (size > 1) {
        size = (size + 1) / 2;
        c++;
    }
    return c;
}

static void finish(quota_job *j)
{
    if (!j->cancelled) {
        decision d;
        decision_init(&d);
        buf action = BUF_INIT;
        if (j->over) {
            if (j->is_alias)
                buf_printf(&action, "552 5.2.2 <%s>: the mailbox of a member of this list is full", j->recipient);
            else
                buf_printf(&action, "552 5.2.2 <%s>: Mailbox full", j->recipient);
            decision_set(&d, action.data, "quota: %s over quota", j->over);
        } else if (j->unknown) {
            decision_set(&d, j->qc->cfg->quota.default_action,
                         "quota: no store answered for %s (%zu of %zu mailboxes unknown)",
                         j->unknown, j->n_unknown, j->n);
        } else {
            decision_set(&d, "DUNNO", "quota: %zu mailbox%s with room%s", j->n, j->n == 1 ? "" : "es",
                         j->truncated ? " (list truncated)" : "");
        }
        j->cb(j->arg, &d);
        buf_free(&action);
        decision_free(&d);
    }
    free(j->recipient);
    free(j->over);
    free(j->unknown);
    free(j);
}

static void record(quota_job *j, const char *mailbox, quota_status st)
{
    if (st == QS_OVER && !j->over)
        j->over = xstrdup(mailbox);
    if (st == QS_UNKNOWN) {
        j->n_unknown++;
        if (!j->unknown)
            j->unknown = xstrdup(mailbox);
    }
}

static void cache_put(quota_checker *qc, const char *key, quota_status st)
{
    if (key == NULL || qc->cfg->quota.cache_ttl <= 0 || st == QS_UNKNOWN)
        return;
    if ((long)qc->cache.count >= qc->cfg->quota.cache_max) {
        /* drop what has expired; if that frees nothing, start afresh */
        int64_t now = qc->now();
        size_t i = 0, before = qc->cache.count;
        const char *k;
        void *v;
        while (strmap_next(&qc->cache, &i, &k, &v))
            if (((cache_entry *)v)->expires <= now)
                strmap_del(&qc->cache, k);
        if (qc->cache.count == before)
            strmap_clear(&qc->cache);
    }
    cache_entry *e = xmalloc(sizeof(*e));
    e->status = st;
    e->expires = qc->now() + qc->cfg->quota.cache_ttl;
    strmap_put(&qc->cache, key, e);
}

static void lookup_done(void *p, quota_status st, const char *detail)
{
    (void)detail;
    lookup_arg *la = p;
    quota_job *j = la->job;
    cache_put(j->qc, la->cache_key, st);
    record(j, la->mailbox, st);
    free(la->mailbox);
    free(la->cache_key);
    free(la);
    if (--j->pending == 0)
        finish(j);
}

quota_job *quota_check(quota_checker *qc, const table *t, const char *recipient,
                       unsigned long long size, quota_result_fn cb, void *arg)
{
    quota_job *j = xcalloc(1, sizeof(*j));
    j->qc = qc;
    j->cb = cb;
    j->arg = arg;
    j->pending = 1;
    buf key = BUF_INIT;
    address_key(recipient, 0, &key);
    j->recipient = buf_steal(&key);
    str_list boxes = {0};
    j->n = table_expand(t, recipient, (size_t)qc->cfg->quota.max_members, &boxes, &j->truncated);
    address_key(recipient, 1, &key);
    j->is_alias = table_is_alias(t, j->recipient) || table_is_alias(t, key.data);
    int64_t now = qc->now();
    for (size_t i = 0; i < boxes.n; i++) {
        buf_reset(&key);
        buf_printf(&key, "%s|%d", boxes.items[i], size_class(size));
        /* The cache is for list expansions (many lookups per RCPT); a
         * mailbox recipient costs one lookup and is always asked afresh,
         * so a mailbox that just filled up is refused at once. */
        cache_entry *e = j->is_alias ? strmap_get(&qc->cache, key.data) : NULL;
        if (e && e->expires > now) {
            qc->hits++;
            record(j, boxes.items[i], (quota_status)e->status);
            continue;
        }
        qc->misses++;
        const char *pair = table_pair(t, boxes.items[i]);
        lookup_arg *la = xmalloc(sizeof(*la));
        la->job = j;
        la->mailbox = xstrdup(boxes.items[i]);
        la->cache_key = j->is_alias ? xstrdup(key.data) : NULL;
        j->pending++;
        qc->lookup(qc->lookup_ctx, boxes.items[i], pair ? pair : "", size, lookup_done, la);
    }
    for (size_t i = 0; i < boxes.n; i++)
        free(boxes.items[i]);
    free(boxes.items);
    buf_free(&key);
    if (--j->pending == 0) {
        if (j->n == 0 && !j->cancelled) {
            decision d;
            decision_init(&d);
            decision_set(&d, "DUNNO", "quota: not a local mailbox");
            j->cb(j->arg, &d);
            decision_free(&d);
            j->cancelled = 1;
        }
        finish(j);
        return NULL;
    }
    return j;
}

void quota_job_cancel(quota_job *j)
{
    if (j)
        j->cancelled = 1;
}
