/* tablesync_service: start, check and stop emailng-tablesync; see
 * tablesync_service.h. */
#include "tablesync_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

#define NGINX_GROUP "www-data"              /* nginx's workers read the bundle */
#define TABLES_PATH "/emailng/relay-tables"  /* templates/nginx: nginx_relay_tables */

static char *program(void)
{
    return process_program_next_to_us("emailng-tablesync", "emailng-tablesync");    /* else PATH */
}

int tablemaker_wanted(const struct service_env *env)
{
    return env->host->roles == ROLE_PROXY && env->site->n_hosts > 1;
}

/* The directory's database in this state directory means the hosts share
 * it (the one-machine fabric): the directory host's `user add` already
 * writes the relays' tables. */
int tablepull_wanted(const struct service_env *env)
{
    const struct site_host *dir = site_host_with_role(env->site, ROLE_DIRECTORY);
    if (env->host->roles != ROLE_RELAY || env->site->n_hosts < 2 || dir == NULL)
        return 0;
    char *db = xasprintf("%s/data/%s/ldap", env->state_dir, dir->name);
    int shared = fs_exists(db);
    free(db);
    return !shared;
}

static char *bundle_file(const struct service_env *env)
{
    return service_path(env, "data_dir", "tablesync/relay-tables");
}

char *tablesync_confirmed_file(const char *state_dir, const char *host)
{
    return xasprintf("%s/data/%s/tablesync/confirmed", state_dir, host);
}

/* The argv of each half, NULL-terminated, every string owned. */
struct args {
    char **v;
    size_t n;
};

static void add(struct args *a, char *s)
{
    a->v = xrealloc(a->v, (a->n + 2) * sizeof *a->v);
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void args_free(struct args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

static void common(const struct service_env *env, struct args *a)
{
    add(a, xstrdup("--pid-file"));
    add(a, service_path(env, "run_dir", "tablesync/tablesync.pid"));
    add(a, xstrdup("--log"));
    add(a, service_path(env, "log_dir", "tablesync.log"));
    add(a, xstrdup("--ca"));
    add(a, xstrdup(service_var(env, "tls_ca")));
}

static void maker_args(const struct service_env *env, struct args *a)
{
    add(a, program());
    add(a, xstrdup("make"));
    common(env, a);
    add(a, xstrdup("--cert"));
    add(a, xstrdup(service_var(env, "tls_client_dovecot_cert")));
    add(a, xstrdup("--key"));
    add(a, xstrdup(service_var(env, "tls_client_dovecot_key")));
    add(a, xstrdup("--site"));
    add(a, realpath(env->site->source, NULL) ?: xstrdup(env->site->source));
    add(a, xstrdup("--ldap-uri"));
    add(a, xstrdup(service_var(env, "ldap_uri")));
    add(a, xstrdup("--out"));
    add(a, bundle_file(env));
    add(a, xstrdup("--group"));
    add(a, xstrdup(NGINX_GROUP));
}

static void puller_args(const struct service_env *env, struct args *a)
{
    add(a, program());
    add(a, xstrdup("pull"));
    common(env, a);
    add(a, xasprintf("--cert=%s/tls/%s/client-tables.crt", env->state_dir, env->host->name));
    add(a, xasprintf("--key=%s/tls/%s/client-tables.key", env->state_dir, env->host->name));
    add(a, xasprintf("--state=%s", env->state_dir));
    add(a, xasprintf("--host=%s", env->host->name));
    add(a, xasprintf("--path=%s", TABLES_PATH));
    /* Every proxy, by the name its server certificate carries first. */
    for (size_t i = 0; i < env->site->n_hosts; i++) {
        const struct site_host *p = &env->site->hosts[i];
        if (p->roles & ROLE_PROXY)
            add(a, xasprintf("--source=%s=%s.%s@%s:%s", p->name, p->name, env->site->domains[0], p->address,
                             service_var(env, "port_https")));
    }
}

/* RUN/tablesync/args: the arguments the running daemon got (one a line). */
static char *args_file(const struct service_env *env)
{
    return service_path(env, "run_dir", "tablesync/args");
}

static void args_text(const struct args *a, buf *out)
{
    for (size_t i = 0; i < a->n; i++)
        buf_printf(out, "%s\n", a->v[i]);
}

static int prepare(const struct service_env *env, buf *err)
{
    char *run = service_path(env, "run_dir", "tablesync");
    char *data = service_path(env, "data_dir", "tablesync");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)       /* a proxy's bundle lists every address: root and nginx's workers */
        rc = fs_ensure_dir(data, NULL, env->host->roles & ROLE_PROXY ? NGINX_GROUP : NULL, 0750, err);
    free(run);
    free(data);
    return rc;
}

int tablemaker_prepare(const struct service_env *env, buf *err)
{
    return prepare(env, err);
}

int tablepull_prepare(const struct service_env *env, buf *err)
{
    return prepare(env, err);
}

static int start(const struct service_env *env, void (*make_args)(const struct service_env *, struct args *),
                 buf *err)
{
    struct args a = {0};
    make_args(env, &a);
    char *log = service_path(env, "log_dir", "tablesync.log");
    char *file = args_file(env);
    buf text = BUF_INIT;
    args_text(&a, &text);
    int rc = fs_write_file(file, text.data, text.len, 0644, err);
    if (rc == 0) {
        rc = process_spawn_daemon((const char *const *)a.v, log, err);
        if (rc != 0)
            buf_printf(err, " (emailng-tablesync is looked for next to emailng, then on PATH)");
    }
    buf_free(&text);
    free(file);
    free(log);
    args_free(&a);
    return rc;
}

int tablemaker_start(const struct service_env *env, buf *err)
{
    return start(env, maker_args, err);
}

int tablepull_start(const struct service_env *env, buf *err)
{
    return start(env, puller_args, err);
}

pid_t tablesync_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "tablesync/tablesync.pid");
}

