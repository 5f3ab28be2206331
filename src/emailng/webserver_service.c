/* webserver_service: prepare, start, check, reload and stop nginx; see
 * webserver_service.h. */
#include "webserver_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_config.h"
#include "fsutil.h"
#include "process.h"

#define NGINX "/usr/sbin/nginx"
/* The unprivileged user of nginx's workers (Debian's, in base-passwd). */
#define NGINX_WORKER_USER "www-data"

int webserver_prepare(const struct service_env *env, buf *err)
{
    /* RUN/nginx: the master's pid file (root); DATA/nginx: the workers'
     * temporary files (request bodies), nobody else's. */
    char *run = service_path(env, "run_dir", "nginx");
    char *data = service_path(env, "data_dir", "nginx");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "data_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(data, NGINX_WORKER_USER, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    /* nginx creates its logs world-readable (0644): made first, for root
     * and adm only (the access log holds the addresses clients asked for). */
    static const char *const logs[] = {"nginx-access.log", "nginx-error.log"};
    for (size_t i = 0; rc == 0 && i < sizeof logs / sizeof logs[0]; i++) {
        char *log = service_path(env, "log_dir", logs[i]);
        rc = fs_ensure_file(log, NULL, "adm", 0640, err);
        free(log);
    }
    /* lego's HTTP-01 tokens (root writes, the workers read). */
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "acme_webroot"), NULL, NULL, 0755, err);
    free(run);
    free(data);
    return rc;
}

/* nginx -c CONF -e LOG ARGS...: -e, because nginx opens its compiled-in
 * error log (/var/log/nginx) before it reads the configuration. */
static int run_nginx(const struct service_env *env, const char *signal, buf *err)
{
    char *conf = service_path(env, "etc_dir", "nginx/nginx.conf");
    char *log = service_path(env, "log_dir", "nginx-error.log");
    const char *argv[] = {NGINX, "-c", conf, "-e", log, signal ? "-s" : NULL, signal, NULL};
    int rc = 0;
    if (access(NGINX, X_OK) != 0) {
        buf_printf(err, "%s is missing (Debian package nginx-light; scripts/install-deps.sh)", NGINX);
        rc = -1;
    }
    if (rc == 0)
        rc = service_run(argv, err);
    free(conf);
    free(log);
    return rc;
}

int webserver_start(const struct service_env *env, buf *err)
{
    /* A pid file left by a killed master would make nginx's own checks
     * and ours see a stale pid. */
    if (webserver_pid(env) == 0) {
        char *pid_file = service_path(env, "run_dir", "nginx/nginx.pid");
        unlink(pid_file);
        free(pid_file);
    }
    return run_nginx(env, NULL, err);     /* the master forks and writes its pid file */
}

/* The master's pid file names a live process and HTTPS accepts connections. */
int webserver_ready(const struct service_env *env, buf *detail)
{
    const char *address = service_var(env, "host_address");
    int port = service_port(env, "port_https");
    if (webserver_pid(env) == 0) {
        buf_printf(detail, "no live pid in %s/nginx/nginx.pid yet", service_var(env, "run_dir"));
        return -1;
    }
    if (!tcp_listening(address, port)) {
        buf_printf(detail, "nothing listens on %s:%d (see %s/nginx-error.log)", address, port,
                   service_var(env, "log_dir"));
        return -1;
    }
    return 0;
}

pid_t webserver_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "nginx/nginx.pid");
}

int webserver_stop(const struct service_env *env, buf *err)
{
    /* The workers exit with their master (SIGTERM: fast shutdown). */
    pid_t pid = webserver_pid(env);
    if (pid && process_stop_tree(pid, 20) != 0) {
        buf_printf(err, "nginx (pid %ld) did not stop", (long)pid);
        return -1;
    }
    return 0;
}

/* SIGHUP through nginx -s reload: new workers with the new certificate,
 * the old ones finish their requests. */
int webserver_reload(const struct service_env *env, buf *err)
{
    return run_nginx(env, "reload", err);
}

char *webserver_acme_webroot(const struct service_env *env)
{
    if (webserver_pid(env) == 0 || !client_config_serves_http(env->site)
        || !tcp_listening(service_var(env, "host_address"), service_port(env, "port_http")))
        return NULL;
    return xstrdup(service_var(env, "acme_webroot"));
}

int webserver_yield_http(const struct service_env *env, buf *err)
{
    pid_t pid = webserver_pid(env);
    if (pid == 0 || !tcp_listening(service_var(env, "host_address"), service_port(env, "port_http")))
        return 0;
    int rc = webserver_stop(env, err);
    if (rc == 0)
        printf("  %-8s stopped: port 80 goes to the ACME forwarder (was pid %ld; started again below)\n", "nginx",
               (long)pid);
    return rc;
}

int webserver_port_open(const struct service_env *env, const char *name)
{
    return strcmp(name, "port_http") != 0 || client_config_serves_http(env->site);
}
