/* acme_forward_service: port 80 forwarded to the ordering host's lego; see
 * acme_forward_service.h. */
#include "acme_forward_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"
#include "public_cert.h"
#include "public_names.h"
#include "webserver_service.h"

#define SOCAT "/usr/bin/socat"
#define HTTP_PORT 80
/* Bounds for what the internet can make it hold: connections at once,
 * and seconds of silence before one is closed. */
#define MAX_CONNECTIONS "32"
#define IDLE_SECONDS "30"

static int needed(const struct service_env *env)
{
    buf names = BUF_INIT;
    public_names_of_host(env->site, env->host, &names);
    int yes = env->site->cert_source == CERT_SOURCE_ACME && env->site->n_hosts > 1 && names.len > 0;
    buf_free(&names);
    return yes;
}

int acme_forward_wanted(const struct service_env *env)
{
    return needed(env) || acme_forward_pid(env) != 0;
}

int acme_forward_prepare(const struct service_env *env, buf *err)
{
    char *dir = service_path(env, "run_dir", "acme-forward");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, NULL, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    free(dir);
    return rc;
}

/* socat's address of host:port (IPv6 in brackets with the 6 variants). */
static char *socat_address(const char *kind, const char *address, int port, const char *options)
{
    int v6 = strchr(address, ':') != NULL;
    if (strcmp(kind, "TCP-LISTEN") == 0)
        return xasprintf("TCP%s-LISTEN:%d,bind=%s%s%s,%s", v6 ? "6" : "", port, v6 ? "[" : "", address,
                         v6 ? "]" : "", options);
    return xasprintf("TCP%s:%s%s%s:%d", v6 ? "6" : "", v6 ? "[" : "", address, v6 ? "]" : "", port);
}

int acme_forward_start(const struct service_env *env, buf *err)
{
    const struct site_host *orderer = public_names_orderer(env->site, env->host);
    char *log = service_path(env, "log_dir", "acme-forward.log");
    char *pid_file = service_path(env, "run_dir", "acme-forward/socat.pid");
    /* Connections are served as nobody; the listener binds 80 as root. */
    char *listen = socat_address("TCP-LISTEN", env->host->address, HTTP_PORT,
                                 "fork,reuseaddr,max-children=" MAX_CONNECTIONS ",su=nobody");
    char *target = socat_address("TCP", orderer->address, ACME_LEGO_PORT, NULL);
    /* socat writes no pid file: the shell writes its own pid, then
     * becomes socat ($0 is the pid file, the rest socat's arguments). */
    const char *argv[] = {"/bin/sh", "-c", "echo $$ > \"$0\" && exec " SOCAT " \"$@\"", pid_file,
                          "-T", IDLE_SECONDS, listen, target, NULL};
    /* nginx of this host, from before tls.source acme, may hold port 80. */
    int rc = webserver_yield_http(env, err);
    if (rc == 0 && access(SOCAT, X_OK) != 0) {
        buf_printf(err, "%s is missing (Debian package socat; scripts/install-deps.sh)", SOCAT);
        rc = -1;
    }
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(listen);
    free(target);
    free(log);
    free(pid_file);
    return rc;
}

int acme_forward_ready(const struct service_env *env, buf *detail)
{
    if (tcp_listening(env->host->address, HTTP_PORT))
        return 0;
    buf_printf(detail, "nothing listens on %s:%d (see %s/acme-forward.log)", env->host->address, HTTP_PORT,
               service_var(env, "log_dir"));
    return -1;
}

pid_t acme_forward_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "acme-forward/socat.pid");
}

int acme_forward_stop(const struct service_env *env, buf *err)
{
    int rc = service_stop_pid(acme_forward_pid(env), "socat (acme forward)", err);
    /* socat leaves its pid file behind (the shell wrote it); a stopped
     * forwarder may linger as a zombie until init reaps it, and its pid
     * is free for reuse: the file must not name it any more. */
    char *pid_file = service_path(env, "run_dir", "acme-forward/socat.pid");
    if (rc == 0 && unlink(pid_file) != 0 && errno != ENOENT) {
        buf_printf(err, "cannot remove %s: %s", pid_file, strerror(errno));
        rc = -1;
    }
    free(pid_file);
    return rc;
}

int acme_forward_after_start(const struct service_env *env, buf *err)
{
    if (!needed(env)) {
        printf("  %-8s stopped: tls.source is no longer acme\n", "acme-forward");
        return acme_forward_stop(env, err);
    }
    buf warning = BUF_INIT;
    int changed = 0;
    int rc = public_cert_ensure(env->site, env->state_dir, env->host, 0, &changed, &warning, err);
    if (warning.len)
        fprintf(stderr, "emailng: up: warning: %s\n", buf_cstr(&warning));
    buf_free(&warning);
    /* Daemons already running take it now; those that start later read it. */
    if (rc == 0 && changed)
        rc = public_cert_reload(env->site, env->state_dir, env->host, err);
    return rc;
}
