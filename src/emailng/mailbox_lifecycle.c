/* mailbox_lifecycle: archive or remove a user's mailbox; see mailbox_lifecycle.h. */
#include "mailbox_lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fabric.h"
#include "fsutil.h"

/* The stores holding pair: those whose store_pair is pair, or, when no
 * store names one (the small site), every store. */
static int holds_pair(const struct site *site, const struct site_host *h, const char *pair)
{
    if (!(h->roles & ROLE_STORE))
        return 0;
    if (h->store_pair == NULL || pair == NULL || pair[0] == '\0')
        return 1;
    for (size_t i = 0; i < site->n_hosts; i++)
        if ((site->hosts[i].roles & ROLE_STORE) && site->hosts[i].store_pair
            && strcmp(site->hosts[i].store_pair, pair) == 0)
            return strcmp(h->store_pair, pair) == 0;
    return 1;   /* a pair no store holds (not expected): look everywhere */
}

static char *mailbox_path(const char *state_dir, const char *host, const char *address)
{
    const char *at = strchr(address, '@');
    return xasprintf("%s/data/%s/mail/%s/%.*s", state_dir, host, at + 1, (int)(at - address), address);
}

/* `doveadm kick` (store) or `doveadm proxy kick` (proxy) of one user; a
 * failure is reported but does not stop the retirement: the entry is gone
 * already, so the sessions end at their next command anyway. */
static void kick(const char *state_dir, const struct site_host *h, const char *address, int on_proxy, buf *report)
{
    char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", state_dir, h->name);
    const char *store_argv[] = {"/usr/bin/doveadm", "-c", conf, "kick", address, NULL};
    const char *proxy_argv[] = {"/usr/bin/doveadm", "-c", conf, "proxy", "kick", address, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int status = fabric_run_on_host(state_dir, h->name, on_proxy ? proxy_argv : store_argv, &out, &err);
    /* doveadm kick exits 68 (EX_NOUSER) when the user had no session. */
    if (status != 0 && status != 68)
        buf_printf(report, "%s: could not end the sessions of %s (doveadm kick: %s)\n", h->name, address,
                   status < 0 ? buf_cstr(&err) : "failed");
    buf_free(&out);
    buf_free(&err);
    free(conf);
}

/* DATA/STORE/archive/DOMAIN/LOCAL.STAMP[-N], not existing yet. */
static char *archive_path(const char *state_dir, const char *host, const char *address, buf *err)
{
    const char *at = strchr(address, '@');
    char *dir = xasprintf("%s/data/%s/archive", state_dir, host);
    char *domain_dir = xasprintf("%s/%s", dir, at + 1);
    char *path = NULL;
    if (fs_ensure_dir(dir, "root", "root", 0700, err) == 0 && fs_ensure_dir(domain_dir, "root", "root", 0700, err) == 0) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
        path = xasprintf("%s/%.*s.%s", domain_dir, (int)(at - address), address, stamp);
        for (int n = 2; fs_exists(path); n++) {
            free(path);
            path = xasprintf("%s/%.*s.%s-%d", domain_dir, (int)(at - address), address, stamp, n);
        }
    }
    free(dir);
    free(domain_dir);
    return path;
}

/* Archive (or purge) the mailbox of address on host if there is one. */
static int put_away(const char *state_dir, const struct site_host *h, const char *address, int purge,
                    const char *absent_text, buf *report, buf *err)
{
    char *mailbox = mailbox_path(state_dir, h->name, address);
    char *archive = NULL;
    int rc = 0;
    if (!fs_exists(mailbox)) {
        if (absent_text)
            buf_printf(report, "%s: %s\n", h->name, absent_text);
    } else if (purge) {
        rc = fs_remove_tree(mailbox, err);
        if (rc == 0)
            buf_printf(report, "%s: mailbox removed\n", h->name);
    } else if ((archive = archive_path(state_dir, h->name, address, err)) == NULL) {
        rc = -1;
    } else if (rename(mailbox, archive) != 0) {
        buf_printf(err, "cannot move %s to %s: %s", mailbox, archive, strerror(errno));
        rc = -1;
    } else {
        buf_printf(report, "%s: mailbox archived in %s\n", h->name, archive);
    }
    free(archive);
    free(mailbox);
    return rc;
}

/* The stores of pair whose data is on this machine; the others are
 * reported in err. Returns how many stores were found. */
static int for_each_store(const struct site *site, const char *state_dir, const char *pair,
                          int (*action)(const char *state_dir, const struct site_host *h, void *arg), void *arg,
                          buf *err)
{
    int rc = 0;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!holds_pair(site, h, pair))
            continue;
        char *data = xasprintf("%s/data/%s", state_dir, h->name);
        int here = fs_exists(data);
        free(data);
        if (!here) {
            buf_printf(err, "%sthe data of store %s is not on this machine (%s/data/%s): its mailbox was not touched",
                       err->len ? "; " : "", h->name, state_dir, h->name);
            rc = -1;
        } else if (action(state_dir, h, arg) != 0) {
            rc = -1;
        }
    }
    return rc;
}

struct retire_args {
    const struct site *site;
    const char *address;
    int purge;
    int clear_only;
    buf *report;
    buf *err;
};

static int retire_one(const char *state_dir, const struct site_host *h, void *arg)
{
    struct retire_args *a = arg;
    if (a->clear_only)
        return put_away(state_dir, h, a->address, 0, NULL, a->report, a->err);
    kick(state_dir, h, a->address, 0, a->report);
    return put_away(state_dir, h, a->address, a->purge, "no mailbox (the user never received mail or logged in)",
                    a->report, a->err);
}

int mailbox_retire(const struct site *site, const char *state_dir, const char *address, const char *pair,
                   int purge, buf *report, buf *err)
{
    /* Proxies first: a session proxied to a store would otherwise be
     * reconnected there by the client at once. */
    for (size_t i = 0; i < site->n_hosts; i++)
        if (site->n_hosts > 1 && site->hosts[i].roles == ROLE_PROXY)
            kick(state_dir, &site->hosts[i], address, 1, report);
    struct retire_args a = {site, address, purge, 0, report, err};
    return for_each_store(site, state_dir, pair, retire_one, &a, err);
}

int mailbox_clear_leftover(const struct site *site, const char *state_dir, const char *address, const char *pair,
                           buf *report, buf *err)
{
    struct retire_args a = {site, address, 0, 1, report, err};
    return for_each_store(site, state_dir, pair, retire_one, &a, err);
}
