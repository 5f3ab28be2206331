/* cmd_trace: a message's timeline from every host's logs; see cmd_trace.h.
 *
 * Every Postfix queue id of a host is a "unit" (so is a refusal before
 * any queue id, and a line no queue id names). Units are joined with a
 * union-find: a reinjection names the queue id it came from
 * (orig_queue_id), a delivery answered "queued as NEWID" names the next
 * one (the filter's reinjection on this host, or the next host's MTA),
 * amavisd names both, Dovecot's lines are joined by the LMTP session id
 * the delivering Postfix logged (else by Message-ID), and policyd's RCPT
 * decisions (before there is a queue id) by sender, recipient and time.
 * A message is one set of joined units. */
#include "cmd_trace.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "maillog.h"

/* A query longer than any Message-ID or address a mail system keeps (RFC 5322's line limit). */
#define QUERY_MAX 998

struct trace_event {
    struct maillog_event ev;
    size_t host;                /* index into trace.hosts */
    size_t seq;                 /* order read: ties in time keep the log's order */
    size_t unit;
    size_t next_host;           /* HANDED: where next_queue_id was found; SIZE_MAX if not */
    size_t hop;                 /* the hop of its unit: 0 the first queue id, 1 the next... */
};

/* "HOST\tQUEUEID" (or any string key) -> unit, open addressing. */
struct key_map {
    char **keys;
    size_t *values;
    size_t cap, n;
};

struct trace {
    char **hosts;
    size_t n_hosts;
    struct trace_event *events;
    size_t n_events, cap_events;
    size_t *parent;             /* union-find over units */
    size_t *hop;                /* per unit: how many queue ids came before it */
    size_t n_units, cap_units;
    struct key_map unit_of_queue_id;   /* "HOST\tQID" */
    struct key_map unit_of_session;    /* Dovecot LMTP session id (from Postfix's LMTP reply) */
    struct key_map unit_of_message_id; /* the last unit seen with the Message-ID */
};

/* ---- a small string map ----------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;       /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t *map_slot(struct key_map *m, const char *key, int create)
{
    if (create && (m->n + 1) * 2 > m->cap) {
        struct key_map bigger = {0};
        bigger.cap = m->cap ? m->cap * 2 : 256;
        bigger.keys = xcalloc(bigger.cap, sizeof *bigger.keys);
        bigger.values = xcalloc(bigger.cap, sizeof *bigger.values);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = hash_str(m->keys[i]) & (bigger.cap - 1);
                while (bigger.keys[j])
                    j = (j + 1) & (bigger.cap - 1);
                bigger.keys[j] = m->keys[i];
                bigger.values[j] = m->values[i];
            }
        bigger.n = m->n;
        free(m->keys);
        free(m->values);
        *m = bigger;
    }
    if (m->cap == 0)
        return NULL;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == NULL) {
        if (!create)
            return NULL;
        m->keys[i] = xstrdup(key);
        m->n++;
    }
    return &m->values[i];
}

static void map_free(struct key_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->values);
}

/* ---- units ------------------------------------------------------------------- */

static size_t new_unit(struct trace *t)
{
    if (t->n_units == t->cap_units) {
        t->cap_units = t->cap_units ? t->cap_units * 2 : 256;
        t->parent = xrealloc(t->parent, t->cap_units * sizeof *t->parent);
        t->hop = xrealloc(t->hop, t->cap_units * sizeof *t->hop);
    }
    t->parent[t->n_units] = t->n_units;
    t->hop[t->n_units] = 0;
    return t->n_units++;
}

static size_t find_root(struct trace *t, size_t u)
{
    while (t->parent[u] != u) {
        t->parent[u] = t->parent[t->parent[u]];
        u = t->parent[u];
    }
    return u;
}

/* The next hop's unit comes after from's. */
static void follows(struct trace *t, size_t next, size_t from)
{
    if (t->hop[next] < t->hop[from] + 1)
        t->hop[next] = t->hop[from] + 1;
}

static void join(struct trace *t, size_t a, size_t b)
{
    a = find_root(t, a);
    b = find_root(t, b);
    if (a != b)
        t->parent[a > b ? a : b] = a < b ? a : b;
}

