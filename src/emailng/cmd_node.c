/* cmd_node: see cmd_node.h. */
#include "cmd_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "fabric.h"
#include "fsutil.h"
#include "healthd_service.h"
#include "process.h"

#define SWITCH_TIMEOUT_MS 15000
#define STATUS_MAX (256 * 1024)

static char *healthd_file(const char *state_dir, const struct site_host *proxy, const char *name)
{
    return xasprintf("%s/data/%s/healthd/%s", state_dir, proxy->name, name);
}

static int is_monitor(const struct site *site, const struct site_host *h)
{
    return site->n_hosts > 1 && h->roles == ROLE_PROXY;
}

/* 1 if the line-list `text` has the line `word` (exactly). */
static int has_line(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, word, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* A whitespace-separated field of the line of `text` starting with
 * `prefix` (e.g. "store 198.18.0.31 "), or NULL; caller frees. */
static char *field_after(const char *text, const char *prefix, int field)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && memcmp(p, prefix, n) == 0) {
            const char *f = p + n, *stop = p + len;
            for (int i = 0; i < field && f < stop; i++) {
                while (f < stop && *f != ' ')
                    f++;
                while (f < stop && *f == ' ')
                    f++;
            }
            const char *e = f;
            while (e < stop && *e != ' ')
                e++;
            return e > f ? xstrndup(f, (size_t)(e - f)) : NULL;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The file's text, or "" if it is missing. */
static void read_or_empty(const char *path, buf *out)
{
    buf ignored = BUF_INIT;
    buf_reset(out);
    if (fs_read_file(path, STATUS_MAX, out, &ignored) != 0)
        buf_reset(out);
    buf_free(&ignored);
}

static const struct site_host *host_by_address(const struct site *site, const char *address)
{
    for (size_t i = 0; address && i < site->n_hosts; i++)
        if (strcmp(site->hosts[i].address, address) == 0)
            return &site->hosts[i];
    return NULL;
}

static const struct site_host *host_by_name(const struct site *site, const char *name)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (strcmp(site->hosts[i].name, name) == 0)
            return &site->hosts[i];
    return NULL;
}

static pid_t monitor_pid(const char *state_dir, const struct site_host *proxy)
{
    char *pidfile = xasprintf("%s/run/%s/healthd/healthd.pid", state_dir, proxy->name);
    pid_t pid = pidfile_read(pidfile);
    free(pidfile);
    return pid;
}

/* As a table, or as {"monitors":[{"proxy","monitor","pairs":[{"pair",
 * "active","stores":[{"name","state","drain_pending"}]}]}]} (--json). */
