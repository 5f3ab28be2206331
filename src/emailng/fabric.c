/* fabric: several hosts on one machine; see fabric.h. */
#include "fabric.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "process.h"
#include "render.h"

#define FABRIC_RECORDS "/run/emailng-fabric"

char *fabric_prefix(const char *state_dir)
{
    uint32_t h = 2166136261u;     /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)state_dir; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return xasprintf("en%08x", (unsigned)h);
}

char *fabric_system_file(const char *dir, const char *state_dir)
{
    if (strcmp(state_dir, DEFAULT_STATE) == 0)
        return xasprintf("%s/emailng", dir);
    char *prefix = fabric_prefix(state_dir);
    char *path = xasprintf("%s/emailng-%s", dir, prefix);
    free(prefix);
    return path;
}

int fabric_exists(const char *prefix)
{
    char *record = xasprintf("%s/%s", FABRIC_RECORDS, prefix);
    int exists = fs_exists(record);
    free(record);
    return exists;
}

static int run_script(const char *datadir, const char *const *args, size_t n, buf *output, buf *err)
{
    const char **argv = xcalloc(n + 3, sizeof *argv);
    char *script = xasprintf("%s/scripts/fabric.sh", datadir);
    argv[0] = "/bin/sh";
    argv[1] = script;
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = args[i];
    buf out = BUF_INIT;
    int rc = process_run(argv, NULL, &out, err);
    if (rc != 0 && rc != -1)
        buf_printf(err, "%s %s failed (exit %d): %s", script, args[0], rc, buf_cstr(&out));
    else if (output)
        buf_append_str(output, buf_cstr(&out));
    buf_free(&out);
    free(script);
    free(argv);
    return rc == 0 ? 0 : -1;
}

/* fabric.sh up|add PREFIX with every host of the site. */
static int fabric_hosts_command(const char *command, const struct site *site, const char *prefix,
                                const char *datadir, buf *output, buf *err)
{
    size_t cap = 3 * site->n_hosts + 8, n = 0;
    const char **args = xcalloc(cap, sizeof *args);
    char **owned = xcalloc(cap, sizeof *owned);
    size_t n_owned = 0;
    args[n++] = command;
    args[n++] = prefix;
    if (site->fabric.dns) {
        args[n++] = "--dns";
        args[n++] = site->fabric.dns;
    }
    /* Hosts with their own caching resolver (the relays' unbound, S8). */
    for (size_t i = 0; i < site->n_hosts; i++)
        for (const char *const *c = render_components(site->hosts[i].roles); *c; c++)
            if (strcmp(*c, "unbound") == 0) {
                args[n++] = "--own-resolver";
                args[n++] = site->hosts[i].name;
            }
    for (size_t i = 0; i < site->n_hosts; i++)
        args[n++] = owned[n_owned++] = xasprintf("%s=%s", site->hosts[i].name, site->hosts[i].address);
    if (site->fabric.dns)
        args[n++] = owned[n_owned++] = xasprintf("dns=%s", site->fabric.dns);
    if (site->fabric.client)
        args[n++] = owned[n_owned++] = xasprintf("client=%s", site->fabric.client);
    int rc = run_script(datadir, args, n, output, err);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(args);
    return rc;
}

int fabric_create(const struct site *site, const char *prefix, const char *datadir, buf *err)
{
    return fabric_hosts_command("up", site, prefix, datadir, NULL, err);
}

int fabric_add_hosts(const struct site *site, const char *prefix, const char *datadir, buf *output, buf *err)
{
    return fabric_hosts_command("add", site, prefix, datadir, output, err);
}

int fabric_destroy(const char *prefix, const char *datadir, buf *err)
{
    const char *args[] = {"down", prefix};
    return run_script(datadir, args, 2, NULL, err);
}

