/* make: the tables a proxy serves to the relays; see make.h. */
#include "make.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "directory.h"
#include "fsutil.h"
#include "msg.h"
#include "policy_table.h"
#include "relay_tables.h"
#include "site.h"
#include "table_bundle.h"

struct maker {
    const struct maker_options *o;
    struct directory *d;
    struct site site;
    int have_site;
    struct timespec site_mtime;
    buf csn;                    /* of the last bundle made */
    long long made_ms;          /* when; 0: never */
    buf failure;                /* the last problem logged, to log each once */
};

/* Logs why once, until it changes or things work again. */
static void failed(struct maker *m, const char *why)
{
    if (strcmp(buf_cstr(&m->failure), why) != 0)
        msg_warn("%s; the relays keep the tables this proxy served last", why);
    buf_reset(&m->failure);
    buf_append_str(&m->failure, why);
}

/* 1 if the site file is newer than the one loaded and was loaded again. */
static int site_reload(struct maker *m)
{
    struct stat st;
    if (stat(m->o->site_file, &st) != 0)
        return 0;
    if (m->have_site && st.st_mtim.tv_sec == m->site_mtime.tv_sec && st.st_mtim.tv_nsec == m->site_mtime.tv_nsec)
        return 0;
    struct site fresh;
    buf err = BUF_INIT;
    int rc = site_load(m->o->site_file, &fresh, &err);
    if (rc != 0) {
        failed(m, buf_cstr(&err));
        buf_free(&err);
        return 0;
    }
    if (m->have_site)
        site_free(&m->site);
    m->site = fresh;
    m->have_site = 1;
    m->site_mtime = st.st_mtim;
    buf_free(&err);
    return 1;
}

static int write_bundle(struct maker *m, const char *csn, const struct directory_snapshot *snapshot, buf *err)
{
    buf recipients = BUF_INIT, senders = BUF_INIT, policy = BUF_INIT, bundle = BUF_INIT, old = BUF_INIT;
    relay_tables_build(snapshot, &recipients, &senders);
    policy_table_build(snapshot, &m->site, policy_table_default_pair(&m->site), &policy);
    const buf *const parts[TABLE_BUNDLE_PARTS] = {&recipients, &senders, &policy};
    table_bundle_build(csn, parts, &bundle);
    buf ignored = BUF_INIT;
    int same = fs_read_file(m->o->out, bundle.len + 1, &old, &ignored) == 0 && old.len == bundle.len
               && memcmp(old.data, bundle.data, bundle.len) == 0;
    int rc = same ? 0 : fs_write_file_group(m->o->out, bundle.data, bundle.len, 0640, m->o->group, err);
    if (rc == 0 && !same)
        msg_info("tables made for directory CSN %s: %zu users, %zu aliases, %zu bytes", csn, snapshot->n_users,
                 snapshot->n_aliases, bundle.len);
    buf_free(&recipients);
    buf_free(&senders);
    buf_free(&policy);
    buf_free(&bundle);
    buf_free(&old);
    buf_free(&ignored);
    return rc;
}

static void round_once(struct maker *m)
{
    int site_changed = site_reload(m);
    if (!m->have_site)
        return;                 /* failed() said why */
    buf err = BUF_INIT, csn = BUF_INIT;
    struct directory_tls tls = {m->o->ca, m->o->cert, m->o->key};
    if (m->d == NULL && directory_open_tls(&m->d, m->o->ldap_uri, m->site.ldap_base, &tls, &err) != 0) {
        m->d = NULL;
        failed(m, buf_cstr(&err));
        goto out;
    }
    if (directory_context_csn(m->d, &csn, &err) != 0) {
        failed(m, buf_cstr(&err));
        directory_close(m->d);      /* a new connection next round */
        m->d = NULL;
        goto out;
    }
    long long now = clock_ms();
    int due = m->made_ms == 0 || now - m->made_ms >= m->o->refresh_ms;
    if (!site_changed && !due && strcmp(buf_cstr(&csn), buf_cstr(&m->csn)) == 0)
        goto out;
    struct directory_snapshot snapshot;
    if (directory_snapshot_load(m->d, &snapshot, &err) != 0) {
        failed(m, buf_cstr(&err));
        directory_close(m->d);
        m->d = NULL;
        goto out;
    }
    int rc = write_bundle(m, buf_cstr(&csn), &snapshot, &err);
    directory_snapshot_free(&snapshot);
    if (rc != 0) {
        failed(m, buf_cstr(&err));
        goto out;
    }
    if (m->failure.len)
        msg_info("the directory answers again");
    buf_reset(&m->failure);
    buf_reset(&m->csn);
    buf_append_str(&m->csn, buf_cstr(&csn));
    m->made_ms = now;
out:
    buf_free(&err);
    buf_free(&csn);
}

int maker_run(const struct maker_options *o)
{
    struct maker m = {.o = o};
    msg_info("making the relays' tables from %s into %s every %ld ms", o->ldap_uri, o->out, o->interval_ms);
    while (!daemon_signal_stop()) {
        long long next = clock_ms() + o->interval_ms;
        round_once(&m);
        while (!daemon_signal_stop() && clock_ms() < next)
            usleep(50 * 1000);
    }
    directory_close(m.d);
    if (m.have_site)
        site_free(&m.site);
    buf_free(&m.csn);
    buf_free(&m.failure);
    msg_info("stopped");
    return 0;
}