int tablesync_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(tablesync_pid(env), "emailng-tablesync", err);
}

/* The proxy's first bundle is there before the relays ask for it. */
int tablemaker_ready(const struct service_env *env, buf *detail)
{
    char *bundle = bundle_file(env);
    int rc = 0;
    if (tablesync_pid(env) == 0) {
        buf_printf(detail, "emailng-tablesync is not running (see %s/tablesync.log)", service_var(env, "log_dir"));
        rc = -1;
    } else if (!fs_exists(bundle)) {
        buf_printf(detail, "no tables made from the directory yet (%s; see %s/tablesync.log)", bundle,
                   service_var(env, "log_dir"));
        rc = -1;
    }
    free(bundle);
    return rc;
}

int tablepull_ready(const struct service_env *env, buf *detail)
{
    if (tablesync_pid(env) != 0)
        return 0;
    buf_printf(detail, "emailng-tablesync is not running (see %s/tablesync.log)", service_var(env, "log_dir"));
    return -1;
}

/* Its arguments come from the site, not from a rendered configuration:
 * when they differ from those it runs with, it is restarted here. */
static int restart_if_changed(const struct service_env *env,
                              void (*make_args)(const struct service_env *, struct args *),
                              int (*ready)(const struct service_env *, buf *), buf *err)
{
    struct args a = {0};
    make_args(env, &a);
    buf want = BUF_INIT, have = BUF_INIT, ignored = BUF_INIT;
    args_text(&a, &want);
    char *file = args_file(env);
    int same = fs_read_file(file, 1 << 20, &have, &ignored) == 0 && have.len == want.len
               && memcmp(have.data, want.data, want.len) == 0;
    int rc = 0;
    if (!same) {
        printf("  %-8s restarting for new arguments\n", "tablesync");
        rc = tablesync_stop(env, err);
        if (rc == 0)
            rc = start(env, make_args, err);
        for (int tries = 0; rc == 0 && ready(env, &ignored) != 0; tries++) {
            if (tries == 100) {
                buf_printf(err, "emailng-tablesync did not come back: %s", buf_cstr(&ignored));
                rc = -1;
            }
            buf_reset(&ignored);
            usleep(100 * 1000);
        }
    }
    free(file);
    buf_free(&want);
    buf_free(&have);
    buf_free(&ignored);
    args_free(&a);
    return rc;
}

int tablemaker_after_start(const struct service_env *env, buf *err)
{
    return restart_if_changed(env, maker_args, tablemaker_ready, err);
}

int tablepull_after_start(const struct service_env *env, buf *err)
{
    return restart_if_changed(env, puller_args, tablepull_ready, err);
}
