/* metrics_service: see metrics_service.h. */
#include "metrics_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "filter_services.h"
#include "healthd_service.h"
#include "process.h"
#include "replication.h"
#include "syncwatch_service.h"

int metrics_wanted(const struct service_env *env)
{
    return env->site->metrics.enabled;
}

void metrics_endpoints(const struct service_env *env, buf *text, buf *json)
{
    static const struct {
        unsigned roles;
        const char *port_var;
    } endpoints[] = {
        {ROLE_PROXY | ROLE_STORE, "port_metrics_dovecot"},
        {ROLE_RELAY | ROLE_STORE, "port_metrics_postfix"},
        {ROLE_ALL, "port_metrics_emailng"},
    };
    if (!metrics_wanted(env))
        return;
    const char *address = service_var(env, "metrics_address");
    int v6 = strchr(address, ':') != NULL;
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        if (!(env->host->roles & endpoints[i].roles))
            continue;
        char *url = xasprintf("http://%s%s%s:%s/metrics", v6 ? "[" : "", address, v6 ? "]" : "",
                              service_var(env, endpoints[i].port_var));
        buf_printf(text, "%s%s", text->len ? " " : "", url);
        buf_printf(json, "%s\"%s\"", json->len ? "," : "", url);
        free(url);
    }
}

/* Its port accepts connections (HTTP needs a request first: no greeting
 * to wait for). */
static int metrics_answers(const struct service_env *env, const char *port_var, buf *detail)
{
    const char *address = service_var(env, "metrics_address");
    int port = service_port(env, port_var);
    if (!tcp_listening(address, port)) {
        buf_printf(detail, "nothing listens on %s port %d yet", address, port);
        return -1;
    }
    return 0;
}

/* A folder of RUN for a pid file the daemon writes as METRICS_USER. */
static int run_subdir(const struct service_env *env, const char *name, buf *err)
{
    char *dir = service_path(env, "run_dir", name);
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, METRICS_USER, NULL, 0755, err);
    free(dir);
    return rc;
}

/* ---- prometheus-postfix-exporter ---------------------------------------- */

int postfix_exporter_prepare(const struct service_env *env, buf *err)
{
    if (access(POSTFIX_EXPORTER, X_OK) != 0) {
        buf_printf(err, "%s is missing: install Debian's prometheus-postfix-exporter (scripts/install-deps.sh), "
                   "or set metrics.enabled: false", POSTFIX_EXPORTER);
        return -1;
    }
    return run_subdir(env, "postfix-exporter", err);
}

int postfix_exporter_start(const struct service_env *env, buf *err)
{
    char *pid_file = service_path(env, "run_dir", "postfix-exporter/postfix-exporter.pid");
    char *log = service_path(env, "log_dir", "postfix-exporter.log");
    char *listen = xasprintf("--web.listen-address=%s%s%s:%s", strchr(service_var(env, "metrics_address"), ':') ? "[" : "",
                             service_var(env, "metrics_address"),
                             strchr(service_var(env, "metrics_address"), ':') ? "]" : "",
                             service_var(env, "port_metrics_postfix"));
    char *showq = xasprintf("--postfix.showq_path=%s/postfix/queue/public/showq", service_var(env, "data_dir"));
    char *logfile = xasprintf("--postfix.logfile_path=%s/postfix.log", service_var(env, "log_dir"));
    /* It writes no pid file: the shell writes its own pid and execs the
     * exporter, which keeps that pid. setpriv drops root: the exporter
     * needs group postdrop for Postfix's public/showq socket and group adm
     * for postfix.log (0640 root:adm), nothing else. */
    const char *argv[] = {"/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", pid_file,
                          "/usr/bin/setpriv", "--reuid=" METRICS_USER, "--regid=" METRICS_USER,
                          "--groups=postdrop,adm", "--inh-caps=-all", "--no-new-privs", "--",
                          POSTFIX_EXPORTER, listen, showq, logfile, NULL};
    int rc = process_spawn_daemon(argv, log, err);
    free(pid_file);
    free(log);
    free(listen);
    free(showq);
    free(logfile);
    return rc;
}

