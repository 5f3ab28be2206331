/* pull: the relay's tables from the proxies; see pull.h. */
#include "pull.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "daemon.h"
#include "fsutil.h"
#include "msg.h"
#include "policy_table.h"
#include "relay_tables.h"

#define MAX_BUNDLE (256u << 20)     /* far more than any site's tables */
#define CONFIRM_EVERY_MS 10000      /* how often the confirmation time is written */

struct source {
    const struct pull_source *p;
    CURL *curl;                 /* kept: the TLS connection is reused */
    char *url, *resolve;
    struct curl_slist *resolve_list;
    buf etag;                   /* sent as If-None-Match */
    buf new_etag, body;
    int too_big;
    enum tablesync_verdict last;
    buf last_why;
};

struct puller {
    const struct puller_options *o;
    struct source *s;
    char *dir, *csn_file, *confirmed_file;
    buf csn;                    /* of the installed tables */
    long long confirmed_ms;
    int all_failed;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct source *s = arg;
    if (s->body.len + size * n > MAX_BUNDLE) {
        s->too_big = 1;
        return 0;               /* curl fails the transfer */
    }
    buf_append(&s->body, data, size * n);
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct source *s = arg;
    tablesync_header_etag(data, size * n, &s->new_etag);
    return size * n;
}

static int source_init(struct source *s, const struct pull_source *p, const struct puller_options *o)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    int v6 = strchr(p->address, ':') != NULL;
    s->url = xasprintf("https://%s:%d%s", p->hostname, p->port, o->path);
    s->resolve = xasprintf("%s:%d:%s%s%s", p->hostname, p->port, v6 ? "[" : "", p->address, v6 ? "]" : "");
    s->resolve_list = curl_slist_append(NULL, s->resolve);
    s->curl = curl_easy_init();
    s->last = TS_INSTALL;       /* nothing logged yet */
    if (s->curl == NULL || s->resolve_list == NULL)
        return -1;
    CURL *c = s->curl;
    int bad = curl_easy_setopt(c, CURLOPT_URL, s->url) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_RESOLVE, s->resolve_list) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_CAINFO, o->ca) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK      /* the site CA only */
              || curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_SSLKEY, o->key) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms / 2) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_HEADERDATA, s) != CURLE_OK
              || curl_easy_setopt(c, CURLOPT_USERAGENT, "emailng-tablesync") != CURLE_OK;
    return bad ? -1 : 0;
}

static void source_free(struct source *s)
{
    if (s->curl)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->resolve_list);
    free(s->url);
    free(s->resolve);
    buf_free(&s->etag);
    buf_free(&s->new_etag);
    buf_free(&s->body);
    buf_free(&s->last_why);
}

/* One request; the HTTP status, or 0 with the reason in why. */
static long fetch(struct source *s, buf *why)
{
    buf_reset(&s->body);
    buf_reset(&s->new_etag);
    s->too_big = 0;
    struct curl_slist *headers = NULL;
    char *inm = NULL;
    if (s->etag.len) {
        inm = xasprintf("If-None-Match: %s", buf_cstr(&s->etag));
        headers = curl_slist_append(NULL, inm);
    }
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(s->curl);
    long status = 0;
    if (rc != CURLE_OK)
        buf_printf(why, "%s", s->too_big ? "the bundle is larger than 256 MiB" : curl_easy_strerror(rc));
    else
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    free(inm);
    return status;
}

/* Installs the three tables; 0, or -1 with the reason. */
static int install(struct puller *pl, const struct table_bundle *b, buf *changed, buf *err)
{
    const struct puller_options *o = pl->o;
    int rc = 0, c = 0;
    for (int i = TABLE_RECIPIENTS; rc == 0 && i <= TABLE_SENDERS; i++) {
        buf *t = (buf *)&b->part[i];
        rc = relay_tables_install(o->state_dir, o->host, table_bundle_names[i], buf_cstr(t), t->len, &c, err);
        if (rc == 0 && c)
            buf_printf(changed, "%s%s", changed->len ? ", " : "", table_bundle_names[i]);
    }
    buf *t = (buf *)&b->part[TABLE_POLICYD];
    if (rc == 0)
        rc = policy_table_install(o->state_dir, o->host, buf_cstr(t), t->len, &c, err);
    if (rc == 0 && c)
        buf_printf(changed, "%s%s", changed->len ? ", " : "", table_bundle_names[TABLE_POLICYD]);
    if (rc == 0 && strcmp(b->csn, buf_cstr(&pl->csn)) != 0) {
        buf line = BUF_INIT;
        buf_printf(&line, "%s\n", b->csn);
        rc = fs_write_file(pl->csn_file, line.data, line.len, 0644, err);
        buf_free(&line);
        if (rc == 0) {
            buf_reset(&pl->csn);
            buf_append_str(&pl->csn, b->csn);
        }
    }
    return rc;
}

static const char *held(struct puller *pl)
{
    return pl->csn.len ? buf_cstr(&pl->csn) : "(none yet)";
}