static int node_list(const struct site *site, const char *state_dir, int as_json)
{
    buf status = BUF_INIT, drained = BUF_INIT, json = BUF_INIT;
    if (!as_json)
        printf("%-8s %-8s %-8s %-16s %s\n", "PROXY", "MONITOR", "PAIR", "ACTIVE",
               "STORES (state as this monitor sees it)");
    buf_append_str(&json, "{\"monitors\":[");
    int first_proxy = 1;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *proxy = &site->hosts[i];
        if (!is_monitor(site, proxy))
            continue;
        char *status_path = healthd_file(state_dir, proxy, "status");
        char *drained_path = healthd_file(state_dir, proxy, "drained");
        read_or_empty(status_path, &status);
        read_or_empty(drained_path, &drained);
        pid_t pid = monitor_pid(state_dir, proxy);
        buf_printf(&json, "%s{\"proxy\":", first_proxy ? "" : ",");
        first_proxy = 0;
        cli_json_string(&json, proxy->name);
        buf_printf(&json, ",\"monitor\":\"%s\",\"pairs\":[", pid ? "up" : "down");
        int first_pair = 1;
        for (size_t j = 0; j < site->n_hosts; j++) {
            const struct site_host *store = &site->hosts[j];
            const struct site_host *partner = site_store_partner(site, store);
            if (partner == NULL || partner < store)
                continue;
            char *prefix = xasprintf("pair %s ", store->store_pair);
            char *active = field_after(buf_cstr(&status), prefix, 0);
            const struct site_host *active_host = host_by_address(site, active);
            buf stores = BUF_INIT;
            const struct site_host *members[2] = {store, partner};
            buf_printf(&json, "%s{\"pair\":", first_pair ? "" : ",");
            first_pair = 0;
            cli_json_string(&json, store->store_pair);
            buf_append_str(&json, ",\"active\":");
            if (active_host || active)
                cli_json_string(&json, active_host ? active_host->name : active);
            else
                buf_append_str(&json, "null");
            buf_append_str(&json, ",\"stores\":[");
            for (int k = 0; k < 2; k++) {
                char *sp = xasprintf("store %s ", members[k]->address);
                char *state = field_after(buf_cstr(&status), sp, 2);
                /* Drained in the file but not yet seen by the monitor: say so. */
                int pending = has_line(buf_cstr(&drained), members[k]->address)
                    && !(state && strcmp(state, "drained") == 0);
                buf_printf(&stores, "%s%s %s%s", k ? ", " : "", members[k]->name, state ? state : "unknown",
                           pending ? " (drain pending)" : "");
                buf_printf(&json, "%s{\"name\":", k ? "," : "");
                cli_json_string(&json, members[k]->name);
                buf_append_str(&json, ",\"state\":");
                cli_json_string(&json, state ? state : "unknown");
                buf_printf(&json, ",\"drain_pending\":%s}", pending ? "true" : "false");
                free(sp);
                free(state);
            }
            buf_append_str(&json, "]}");
            if (!as_json)
                printf("%-8s %-8s %-8s %-16s %s\n", proxy->name, pid ? "up" : "down", store->store_pair,
                       active_host ? active_host->name : (active ? active : "unknown"), buf_cstr(&stores));
            buf_free(&stores);
            free(prefix);
            free(active);
        }
        buf_append_str(&json, "]}");
        free(status_path);
        free(drained_path);
    }
    buf_append_str(&json, "]}");
    if (as_json)
        puts(buf_cstr(&json));
    buf_free(&status);
    buf_free(&drained);
    buf_free(&json);
    return 0;
}

/* Writes the drain file of every proxy: its current stores, plus or minus
 * `address`. */
static int write_drains(const struct site *site, const char *state_dir, const char *address, int add, buf *err)
{
    buf old = BUF_INIT, text = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
        const struct site_host *proxy = &site->hosts[i];
        if (!is_monitor(site, proxy))
            continue;
        char *path = healthd_file(state_dir, proxy, "drained");
        read_or_empty(path, &old);
        buf_reset(&text);
        buf_append_str(&text, "# stores drained by `emailng node drain` (read by emailng-healthd every round)\n");
        for (size_t j = 0; j < site->n_hosts; j++) {
            const char *a = site->hosts[j].address;
            if (!(site->hosts[j].roles & ROLE_STORE))
                continue;
            int listed = has_line(buf_cstr(&old), a);
            if (strcmp(a, address) == 0)
                listed = add;
            if (listed)
                buf_printf(&text, "%s\n", a);
        }
        rc = fs_write_file(path, text.data, text.len, 0644, err);
        free(path);
    }
    buf_free(&old);
    buf_free(&text);
    return rc;
}

static int drained_anywhere(const struct site *site, const char *state_dir, const char *address)
{
    buf text = BUF_INIT;
    int found = 0;
    for (size_t i = 0; !found && i < site->n_hosts; i++) {
        if (!is_monitor(site, &site->hosts[i]))
            continue;
        char *path = healthd_file(state_dir, &site->hosts[i], "drained");
        read_or_empty(path, &text);
        found = has_line(buf_cstr(&text), address);
        free(path);
    }
    buf_free(&text);
    return found;
}

/* 1 once every proxy's table sends `pair` to `address`; names the
 * proxies that do not yet in `waiting`. */