static char *queue_key(const struct trace *t, size_t host, const char *queue_id)
{
    return xasprintf("%s\t%s", t->hosts[host], queue_id);
}

/* The unit of HOST's queue id; created if create, else SIZE_MAX when unknown. */
static size_t unit_of_queue_id(struct trace *t, size_t host, const char *queue_id, int create)
{
    char *key = queue_key(t, host, queue_id);
    size_t *slot = map_slot(&t->unit_of_queue_id, key, 0);
    size_t unit = slot ? *slot : SIZE_MAX;
    if (slot == NULL && create) {
        unit = new_unit(t);
        *map_slot(&t->unit_of_queue_id, key, 1) = unit;
    }
    free(key);
    return unit;
}

/* ---- reading the logs ----------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (sorted), without dot files; -1 if it cannot be read. */
static int list_dir(const char *dir, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    *names = NULL;
    *n = 0;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = xrealloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof **names, by_name);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void add_event(struct trace *t, size_t host, struct maillog_event *ev)
{
    if (t->n_events == t->cap_events) {
        t->cap_events = t->cap_events ? t->cap_events * 2 : 1024;
        t->events = xrealloc(t->events, t->cap_events * sizeof *t->events);
    }
    struct trace_event *te = &t->events[t->n_events];
    te->ev = *ev;
    te->host = host;
    te->seq = t->n_events;
    te->unit = SIZE_MAX;
    te->next_host = SIZE_MAX;
    t->n_events++;
}

/* One log file, line by line; a line longer than MAILLOG_LINE_MAX is
 * skipped whole (read in pieces, never held). */
static int read_log(struct trace *t, size_t host, const char *path, enum maillog_format format, time_t now)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    char *line = xmalloc(MAILLOG_LINE_MAX + 2);
    int too_long = 0;
    while (fgets(line, MAILLOG_LINE_MAX + 2, f) != NULL) {
        size_t len = strlen(line);
        int complete = len > 0 && line[len - 1] == '\n';
        if (too_long || (!complete && len > MAILLOG_LINE_MAX)) {
            too_long = !complete;       /* until the end of that line */
            continue;
        }
        struct maillog_event ev;
        if (maillog_parse_line(format, line, len, now, &ev) == 1)
            add_event(t, host, &ev);
    }
    int failed = ferror(f);
    free(line);
    fclose(f);
    return failed ? -1 : 0;
}

static int read_logs(struct trace *t, const char *logs, const char *only_host, time_t now)
{
    char **hosts;
    size_t n_hosts;
    if (list_dir(logs, &hosts, &n_hosts) != 0) {
        fprintf(stderr, "emailng: trace: cannot read the logs in %s: %s\n", logs, strerror(errno));
        return -1;
    }
    t->hosts = xcalloc(n_hosts + 1, sizeof *t->hosts);
    for (size_t h = 0; h < n_hosts; h++) {
        char *dir = xasprintf("%s/%s", logs, hosts[h]);
        char **files;
        size_t n_files;
        if ((only_host == NULL || strcmp(only_host, hosts[h]) == 0) && list_dir(dir, &files, &n_files) == 0) {
            size_t host = t->n_hosts++;
            t->hosts[host] = xstrdup(hosts[h]);
            for (size_t i = 0; i < n_files; i++) {
                int format = maillog_format_of_file(files[i]);
                char *path = xasprintf("%s/%s", dir, files[i]);
                if (format >= 0 && read_log(t, host, path, (enum maillog_format)format, now) != 0)
                    fprintf(stderr, "emailng: trace: warning: cannot read %s: %s\n", path, strerror(errno));
                free(path);
            }
            free_names(files, n_files);
        }
        free(dir);
    }
    free_names(hosts, n_hosts);
    return 0;
}

/* ---- joining the events into messages ------------------------------------------- */

