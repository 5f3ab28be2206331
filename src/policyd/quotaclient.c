/* quotaclient: see quotaclient.h. */
#include "quotaclient.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DOWN_SECONDS 10
#define ANSWER_MAX 4096

struct quota_client {
    struct event_base *base;
    const config *cfg;
    time_t *down_until;     /* per pair, per store: npairs * STORE_PAIR_MAX */
    void (*log_fn)(const char *msg);
};

typedef struct qlookup {
    quota_client *qc;
    const store_pair *pair;
    size_t pair_index;
    int order[STORE_PAIR_MAX];
    size_t tried;
    char *mailbox;
    unsigned long long size;
    quota_done_fn done;
    void *arg;
    struct bufferevent *bev;
    size_t current;
} qlookup;

quota_client *quota_client_new(struct event_base *base, const config *cfg,
                               void (*log_fn)(const char *msg))
{
    quota_client *qc = xcalloc(1, sizeof(*qc));
    qc->base = base;
    qc->cfg = cfg;
    qc->log_fn = log_fn;
    qc->down_until = xcalloc(cfg->quota.npairs * STORE_PAIR_MAX + 1, sizeof(time_t));
    return qc;
}

void quota_client_free(quota_client *qc)
{
    if (!qc)
        return;
    free(qc->down_until);
    free(qc);
}

quota_status quota_parse_answer(const char *action)
{
    if (strncmp(action, "552", 3) == 0 || strstr(action, "5.2.2"))
        return QS_OVER;
    if (strcasecmp(action, "DUNNO") == 0 || strncasecmp(action, "OK", 2) == 0 ||
        strncasecmp(action, "DUNNO ", 6) == 0)
        return QS_OK;
    return QS_UNKNOWN;
}

static void try_next(qlookup *l);

static void finish(qlookup *l, quota_status st, const char *detail)
{
    if (l->bev)
        bufferevent_free(l->bev);
    l->done(l->arg, st, detail);
    free(l->mailbox);
    free(l);
}

/* Our own resources failed, not the store: no store is marked down, the
 * mailbox is unknown (quota.default_action), one log line. */
static void local_failure(qlookup *l, const char *why)
{
    if (l->qc->log_fn) {
        buf m = BUF_INIT;
        buf_printf(&m, "quota-status for %s (pair %s): %s", l->mailbox, l->pair->name, why);
        l->qc->log_fn(m.data);
        buf_free(&m);
    }
    finish(l, QS_UNKNOWN, why);
}

static void store_failed(qlookup *l, const char *why)
{
    quota_client *qc = l->qc;
    size_t ai = l->order[l->current];
    time_t now = time(NULL);
    time_t *down = &qc->down_until[l->pair_index * STORE_PAIR_MAX + ai];
    int was_up = *down <= now;
    *down = now + DOWN_SECONDS;
    if (qc->log_fn && was_up) {     /* once per outage window, not per question */
        buf m = BUF_INIT;
        buf_printf(&m, "quota-status %s (pair %s) for %s: %s; trying it last for %d s", l->pair->addr[ai].text,
                   l->pair->name, l->mailbox, why, DOWN_SECONDS);
        qc->log_fn(m.data);
        buf_free(&m);
    }
    if (l->bev) {
        bufferevent_free(l->bev);
        l->bev = NULL;
    }
    try_next(l);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    qlookup *l = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t n;
        char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
        if (!line) {
            if (evbuffer_get_length(in) > ANSWER_MAX)
                store_failed(l, "answer too long");
            return;
        }
        if (strncmp(line, "action=", 7) == 0) {
            quota_status st = quota_parse_answer(line + 7);
            if (st == QS_UNKNOWN) {
                buf why = BUF_INIT;
                buf_append_str(&why, "answered ");
                sanitize_append(&why, line, 200);
                free(line);
                store_failed(l, why.data);
                buf_free(&why);
                return;
            }
            free(line);
            finish(l, st, "");
            return;
        }
        free(line);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    qlookup *l = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_TIMEOUT)
        store_failed(l, "timed out");
    else if (what & BEV_EVENT_EOF)
        store_failed(l, "closed the connection without an answer");
    else
        store_failed(l, "connection failed");
}

static void try_next(qlookup *l)
{
    if (l->tried >= l->pair->n) {
        finish(l, QS_UNKNOWN, "no store answered");
        return;
    }
    l->current = l->tried++;
    const store_addr *a = &l->pair->addr[l->order[l->current]];
    l->bev = bufferevent_socket_new(l->qc->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (l->bev == NULL) {
        local_failure(l, "cannot allocate a connection");
        return;
    }
    long ms = l->qc->cfg->quota.timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    bufferevent_set_timeouts(l->bev, &tv, &tv);
    bufferevent_setcb(l->bev, on_read, NULL, on_event, l);
    buf req = BUF_INIT;
    buf_printf(&req, "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
               "recipient=%s\nsize=%llu\n\n", l->mailbox, l->size);
    int queued = bufferevent_enable(l->bev, EV_READ | EV_WRITE) == 0 &&
                 bufferevent_write(l->bev, req.data, req.len) == 0;
    buf_free(&req);
    if (!queued) {
        local_failure(l, "cannot queue the question");
        return;
    }
    if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&a->sa, (int)a->salen) < 0) {
        /* the bufferevent is freed by store_failed; the error event may not come */
        store_failed(l, "cannot connect");
    }
}

void quota_client_lookup(void *ctx, const char *mailbox, const char *pair,
                         unsigned long long size, quota_done_fn done, void *arg)
{
    quota_client *qc = ctx;
    const store_pair *sp = NULL;
    size_t pi = 0;
    for (size_t i = 0; i < qc->cfg->quota.npairs; i++)
        if (strcmp(qc->cfg->quota.pairs[i].name, pair) == 0) {
            sp = &qc->cfg->quota.pairs[i];
            pi = i;
        }
    if (!sp) {
        if (qc->log_fn) {
            buf m = BUF_INIT;
            buf_printf(&m, "quota: mailbox %s is in store pair \"%s\", which the configuration does not list",
                       mailbox, pair);
            qc->log_fn(m.data);
            buf_free(&m);
        }
        done(arg, QS_UNKNOWN, "unknown store pair");
        return;
    }
    qlookup *l = xcalloc(1, sizeof(*l));
    l->qc = qc;
    l->pair = sp;
    l->pair_index = pi;
    l->mailbox = xstrdup(mailbox);
    l->size = size;
    l->done = done;
    l->arg = arg;
    /* stores that failed lately go last */
    time_t now = time(NULL);
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sp->n; i++) {
            int down = qc->down_until[pi * STORE_PAIR_MAX + i] > now;
            if (down == pass)
                l->order[k++] = (int)i;
        }
    try_next(l);
}