int postfix_exporter_ready(const struct service_env *env, buf *detail)
{
    if (postfix_exporter_pid(env) == 0) {
        buf_printf(detail, "prometheus-postfix-exporter is not running (see %s/postfix-exporter.log)",
                   service_var(env, "log_dir"));
        return -1;
    }
    return metrics_answers(env, "port_metrics_postfix", detail);
}

pid_t postfix_exporter_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "postfix-exporter/postfix-exporter.pid");
}

int postfix_exporter_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(postfix_exporter_pid(env), "prometheus-postfix-exporter", err);
}

/* ---- emailng-metricsd ---------------------------------------------------- */

int metricsd_prepare(const struct service_env *env, buf *err)
{
    return run_subdir(env, "metricsd", err);
}

/* "NAME=PATH" arguments of the folders whose volumes it reports: the
 * host's state, logs, and (where the role has them) mail and the queue. */
static void add_arg(const char ***argv, size_t *n, char ***owned, size_t *n_owned, char *arg)
{
    *argv = xrealloc(*argv, (*n + 2) * sizeof **argv);
    (*argv)[(*n)++] = arg;
    (*argv)[*n] = NULL;
    if (owned) {
        *owned = xrealloc(*owned, (*n_owned + 1) * sizeof **owned);
        (*owned)[(*n_owned)++] = arg;
    }
}

/* Our daemons on this host whose running state (pid file) and counters
 * (the file each writes in Prometheus' text format) metricsd reports:
 * DIR_VAR/REST paths as the daemon's template or service gives them. */
static const struct {
    const char *name;
    unsigned roles;
    int (*wanted)(const struct service_env *env);   /* NULL: every host of the roles */
    const char *pid_dir, *pid_rest, *metrics_dir, *metrics_rest;
} own_daemons[] = {
    /* templates/policyd/policyd.conf: metrics_file */
    {"policyd", ROLE_RELAY, NULL, "run_dir", "policyd.pid", "data_dir", "policyd/metrics/policyd.prom"},
    /* templates/healthd/healthd.yaml: metrics_file */
    {"healthd", ROLE_PROXY, healthd_wanted, "run_dir", "healthd/healthd.pid", "data_dir", "healthd/metrics.prom"},
    {"syncwatch", ROLE_STORE, syncwatch_wanted, "run_dir", "syncwatch/syncwatch.pid", "run_dir",
     SYNCWATCH_METRICS_FILE},
};