/* Asks one proxy; 1 if its answer confirms our tables. */
static int ask(struct puller *pl, struct source *s)
{
    buf why = BUF_INIT;
    long status = fetch(s, &why);
    struct table_bundle b;
    enum tablesync_verdict v = tablesync_judge(status, buf_cstr(&s->body), s->body.len, buf_cstr(&pl->csn), &b, &why);
    int installed = 0;
    if (v == TS_INSTALL) {
        buf changed = BUF_INIT, err = BUF_INIT;
        int new_csn = strcmp(b.csn, buf_cstr(&pl->csn)) != 0;
        installed = install(pl, &b, &changed, &err) == 0;
        if (!installed)
            msg_error("%s: cannot install the tables of CSN %s: %s", s->p->name, b.csn, buf_cstr(&err));
        else if (changed.len || new_csn)
            msg_info("%s: installed the tables of directory CSN %s (changed: %s)", s->p->name, b.csn,
                     changed.len ? buf_cstr(&changed) : "none");
        buf_free(&changed);
        buf_free(&err);
        table_bundle_free(&b);
    } else if (v == TS_REFUSED) {
        /* One line per version served (its ETag is kept: not asked again). */
        msg_warn("%s: refused what it serves (%s); keeping the tables of CSN %s", s->p->name, buf_cstr(&why),
                 held(pl));
    } else if (v == TS_OLDER) {
        msg_warn("%s: serves tables older than ours (CSN %s); not installed", s->p->name, held(pl));
    } else if (v == TS_FAILED && (s->last != TS_FAILED || strcmp(buf_cstr(&why), buf_cstr(&s->last_why)) != 0)) {
        msg_warn("%s: no tables (%s); keeping those of CSN %s", s->p->name, buf_cstr(&why), held(pl));
    } else if (v != TS_FAILED && s->last == TS_FAILED) {
        msg_info("%s: answers again", s->p->name);
    }
    if (tablesync_keep_etag(v, installed)) {
        buf_reset(&s->etag);
        buf_append_str(&s->etag, buf_cstr(&s->new_etag));
    }
    s->last = v;
    buf_reset(&s->last_why);
    buf_append_str(&s->last_why, buf_cstr(&why));
    buf_free(&why);
    return tablesync_confirms(v, installed);
}

static void round_once(struct puller *pl)
{
    int confirmed = 0;
    for (size_t i = 0; i < pl->o->n_sources; i++)
        confirmed |= ask(pl, &pl->s[i]);
    long long now = clock_ms();
    if (confirmed && now - pl->confirmed_ms >= CONFIRM_EVERY_MS) {
        buf err = BUF_INIT, line = BUF_INIT;
        buf_printf(&line, "%lld\n", (long long)time(NULL));
        if (fs_write_file(pl->confirmed_file, line.data, line.len, 0644, &err) == 0)
            pl->confirmed_ms = now;
        else
            msg_error("%s", buf_cstr(&err));
        buf_free(&err);
        buf_free(&line);
    }
    if (!confirmed && !pl->all_failed)
        msg_warn("no proxy confirms the tables; keeping those of CSN %s", held(pl));
    else if (confirmed && pl->all_failed)
        msg_info("tables confirmed again (CSN %s)", held(pl));
    pl->all_failed = !confirmed;
}

int puller_run(const struct puller_options *o)
{
    struct puller pl = {.o = o};
    pl.dir = xasprintf("%s/data/%s/tablesync", o->state_dir, o->host);
    pl.csn_file = xasprintf("%s/csn", pl.dir);
    pl.confirmed_file = xasprintf("%s/confirmed", pl.dir);
    pl.s = xcalloc(o->n_sources, sizeof *pl.s);
    buf err = BUF_INIT;
    int rc = fs_ensure_dir(pl.dir, NULL, NULL, 0755, &err);
    if (rc != 0)
        msg_error("%s", buf_cstr(&err));
    if (rc == 0 && fs_exists(pl.csn_file) && fs_read_file(pl.csn_file, 256, &pl.csn, &err) == 0) {
        while (pl.csn.len && (pl.csn.data[pl.csn.len - 1] == '\n'))
            pl.csn.data[--pl.csn.len] = '\0';
    }
    for (size_t i = 0; rc == 0 && i < o->n_sources; i++)
        if (source_init(&pl.s[i], &o->sources[i], o) != 0) {
            msg_error("cannot set up libcurl for %s", o->sources[i].name);
            rc = -1;
        }
    if (rc == 0) {
        msg_info("pulling the tables from %zu prox%s every %ld ms (installed: CSN %s)", o->n_sources,
                 o->n_sources == 1 ? "y" : "ies", o->interval_ms, held(&pl));
        while (!daemon_signal_stop()) {
            long long next = clock_ms() + o->interval_ms;
            round_once(&pl);
            while (!daemon_signal_stop() && clock_ms() < next)
                usleep(50 * 1000);
        }
        msg_info("stopped");
    }
    for (size_t i = 0; i < o->n_sources; i++)
        source_free(&pl.s[i]);
    free(pl.s);
    free(pl.dir);
    free(pl.csn_file);
    free(pl.confirmed_file);
    buf_free(&pl.csn);
    buf_free(&err);
    return rc == 0 ? 0 : 1;
}