int fabric_run(const char *prefix, const char *host, const char *const argv[], buf *output, buf *err)
{
    size_t n = 0;
    while (argv[n])
        n++;
    const char **full = xcalloc(n + 5, sizeof *full);
    char *ns = xasprintf("%s-%s", prefix, host);
    full[0] = "/usr/sbin/ip";
    full[1] = "netns";
    full[2] = "exec";
    full[3] = ns;
    for (size_t i = 0; i < n; i++)
        full[4 + i] = argv[i];
    int rc = process_run(full, NULL, output, err);
    free(ns);
    free(full);
    return rc;
}

int fabric_run_on_host(const char *state_dir, const char *host, const char *const argv[], buf *output, buf *err)
{
    char *prefix = fabric_prefix(state_dir);
    int status = fabric_exists(prefix) ? fabric_run(prefix, host, argv, output, err)
                                       : process_run(argv, NULL, output, err);
    free(prefix);
    return status;
}

void fabric_start_order(const struct site *site, size_t *order)
{
    static const unsigned roles[] = {ROLE_DIRECTORY, ROLE_STORE, ROLE_PROXY, ROLE_RELAY};
    size_t n = 0;
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++)
        for (size_t i = 0; i < site->n_hosts; i++) {
            int placed = 0;
            for (size_t j = 0; j < n; j++)
                placed |= order[j] == i;
            if (!placed && (site->hosts[i].roles & roles[r]))
                order[n++] = i;
        }
}

pid_t fabric_dns_pid(const char *state_dir)
{
    char *pidfile = xasprintf("%s/run/fabric-dns/nsd.pid", state_dir);
    pid_t pid = pidfile_read(pidfile);
    free(pidfile);
    return pid;
}

int fabric_dns_stop(const char *state_dir, buf *err)
{
    pid_t pid = fabric_dns_pid(state_dir);
    if (pid && process_stop(pid, 10) != 0) {
        buf_printf(err, "nsd (pid %ld) did not stop", (long)pid);
        return -1;
    }
    return 0;
}

int fabric_dns_start(const char *prefix, const char *state_dir, int restart, buf *err)
{
    if (fabric_dns_pid(state_dir)) {
        if (!restart)
            return 0;
        if (fabric_dns_stop(state_dir, err) != 0)
            return -1;
    }
    char *run = xasprintf("%s/run/fabric-dns", state_dir);
    char *log = xasprintf("%s/log/fabric-dns", state_dir);
    char *conf = xasprintf("%s/etc/fabric-dns/nsd/nsd.conf", state_dir);
    int rc = fs_ensure_dir(run, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(log, NULL, NULL, 0755, err);
    if (rc == 0) {
        const char *argv[] = {"/usr/sbin/nsd", "-c", conf, NULL};
        buf out = BUF_INIT;
        int status = fabric_run(prefix, "dns", argv, &out, err);
        if (status != 0) {
            if (status > 0)
                buf_printf(err, "nsd -c %s exited with %d: %s", conf, status, buf_cstr(&out));
            rc = -1;
        }
        buf_free(&out);
    }
    /* nsd detaches; it is serving once its pid file names a live process. */
    for (int i = 0; rc == 0 && i < 50 && !fabric_dns_pid(state_dir); i++)
        usleep(100 * 1000);
    if (rc == 0 && !fabric_dns_pid(state_dir)) {
        buf_printf(err, "nsd did not start; see %s/nsd.log", log);
        rc = -1;
    }
    free(run);
    free(log);
    free(conf);
    return rc;
}

int fabric_doveadm(const char *state_dir, const char *host, const char *const *args, buf *output, buf *err)
{
    size_t n = 0;
    while (args[n])
        n++;
    const char **argv = xcalloc(n + 4, sizeof *argv);
    char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", state_dir, host);
    argv[0] = "/usr/bin/doveadm";
    argv[1] = "-c";
    argv[2] = conf;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = args[i];
    int status = fabric_run_on_host(state_dir, host, argv, output, err);
    free(conf);
    free(argv);
    return status;
}