static int all_tables_show(const struct site *site, const char *state_dir, const char *pair, const char *address,
                           buf *waiting)
{
    buf text = BUF_INIT;
    char *want = xasprintf("%s %s", pair, address);
    buf_reset(waiting);
    for (size_t i = 0; i < site->n_hosts; i++) {
        if (!is_monitor(site, &site->hosts[i]))
            continue;
        char *path = healthd_file(state_dir, &site->hosts[i], "pairs");
        read_or_empty(path, &text);
        if (!has_line(buf_cstr(&text), want))
            buf_printf(waiting, "%s%s", waiting->len ? ", " : "", site->hosts[i].name);
        free(path);
    }
    free(want);
    buf_free(&text);
    return waiting->len == 0;
}

/* `doveadm proxy kick -h STORE` with the proxy's configuration, inside its
 * network namespace when it runs in the test fabric. */
static int kick_sessions(const struct site *site, const char *state_dir, const struct site_host *store, buf *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
        const struct site_host *proxy = &site->hosts[i];
        if (!is_monitor(site, proxy))
            continue;
        char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", state_dir, proxy->name);
        const char *argv[] = {"/usr/bin/doveadm", "-c", conf, "proxy", "kick", "-h", store->address, NULL};
        buf out = BUF_INIT;
        int status = fabric_run_on_host(state_dir, proxy->name, argv, &out, err);
        if (status != 0) {
            if (status > 0)
                buf_printf(err, "doveadm proxy kick on %s exited with status %d: %s", proxy->name, status,
                           buf_cstr(&out));
            rc = -1;
        } else {
            size_t n = out.len;
            while (n > 0 && out.data[n - 1] == '\n')
                n--;
            printf("  %s: %.*s\n", proxy->name, (int)n, buf_cstr(&out));
        }
        buf_free(&out);
        free(conf);
    }
    return rc;
}

/* The store named on the command line, or NULL with a message. */
static const struct site_host *store_argument(const struct site *site, const char *name, const char *verb)
{
    const struct site_host *h = host_by_name(site, name);
    if (h == NULL) {
        buf names = BUF_INIT;
        for (size_t i = 0; i < site->n_hosts; i++)
            if (site->hosts[i].roles & ROLE_STORE)
                buf_printf(&names, "%s%s", names.len ? ", " : "", site->hosts[i].name);
        fprintf(stderr, "emailng: node %s: the site %s has no host %s; its stores are %s\n", verb, site->name, name,
                buf_cstr(&names));
        buf_free(&names);
        return NULL;
    }
    if (!(h->roles & ROLE_STORE) || site_store_partner(site, h) == NULL) {
        buf roles = BUF_INIT;
        site_roles_text(h->roles, &roles);
        fprintf(stderr, "emailng: node %s: %s is a %s host, not a store of a pair; only stores are drained\n", verb,
                name, buf_cstr(&roles));
        buf_free(&roles);
        return NULL;
    }
    return h;
}

