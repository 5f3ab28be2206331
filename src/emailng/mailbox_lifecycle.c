/* mailbox_lifecycle: archive or remove a user's mailbox; see mailbox_lifecycle.h. */
#include "mailbox_lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fabric.h"
#include "fsutil.h"
#include "mailbox_remote.h"
#include "store_mailbox.h"

static char *mailbox_path(const char *state_dir, const char *host, const char *address)
{
    const char *at = strchr(address, '@');
    return xasprintf("%s/data/%s/mail/%s/%.*s", state_dir, host, at + 1, (int)(at - address), address);
}

/* The host's rendered Dovecot configuration (caller frees). */
static char *dovecot_conf(const char *state_dir, const struct site_host *h)
{
    return xasprintf("%s/etc/%s/dovecot/dovecot.conf", state_dir, h->name);
}

/* The host's rendered Dovecot configuration is on this machine. */
static int host_config_here(const char *state_dir, const struct site_host *h)
{
    char *conf = dovecot_conf(state_dir, h);
    int here = fs_exists(conf);
    free(conf);
    return here;
}

/* `doveadm kick` (store) or `doveadm proxy kick` (proxy) of one user; a
 * failure is reported but does not stop the retirement: the entry is gone
 * already, so the sessions end at their next command anyway. */
static void kick(const char *state_dir, const struct site_host *h, const char *address, int on_proxy, buf *report)
{
    char *conf = dovecot_conf(state_dir, h);
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

/* Each store of pair: local_action where its data is on this machine,
 * remote_action (its doveadm server) where it is not. Every store is
 * tried; -1 if any failed. */
static int for_each_store(const struct site *site, const char *state_dir, const char *pair,
                          int (*local_action)(const char *state_dir, const struct site_host *h, void *arg),
                          int (*remote_action)(const char *state_dir, const struct site_host *h, void *arg),
                          void *arg)
{
    int rc = 0;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!store_mailbox_holds_pair(site, h, pair))
            continue;
        int (*action)(const char *, const struct site_host *, void *) =
            store_mailbox_data_here(state_dir, h) ? local_action : remote_action;
        if (action(state_dir, h, arg) != 0)
            rc = -1;
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

static int retire_remote(const char *state_dir, const struct site_host *h, void *arg)
{
    struct retire_args *a = arg;
    buf why = BUF_INIT;
    int rc = a->clear_only
                 ? mailbox_remote_put_away(a->site, state_dir, h, a->address, 0, 0, NULL, a->report, &why)
                 : mailbox_remote_put_away(a->site, state_dir, h, a->address, a->purge, 1,
                                           "no mailbox (the user never received mail or logged in)", a->report,
                                           &why);
    if (rc != 0)
        buf_printf(a->err, "%s%s", a->err->len ? "; " : "", buf_cstr(&why));
    buf_free(&why);
    return rc;
}

int mailbox_retire(const struct site *site, const char *state_dir, const char *address, const char *pair,
                   int purge, buf *report, buf *err)
{
    /* Proxies first: a session proxied to a store would otherwise be
     * reconnected there by the client at once. Only proxies whose
     * configuration is on this machine: a deployed site's proxies run no
     * doveadm server, and there the store's kick ends the proxied session
     * while the entry, no longer active, lets no reconnection in. */
    for (size_t i = 0; i < site->n_hosts; i++)
        if (site->n_hosts > 1 && site->hosts[i].roles == ROLE_PROXY
            && host_config_here(state_dir, &site->hosts[i]))
            kick(state_dir, &site->hosts[i], address, 1, report);
    struct retire_args a = {site, address, purge, 0, report, err};
    return for_each_store(site, state_dir, pair, retire_one, retire_remote, &a);
}

int mailbox_clear_leftover(const struct site *site, const char *state_dir, const char *address, const char *pair,
                           buf *report, buf *err)
{
    struct retire_args a = {site, address, 0, 1, report, err};
    return for_each_store(site, state_dir, pair, retire_one, retire_remote, &a);
}

/* Runs doveadm with argv on the small site's store; -1 and a note in
 * report when it fails. */
static int doveadm_on_store(const char *state_dir, const struct site_host *h, const char *address,
                            const char *const argv[], buf *out, buf *report)
{
    buf err = BUF_INIT;
    int status = fabric_run_on_host(state_dir, h->name, argv, out, &err);
    if (status != 0)
        buf_printf(report, "%s: the folders of %s will be created at first use (doveadm mailbox %s: %s)\n",
                   h->name, address, argv[4], status < 0 ? buf_cstr(&err) : "failed");
    buf_free(&err);
    return status == 0 ? 0 : -1;
}

void mailbox_create_folders(const struct site *site, const char *state_dir, const char *address, buf *report)
{
    if (site->n_hosts != 1 || !store_mailbox_data_here(state_dir, &site->hosts[0]))
        return;
    const struct site_host *h = &site->hosts[0];
    char *conf = dovecot_conf(state_dir, h);
    /* LIST names the folders of the configuration (INBOX and those with
     * `auto`) before they exist; CREATE makes them (special use and
     * subscription come from the configuration, as for an automatic one). */
    const char *list_argv[] = {"/usr/bin/doveadm", "-c", conf, "mailbox", "list", "-u", address, NULL};
    buf names = BUF_INIT, out = BUF_INIT;
    if (doveadm_on_store(state_dir, h, address, list_argv, &names, report) == 0 && names.len > 0) {
        enum { MAX_FOLDERS = 64 };      /* a new user's: INBOX and the special-use ones */
        const char *argv[7 + MAX_FOLDERS + 1] = {"/usr/bin/doveadm", "-c", conf, "mailbox", "create",
                                                 "-u", address};
        size_t n = 7;
        char *next = NULL;
        for (char *line = strtok_r(names.data, "\n", &next); line && n < 7 + MAX_FOLDERS;
             line = strtok_r(NULL, "\n", &next))
            if (*line)
                argv[n++] = line;
        argv[n] = NULL;
        if (n > 7)
            (void)doveadm_on_store(state_dir, h, address, argv, &out, report);
    }
    buf_free(&names);
    buf_free(&out);
    free(conf);
}