static int by_time(const void *a, const void *b)
{
    const struct trace_event *x = a, *y = b;
    if (x->ev.when != y->ev.when)
        return x->ev.when < y->ev.when ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Within one hop and one second (Postfix logs whole seconds, and each
 * daemon's file is read in turn), the order in which things happen. */
static int stage_rank(const struct maillog_event *ev)
{
    switch (ev->kind) {
    case MAILLOG_POLICY: return ev->stage && strcmp(ev->stage, "RCPT") == 0 ? 10 : 30;
    case MAILLOG_ACCEPTED: return 20;
    case MAILLOG_MESSAGE_ID:
    case MAILLOG_QUEUED: return 25;
    case MAILLOG_REFUSED: return 35;
    case MAILLOG_SCANNED: return 40;
    case MAILLOG_DEFERRED: return 45;
    case MAILLOG_PROXIED: return 60;
    default: return strncmp(ev->daemon, "dovecot", 7) == 0 ? 70 : 50;
    }
}

/* A message's events: hop by hop, in time order within a hop. */
static int by_hop(const void *a, const void *b)
{
    const struct trace_event *x = *(const struct trace_event *const *)a, *y = *(const struct trace_event *const *)b;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    if (x->hop != y->hop)
        return x->hop < y->hop ? -1 : 1;
    if (x->ev.when != y->ev.when)
        return x->ev.when < y->ev.when ? -1 : 1;
    int rx = stage_rank(&x->ev), ry = stage_rank(&y->ev);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int is_postfix(const struct trace_event *e)
{
    return strncmp(e->ev.daemon, "postfix", 7) == 0;
}

/* A unit for every event that a queue id names; the links between them. */
static void join_queue_ids(struct trace *t)
{
    for (size_t i = 0; i < t->n_events; i++) {
        struct trace_event *e = &t->events[i];
        if (e->ev.queue_id && e->ev.queue_id[0])
            e->unit = unit_of_queue_id(t, e->host, e->ev.queue_id, 1);
    }
    for (size_t i = 0; i < t->n_events; i++) {
        struct trace_event *e = &t->events[i];
        if (e->unit == SIZE_MAX)
            continue;
        if (e->ev.orig_queue_id) {
            size_t from = unit_of_queue_id(t, e->host, e->ev.orig_queue_id, 0);
            if (from != SIZE_MAX) {
                join(t, e->unit, from);
                follows(t, e->unit, from);
            }
        }
        if (e->ev.next_queue_id) {
            /* the filter's reinjection is on this host; the next MTA on another */
            size_t next = unit_of_queue_id(t, e->host, e->ev.next_queue_id, 0);
            size_t next_host = e->host;
            for (size_t h = 0; next == SIZE_MAX && h < t->n_hosts; h++)
                if (h != e->host && (next = unit_of_queue_id(t, h, e->ev.next_queue_id, 0)) != SIZE_MAX)
                    next_host = h;
            if (next != SIZE_MAX) {
                join(t, e->unit, next);
                follows(t, next, e->unit);
                e->next_host = next_host;
            }
        }
        if (is_postfix(e) && e->ev.session && e->ev.kind == MAILLOG_DELIVERED)
            *map_slot(&t->unit_of_session, e->ev.session, 1) = e->unit;
        if (e->ev.message_id && e->ev.kind == MAILLOG_MESSAGE_ID)
            *map_slot(&t->unit_of_message_id, e->ev.message_id, 1) = e->unit;
    }
}

/* The sender of each joined set of units (Postfix's from=, amavisd's), by root. */
static const char **senders_by_root(struct trace *t)
{
    const char **senders = xcalloc(t->n_units + 1, sizeof *senders);
    for (size_t i = 0; i < t->n_events; i++) {
        const struct trace_event *e = &t->events[i];
        if (e->unit != SIZE_MAX && e->ev.sender && e->ev.kind != MAILLOG_POLICY) {
            size_t root = find_root(t, e->unit);
            if (senders[root] == NULL)
                senders[root] = e->ev.sender;
        }
    }
    return senders;
}

/* Events no queue id names: Dovecot's, refusals before a queue id,
 * policyd's RCPT decisions. Run on events sorted by time. */
static void join_the_rest(struct trace *t)
{
    const char **senders = senders_by_root(t);
    size_t units_with_sender = t->n_units;
    for (size_t i = 0; i < t->n_events; i++) {
        struct trace_event *e = &t->events[i];
        if (e->unit != SIZE_MAX)
            continue;
        size_t *slot = NULL;
        if (strncmp(e->ev.daemon, "dovecot", 7) == 0) {
            /* a proxied delivery's session on the store is the proxy's (the
             * one Postfix logged) with ":P1" added */
            char *session = e->ev.session ? xstrdup(e->ev.session) : NULL;
            if (session && (slot = map_slot(&t->unit_of_session, session, 0)) == NULL) {
                char *colon = strrchr(session, ':');
                if (colon && colon[1] == 'P') {
                    *colon = '\0';
                    slot = map_slot(&t->unit_of_session, session, 0);
                }
            }
            free(session);
            if (slot == NULL && e->ev.message_id)
                slot = map_slot(&t->unit_of_message_id, e->ev.message_id, 0);
        }
        if (slot) {
            e->unit = *slot;
            continue;
        }
        if (e->ev.kind == MAILLOG_POLICY && e->ev.sender && e->ev.recipient) {
            /* the RCPT decision comes just before the queue id's first line (its
             * client= line) on the same host, with the same envelope; policyd's
             * stamps have milliseconds, Postfix's whole seconds */
            size_t j = i;
            while (j > 0 && t->events[j - 1].ev.when >= e->ev.when - 1)
                j--;
            for (; j < t->n_events && t->events[j].ev.when <= e->ev.when + 60; j++) {
                struct trace_event *a = &t->events[j];
                if (a->host == e->host && a->ev.kind == MAILLOG_ACCEPTED && a->ev.orig_queue_id == NULL &&
                    a->unit != SIZE_MAX && a->unit < units_with_sender) {
                    const char *sender = senders[find_root(t, a->unit)];
                    if (sender && strcasecmp(sender, e->ev.sender) == 0) {
                        e->unit = a->unit;
                        break;
                    }
                }
            }
        }
        if (e->unit == SIZE_MAX)
            e->unit = new_unit(t);
    }
    free(senders);
}

/* ---- matching and printing ------------------------------------------------------------ */

static int same(const char *field, const char *query)
{
    return field && strcasecmp(field, query) == 0;
}

/* Message-ID with or without its <>, queue id, sender or recipient. */
static int event_matches(const struct maillog_event *ev, const char *query, const char *bracketed)
{
    return same(ev->message_id, query) || same(ev->message_id, bracketed) || same(ev->queue_id, query) ||
           same(ev->next_queue_id, query) || same(ev->sender, query) || same(ev->recipient, query) ||
           same(ev->orig_recipient, query);
}

/* Shown in the timeline (message-id and qmgr lines only feed the summary). */
static int shown(const struct trace_event *e)
{
    return e->ev.kind != MAILLOG_MESSAGE_ID && e->ev.kind != MAILLOG_QUEUED;
}

static void format_time(time_t when, char *out, size_t size)
{
    struct tm tm;
    if (localtime_r(&when, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
        snprintf(out, size, "%lld", (long long)when);
}

/* One line of words for the text timeline (fields are escaped already). */
static void describe(const struct trace *t, const struct trace_event *e, buf *out)
{
    const struct maillog_event *ev = &e->ev;
    switch (ev->kind) {
    case MAILLOG_ACCEPTED:
        buf_printf(out, "queue id %s, from %s", ev->queue_id, ev->client ? ev->client : "?");
        if (ev->orig_queue_id)
            buf_printf(out, " (back from the filter, was %s)", ev->orig_queue_id);
        break;
    case MAILLOG_REFUSED:
        buf_printf(out, "at %s: %s", ev->stage ? ev->stage : "?", ev->reply ? ev->reply : "");
        break;
    case MAILLOG_POLICY: {
        /* "PREPEND Received-SPF: pass (...long...)": the action's first words */
        const char *action = ev->verdict ? ev->verdict : "?";
        const char *cut = strstr(action, " (");
        buf_printf(out, "%s: %.*s (%s)", ev->stage ? ev->stage : "?", (int)(cut ? cut - action : (long)strlen(action)),
                   action, ev->reply ? ev->reply : "");
        break;
    }
    case MAILLOG_SCANNED:
        buf_printf(out, "%s %s, score %s", ev->detail, ev->verdict, ev->score ? ev->score : "-");
        break;
    case MAILLOG_HANDED:
        buf_printf(out, "%s to <%s> via %s, queued as %s", ev->queue_id, ev->recipient ? ev->recipient : "",
                   ev->relay ? ev->relay : "?", ev->next_queue_id);
        if (e->next_host != SIZE_MAX)
            buf_printf(out, " on %s", t->hosts[e->next_host]);
        break;
    case MAILLOG_DELIVERED:
        if (ev->folder)
            buf_printf(out, "to %s, folder %s (%s)", ev->recipient ? ev->recipient : "?", ev->folder,
                       ev->detail ? ev->detail : "");
        else
            buf_printf(out, "%s to <%s> via %s: %s", ev->queue_id ? ev->queue_id : "",
                       ev->recipient ? ev->recipient : "", ev->relay ? ev->relay : "?", ev->reply ? ev->reply : "");
        break;
    case MAILLOG_DEFERRED:
    case MAILLOG_BOUNCED:
        buf_printf(out, "%s to <%s> via %s: %s", ev->queue_id ? ev->queue_id : "",
                   ev->recipient ? ev->recipient : "", ev->relay ? ev->relay : "none", ev->reply ? ev->reply : "");
        break;
    case MAILLOG_PROXIED:
        buf_printf(out, "<%s> to %s: %s", ev->recipient ? ev->recipient : "", ev->relay ? ev->relay : "?",
                   ev->reply ? ev->reply : "");
        break;
    default:
        buf_printf(out, "%s%s%s", ev->recipient ? ev->recipient : "", ev->recipient ? ": " : "",
                   ev->detail ? ev->detail : ev->reply ? ev->reply : "");
        break;
    }
}

static void json_field(buf *out, const char *name, const char *value)
{
    if (value == NULL)
        return;
    buf_printf(out, ",\"%s\":", name);
    cli_json_string(out, value);
}

static void json_event(const struct trace *t, const struct trace_event *e, buf *out)
{
    const struct maillog_event *ev = &e->ev;
    char when[40];
    format_time(ev->when, when, sizeof when);
    buf_printf(out, "{\"time\":\"%s\"", when);
    json_field(out, "host", t->hosts[e->host]);
    json_field(out, "daemon", ev->daemon);
    json_field(out, "event", maillog_kind_name(ev->kind));
    json_field(out, "queue_id", ev->queue_id);
    json_field(out, "message_id", ev->message_id);
    json_field(out, "sender", ev->sender);
    json_field(out, "recipient", ev->recipient);
    json_field(out, "orig_recipient", ev->orig_recipient);
    json_field(out, "client", ev->client);
    json_field(out, "relay", ev->relay);
    json_field(out, "next_queue_id", ev->next_queue_id);
    if (e->next_host != SIZE_MAX)
        json_field(out, "next_host", t->hosts[e->next_host]);
    json_field(out, "orig_queue_id", ev->orig_queue_id);
    json_field(out, "session", ev->session);
    json_field(out, "folder", ev->folder);
    json_field(out, "stage", ev->stage);
    json_field(out, "dsn", ev->dsn);
    json_field(out, "verdict", ev->verdict);
    json_field(out, "score", ev->score);
    json_field(out, "detail", ev->detail);
    if (ev->kind == MAILLOG_DEFERRED || ev->kind == MAILLOG_BOUNCED || ev->kind == MAILLOG_DISCARDED ||
        ev->kind == MAILLOG_POLICY)
        json_field(out, "reason", ev->reply);
    else
        json_field(out, "reply", ev->reply);
    buf text = BUF_INIT;
    describe(t, e, &text);
    json_field(out, "text", buf_cstr(&text));
    buf_free(&text);
    buf_append_char(out, '}');
}

/* The summary of a message: first Message-ID, the sender, the recipients. */
struct summary {
    const char *message_id, *sender;
    const char **recipients;
    size_t n_recipients;
};

static void summarize(const struct trace_event **events, size_t n, struct summary *s)
{
    memset(s, 0, sizeof *s);
    s->recipients = xcalloc(n + 1, sizeof *s->recipients);
    for (size_t i = 0; i < n; i++) {
        const struct maillog_event *ev = &events[i]->ev;
        if (s->message_id == NULL && ev->message_id)
            s->message_id = ev->message_id;
        if (s->sender == NULL && ev->sender)
            s->sender = ev->sender;
        if (ev->recipient && ev->kind != MAILLOG_PROXIED) {
            int seen = 0;
            for (size_t k = 0; k < s->n_recipients && !seen; k++)
                seen = strcasecmp(s->recipients[k], ev->recipient) == 0;
            if (!seen)
                s->recipients[s->n_recipients++] = ev->recipient;
        }
    }
}

static void print_message(const struct trace *t, const struct trace_event **events, size_t n, int json, buf *out,
                          int first)
{
    struct summary s;
    summarize(events, n, &s);
    if (json) {
        buf_append_str(out, first ? "" : ",");
        buf_append_str(out, "{\"message_id\":");
        cli_json_string(out, s.message_id ? s.message_id : "");
        buf_append_str(out, ",\"sender\":");
        cli_json_string(out, s.sender ? s.sender : "");
        buf_append_str(out, ",\"recipients\":[");
        for (size_t k = 0; k < s.n_recipients; k++) {
            buf_append_str(out, k ? "," : "");
            cli_json_string(out, s.recipients[k]);
        }
        buf_append_str(out, "],\"events\":[");
        size_t shown_n = 0;
        for (size_t i = 0; i < n; i++)
            if (shown(events[i])) {
                buf_append_str(out, shown_n++ ? "," : "");
                json_event(t, events[i], out);
            }
        buf_append_str(out, "]}");
    } else {
        buf_printf(out, "%smessage %s from <%s> to", first ? "" : "\n", s.message_id ? s.message_id : "(no Message-ID)",
                   s.sender ? s.sender : "");
        for (size_t k = 0; k < s.n_recipients; k++)
            buf_printf(out, "%s <%s>", k ? "," : "", s.recipients[k]);
        buf_append_char(out, '\n');
        for (size_t i = 0; i < n; i++) {
            if (!shown(events[i]))
                continue;
            char when[40];
            format_time(events[i]->ev.when, when, sizeof when);
            buf_printf(out, "  %s  %-8s %-24s %-10s ", when, t->hosts[events[i]->host], events[i]->ev.daemon,
                       maillog_kind_name(events[i]->ev.kind));
            describe(t, events[i], out);
            buf_append_char(out, '\n');
        }
    }
    free(s.recipients);
}

/* ---- the command ------------------------------------------------------------------------ */

static int usage(const char *problem, const char *value)
{
    if (value) {
        buf shown_value = BUF_INIT;
        cli_quote(&shown_value, value);
        fprintf(stderr, "emailng: trace: %s %s\n", problem, buf_cstr(&shown_value));
        buf_free(&shown_value);
    } else {
        fprintf(stderr, "emailng: trace: %s\n", problem);
    }
    fputs("usage: emailng trace QUERY [--since TIME] [--until TIME] [--logs DIR] [--json]\n", stderr);
    return EXIT_USAGE;
}

static int check_query(const char *query)
{
    size_t n = strlen(query);
    if (n == 0)
        return usage("an empty query", NULL);
    if (n > QUERY_MAX) {
        buf msg = BUF_INIT;
        buf_printf(&msg, "query too long (%zu bytes; a Message-ID, queue id or address has at most %d):", n,
                   QUERY_MAX);
        int rc = usage(buf_cstr(&msg), query);
        buf_free(&msg);
        return rc;
    }
    for (const unsigned char *p = (const unsigned char *)query; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return usage("the query has a control character:", query);
    return 0;
}

static void trace_free(struct trace *t)
{
    for (size_t i = 0; i < t->n_events; i++)
        maillog_event_free(&t->events[i].ev);
    free(t->events);
    for (size_t h = 0; h < t->n_hosts; h++)
        free(t->hosts[h]);
    free(t->hosts);
    free(t->parent);
    free(t->hop);
    map_free(&t->unit_of_queue_id);
    map_free(&t->unit_of_session);
    map_free(&t->unit_of_message_id);
}

int cmd_trace(const struct options *o, int argc, char **argv)
{
    const char *query = NULL, *logs = NULL, *since_arg = NULL, *until_arg = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--since") == 0   ? &since_arg
                            : strcmp(argv[i], "--until") == 0 ? &until_arg
                            : strcmp(argv[i], "--logs") == 0  ? &logs
                                                              : NULL;
        if (slot) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0')
                return usage("needs a value:", argv[i]);
            *slot = argv[++i];
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return usage("unknown option", argv[i]);
        } else if (query) {
            return usage("one query only; unexpected", argv[i]);
        } else {
            query = argv[i];
        }
    }
    if (query == NULL)
        return usage("what to trace? (a Message-ID, queue id, sender or recipient)", NULL);
    int rc = check_query(query);
    if (rc != 0)
        return rc;
    time_t now = time(NULL);
    time_t since = 0, until = (time_t)INT64_MAX;
    if (since_arg && maillog_parse_time_arg(since_arg, now, &since) != 0)
        return usage("--since: expected YYYY-MM-DD[ HH:MM[:SS]] or a duration such as 30m, 2h, 1d; not", since_arg);
    if (until_arg && maillog_parse_time_arg(until_arg, now, &until) != 0)
        return usage("--until: expected YYYY-MM-DD[ HH:MM[:SS]] or a duration such as 30m, 2h, 1d; not", until_arg);
    if (since > until)
        return usage("--since is after --until", NULL);

    char *state_logs = xasprintf("%s/log", o->state_dir);
    struct trace t = {0};
    if (read_logs(&t, logs ? logs : state_logs, o->host, now) != 0) {
        free(state_logs);
        trace_free(&t);
        return EXIT_FAILED;
    }
    free(state_logs);
    qsort(t.events, t.n_events, sizeof *t.events, by_time);
    join_queue_ids(&t);
    join_the_rest(&t);

    /* the messages: roots of units with an event that matches */
    const struct trace_event **order = xcalloc(t.n_events + 1, sizeof *order);
    for (size_t i = 0; i < t.n_events; i++) {
        t.events[i].hop = t.hop[t.events[i].unit];
        t.events[i].unit = find_root(&t, t.events[i].unit);
        order[i] = &t.events[i];
    }
    qsort(order, t.n_events, sizeof *order, by_hop);
    char *bracketed = xasprintf("<%s>", query);
    buf out = BUF_INIT;
    size_t found = 0;
    /* messages in the order of their first event */
    struct span { size_t from, to; time_t first; } *spans = xcalloc(t.n_events + 1, sizeof *spans);
    size_t n_spans = 0;
    for (size_t i = 0; i < t.n_events;) {
        size_t j = i;
        int matches = 0, in_window = 0;
        for (; j < t.n_events && order[j]->unit == order[i]->unit; j++) {
            matches |= event_matches(&order[j]->ev, query, bracketed);
            in_window |= order[j]->ev.when >= since && order[j]->ev.when <= until && shown(order[j]);
        }
        if (matches && in_window)
            spans[n_spans++] = (struct span){i, j, order[i]->ev.when};
        i = j;
    }
    for (size_t a = 1; a < n_spans; a++)        /* insertion sort by first event: few messages */
        for (size_t b = a; b > 0 && spans[b - 1].first > spans[b].first; b--) {
            struct span tmp = spans[b];
            spans[b] = spans[b - 1];
            spans[b - 1] = tmp;
        }
    if (o->json) {
        buf_append_str(&out, "{\"query\":");
        cli_json_string(&out, query);
        buf_append_str(&out, ",\"messages\":[");
    }
    for (size_t s = 0; s < n_spans; s++)
        print_message(&t, order + spans[s].from, spans[s].to - spans[s].from, o->json, &out, found++ == 0);
    if (o->json)
        buf_append_str(&out, "]}\n");
    if (found) {
        fputs(buf_cstr(&out), stdout);
        rc = fflush(stdout) == 0 ? EXIT_DONE : EXIT_FAILED;
    } else {
        buf shown_query = BUF_INIT;
        cli_quote(&shown_query, query);
        fprintf(stderr, "emailng: trace: no trace of %s in the logs of %zu host%s%s\n", buf_cstr(&shown_query),
                t.n_hosts, t.n_hosts == 1 ? "" : "s", since_arg || until_arg ? " within the time window" : "");
        buf_free(&shown_query);
        rc = EXIT_FAILED;
    }
    buf_free(&out);
    free(spans);
    free(bracketed);
    free(order);
    trace_free(&t);
    return rc;
}