static int node_drain(const struct site *site, const char *state_dir, const char *name)
{
    const struct site_host *store = store_argument(site, name, "drain");
    if (store == NULL)
        return 2;
    const struct site_host *partner = site_store_partner(site, store);
    if (drained_anywhere(site, state_dir, partner->address)) {
        fprintf(stderr, "emailng: node drain %s: its partner %s (%s) is drained; a pair needs one store serving: "
                "`emailng node undrain %s` first\n", name, partner->name, store->store_pair, partner->name);
        return 1;
    }
    /* The partner must be up on every monitor, or the pair would have
     * nowhere to go. */
    buf status = BUF_INIT, err = BUF_INIT, waiting = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
        const struct site_host *proxy = &site->hosts[i];
        if (!is_monitor(site, proxy))
            continue;
        char *path = healthd_file(state_dir, proxy, "status");
        char *prefix = xasprintf("store %s ", partner->address);
        read_or_empty(path, &status);
        char *state = field_after(buf_cstr(&status), prefix, 2);
        if (monitor_pid(state_dir, proxy) == 0) {
            fprintf(stderr, "emailng: node drain %s: the health monitor of %s is not running; start it "
                    "(`emailng up`) so every proxy moves %s together\n", name, proxy->name, store->store_pair);
            rc = 1;
        } else if (state == NULL || strcmp(state, "up") != 0) {
            fprintf(stderr, "emailng: node drain %s: refused: its partner %s is not up (the monitor on %s sees it %s); "
                    "%s would have no store to serve it\n", name, partner->name, proxy->name,
                    state ? state : "unknown", store->store_pair);
            rc = 1;
        }
        free(state);
        free(prefix);
        free(path);
    }
    if (rc == 0 && write_drains(site, state_dir, store->address, 1, &err) != 0) {
        fprintf(stderr, "emailng: node drain %s: %s\n", name, buf_cstr(&err));
        rc = 1;
    }
    if (rc == 0) {
        printf("emailng: %s drained; waiting for every proxy to send %s to %s ...\n", name, store->store_pair,
               partner->name);
        fflush(stdout);
        long long deadline = clock_ms() + SWITCH_TIMEOUT_MS;
        while (!all_tables_show(site, state_dir, store->store_pair, partner->address, &waiting)) {
            if (clock_ms() > deadline) {
                fprintf(stderr, "emailng: node drain %s: %s still send %s to %s after %d s; see their "
                        "healthd.log (the drain stays recorded)\n", name, buf_cstr(&waiting), store->store_pair,
                        name, SWITCH_TIMEOUT_MS / 1000);
                rc = 1;
                break;
            }
            usleep(100 * 1000);
        }
    }
    if (rc == 0) {
        printf("  every proxy sends %s to %s; closing the sessions still open on %s:\n", store->store_pair,
               partner->name, name);
        if (kick_sessions(site, state_dir, store, &err) != 0) {
            fprintf(stderr, "emailng: node drain %s: %s\n", name, buf_cstr(&err));
            rc = 1;
        }
    }
    if (rc == 0)
        printf("emailng: %s is drained (`emailng node undrain %s` gives %s back)\n", name, name, store->store_pair);
    buf_free(&status);
    buf_free(&err);
    buf_free(&waiting);
    return rc;
}

static int node_undrain(const struct site *site, const char *state_dir, const char *name)
{
    const struct site_host *store = store_argument(site, name, "undrain");
    if (store == NULL)
        return 2;
    buf err = BUF_INIT;
    int was = drained_anywhere(site, state_dir, store->address);
    int rc = write_drains(site, state_dir, store->address, 0, &err) == 0 ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "emailng: node undrain %s: %s\n", name, buf_cstr(&err));
    else if (!was)
        printf("emailng: %s was not drained\n", name);
    else
        printf("emailng: %s is no longer drained; the monitors give it its pair back once it has recovered "
               "(good probes over the recovery grace, and the catch-up check)\n", name);
    buf_free(&err);
    return rc;
}

int cmd_node(const struct site *site, const char *state_dir, int json, int argc, char **argv)
{
    int has_monitor = 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        has_monitor |= is_monitor(site, &site->hosts[i]);
    if (!has_monitor) {
        fprintf(stderr, "emailng: node: the site %s has no proxies with a health monitor (a site of several hosts "
                "has); nothing to drain\n", site->name);
        return 1;
    }
    if (argc == 1 && strcmp(argv[0], "list") == 0)
        return node_list(site, state_dir, json);
    if (argc == 2 && strcmp(argv[0], "drain") == 0)
        return node_drain(site, state_dir, argv[1]);
    if (argc == 2 && strcmp(argv[0], "undrain") == 0)
        return node_undrain(site, state_dir, argv[1]);
    fputs("usage: emailng node list | drain STORE | undrain STORE\n", stderr);
    return 2;
}