int metricsd_start(const struct service_env *env, buf *err)
{
    char *program = process_program_next_to_us("emailng-metricsd", "emailng-metricsd");    /* else PATH */
    char *log = service_path(env, "log_dir", "metricsd.log");
    const char **argv = NULL;
    char **owned = NULL;
    size_t n = 0, n_owned = 0;
    unsigned roles = env->host->roles;
    add_arg(&argv, &n, NULL, NULL, program);
    add_arg(&argv, &n, NULL, NULL, "--listen");
    add_arg(&argv, &n, NULL, NULL, (char *)service_var(env, "metrics_address"));
    add_arg(&argv, &n, NULL, NULL, "--port");
    add_arg(&argv, &n, NULL, NULL, (char *)service_var(env, "port_metrics_emailng"));
    add_arg(&argv, &n, NULL, NULL, "--user");
    add_arg(&argv, &n, NULL, NULL, METRICS_USER);
    add_arg(&argv, &n, NULL, NULL, "--pid-file");
    add_arg(&argv, &n, &owned, &n_owned, service_path(env, "run_dir", "metricsd/metricsd.pid"));
    add_arg(&argv, &n, NULL, NULL, "--certificate");
    add_arg(&argv, &n, &owned, &n_owned, xasprintf("server=%s", service_var(env, "tls_cert")));
    add_arg(&argv, &n, NULL, NULL, "--certificate");
    add_arg(&argv, &n, &owned, &n_owned, xasprintf("ca=%s", service_var(env, "tls_ca")));
    add_arg(&argv, &n, NULL, NULL, "--volume");
    add_arg(&argv, &n, &owned, &n_owned, xasprintf("state=%s", service_var(env, "data_dir")));
    add_arg(&argv, &n, NULL, NULL, "--volume");
    add_arg(&argv, &n, &owned, &n_owned, xasprintf("log=%s", service_var(env, "log_dir")));
    if (roles & ROLE_STORE) {
        add_arg(&argv, &n, NULL, NULL, "--volume");
        add_arg(&argv, &n, &owned, &n_owned, xasprintf("mail=%s/mail", service_var(env, "data_dir")));
    }
    if (roles & (ROLE_RELAY | ROLE_STORE)) {
        add_arg(&argv, &n, NULL, NULL, "--volume");
        add_arg(&argv, &n, &owned, &n_owned, xasprintf("queue=%s/postfix/queue", service_var(env, "data_dir")));
    }
    /* A proxy's health monitor: the state of every store it sees. */
    if (healthd_wanted(env)) {
        add_arg(&argv, &n, NULL, NULL, "--healthd-status");
        add_arg(&argv, &n, &owned, &n_owned, service_path(env, "data_dir", "healthd/status"));
        add_arg(&argv, &n, NULL, NULL, "--healthd-pid-file");
        add_arg(&argv, &n, &owned, &n_owned, service_path(env, "run_dir", "healthd/healthd.pid"));
    }
    /* A store of a pair: its replicator, asked through its own doveadm
     * server with the pair's secret (read before dropping root). */
    if ((roles & ROLE_STORE) && *service_var(env, "replica_address")) {
        add_arg(&argv, &n, NULL, NULL, "--replication");
        add_arg(&argv, &n, &owned, &n_owned,
                xasprintf("%s:%s", service_var(env, "host_address"), service_var(env, "port_doveadm")));
        add_arg(&argv, &n, NULL, NULL, "--ca");
        add_arg(&argv, &n, NULL, NULL, (char *)service_var(env, "tls_ca"));
        add_arg(&argv, &n, NULL, NULL, "--secret-file");
        add_arg(&argv, &n, &owned, &n_owned, replication_secret_path(env->state_dir));
    }
    for (size_t i = 0; i < sizeof own_daemons / sizeof own_daemons[0]; i++) {
        if (!(roles & own_daemons[i].roles) || (own_daemons[i].wanted && !own_daemons[i].wanted(env)))
            continue;
        char *pid = service_path(env, own_daemons[i].pid_dir, own_daemons[i].pid_rest);
        char *metrics = service_path(env, own_daemons[i].metrics_dir, own_daemons[i].metrics_rest);
        add_arg(&argv, &n, NULL, NULL, "--daemon");
        add_arg(&argv, &n, &owned, &n_owned, xasprintf("%s=%s", own_daemons[i].name, pid));
        add_arg(&argv, &n, NULL, NULL, "--daemon-metrics");
        add_arg(&argv, &n, &owned, &n_owned, xasprintf("%s=%s", own_daemons[i].name, metrics));
        free(pid);
        free(metrics);
    }
    /* amavisd's quarantine: its folder is group METRICS_USER (list and
     * stat the files; amavisd_prepare), the messages stay amavis'. */
    if ((roles & ROLE_RELAY) && filter_wanted(env)) {
        add_arg(&argv, &n, NULL, NULL, "--quarantine");
        add_arg(&argv, &n, &owned, &n_owned, filter_quarantine_dir(env));
    }
    add_arg(&argv, &n, NULL, NULL, "-t");
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, " (emailng-metricsd is looked for next to emailng, then on PATH)");
    argv[--n] = NULL;     /* the same, without -t */
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    free(program);
    free(log);
    return rc;
}

int metricsd_ready(const struct service_env *env, buf *detail)
{
    if (metricsd_pid(env) == 0) {
        buf_printf(detail, "emailng-metricsd is not running (see %s/metricsd.log)", service_var(env, "log_dir"));
        return -1;
    }
    return metrics_answers(env, "port_metrics_emailng", detail);
}

pid_t metricsd_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "metricsd/metricsd.pid");
}

int metricsd_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(metricsd_pid(env), "emailng-metricsd", err);
}
