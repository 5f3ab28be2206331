/* services: prepare, start, check and stop slapd, Dovecot and Postfix; see
 * services.h. The commands are the daemons' own (docs/internals.md). */
#include "services.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alt_storage.h"
#include "directory.h"
#include "directory_setup.h"
#include "dmarc_service.h"
#include "fail2ban_service.h"
#include "filter_services.h"
#include "fsutil.h"
#include "healthd_service.h"
#include "metrics_service.h"
#include "host_limits.h"
#include "acme_forward_service.h"
#include "autodiscover_service.h"
#include "fromcheck_service.h"
#include "opendkim_service.h"
#include "policyd_service.h"
#include "process.h"
#include "relay_tables.h"
#include "replication.h"
#include "resolver_service.h"
#include "mtasts_service.h"
#include "srs_service.h"
#include "tlspolicy_service.h"
#include "webserver_service.h"
#include "webmail_service.h"
#include "junklist_service.h"
#include "store_pairs.h"
#include "syncwatch_service.h"
#include "tablesync_service.h"

const char *service_var(const struct service_env *env, const char *name)
{
    const char *v = render_context_get(&env->ctx, name);
    return v ? v : "";
}

const char *service_component(const struct service *svc)
{
    return svc->component ? svc->component : svc->name;
}

int service_port(const struct service_env *env, const char *name)
{
    return atoi(service_var(env, name));
}

int service_env_init(struct service_env *env, const struct site *site,
                     const struct site_host *host, const char *state_dir, buf *err)
{
    memset(env, 0, sizeof *env);
    env->site = site;
    env->host = host;
    env->state_dir = state_dir;
    return render_context_for_host(site, host, state_dir, &env->ctx, err);
}

void service_env_free(struct service_env *env)
{
    render_context_free(&env->ctx);
}

char *service_path(const struct service_env *env, const char *dir_var, const char *rest)
{
    return xasprintf("%s/%s", service_var(env, dir_var), rest);
}

pid_t service_pidfile(const struct service_env *env, const char *dir_var, const char *rest)
{
    char *pidfile = service_path(env, dir_var, rest);
    pid_t pid = pidfile_read(pidfile);
    free(pidfile);
    return pid;
}

int service_run(const char *const argv[], buf *err)
{
    buf output = BUF_INIT;
    int rc = process_run(argv, NULL, &output, err);
    if (rc != 0 && rc != -1) {
        buf_printf(err, "%s exited with status %d", argv[0], rc);
        if (output.len)
            buf_printf(err, ":\n%s", buf_cstr(&output));
    }
    buf_free(&output);
    return rc == 0 ? 0 : -1;
}

/* ---- slapd --------------------------------------------------------------- */

static int slapd_prepare(const struct service_env *env, buf *err)
{
    char *db = service_path(env, "data_dir", "ldap");
    char *run_slapd = service_path(env, "run_dir", "slapd");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(db, "openldap", "openldap", 0700, err);
    /* slapd writes and removes its pid file after dropping to openldap. */
    if (rc == 0)
        rc = fs_ensure_dir(run_slapd, "openldap", "openldap", 0755, err);
    free(db);
    free(run_slapd);
    return rc;
}

static int slapd_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "slapd/slapd.conf");
    /* ldapi (and LDAPS on the directory host of several hosts). */
    char *listen = xstrdup(service_var(env, "slapd_urls"));
    char *log = service_path(env, "log_dir", "slapd.log");
    /* slapd 2.5 logs only to syslog or, with -d, to stderr: run it in the
     * foreground with "-d stats" and its stderr appended to slapd.log. */
    const char *argv[] = {"/usr/sbin/slapd", "-f", conf, "-h", listen,
                          "-u", "openldap", "-g", "openldap", "-d", "stats", NULL};
    /* A stale socket from a killed slapd would make the bind fail. */
    unlink(service_var(env, "ldap_socket"));
    int rc = process_spawn_daemon(argv, log, err);
    free(conf);
    free(listen);
    free(log);
    return rc;
}

static int slapd_ready(const struct service_env *env, buf *detail)
{
    struct directory *d = NULL;
    if (directory_open(&d, service_var(env, "ldap_uri"), service_var(env, "ldap_base"), detail) != 0)
        return -1;
    directory_close(d);
    return 0;
}

static pid_t slapd_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "slapd/slapd.pid");
}

int service_stop_pid(pid_t pid, const char *name, buf *err)
{
    if (pid == 0)
        return 0;
    if (process_stop(pid, 20) != 0) {
        buf_printf(err, "%s (pid %ld) did not stop", name, (long)pid);
        return -1;
    }
    return 0;
}

static int slapd_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(slapd_pid(env), "slapd", err);
}

/* ---- Dovecot ------------------------------------------------------------- */

/* A proxy's pair -> store table (DATA/healthd/pairs.passwd, the second
 * passdb of templates/dovecot-proxy). emailng-healthd owns it once it runs
 * (docs/healthd.md); until then, and if it was never written, every pair
 * goes to its first store. */
static int proxy_pairs_ensure(const struct service_env *env, buf *err)
{
    char *dir = service_path(env, "data_dir", "healthd");
    char *file = service_path(env, "data_dir", "healthd/pairs.passwd");
    int rc = fs_ensure_dir(dir, HEALTHD_USER, NULL, 0755, err);
    if (rc == 0 && !fs_exists(file)) {
        buf text = BUF_INIT;
        store_pairs_default_passwd(env->site, &text);
        rc = fs_write_file(file, text.data ? text.data : "", text.len, 0644, err);
        buf_free(&text);
    }
    free(dir);
    free(file);
    return rc;
}

static int dovecot_prepare(const struct service_env *env, buf *err)
{
    char *mail = service_path(env, "data_dir", "mail");
    char *sieve = service_path(env, "data_dir", "sieve");
    int rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0 && env->host->roles == ROLE_PROXY)
        rc = proxy_pairs_ensure(env, err);
    /* A store of a pair: the pair's doveadm secret (dovecot.conf reads it). */
    if (rc == 0 && env->host->roles == ROLE_STORE && site_store_partner(env->site, env->host))
        rc = replication_secret_ensure(env->state_dir, err);
    if (rc == 0)
        rc = fs_ensure_dir(mail, "vmail", "vmail", 0700, err);
    if (rc == 0)   /* compiled global Sieve scripts */
        rc = fs_ensure_dir(sieve, "vmail", "vmail", 0700, err);
    /* shared-folders.conf: the ACL plugin's shared-mailbox dictionary and
     * the public namespace's mailboxes, both written by the mail processes. */
    static const char *const shared_dirs[] = {"shared", "public"};
    for (size_t i = 0; rc == 0 && (env->host->roles & ROLE_STORE) && i < 2; i++) {
        char *dir = service_path(env, "data_dir", shared_dirs[i]);
        rc = fs_ensure_dir(dir, "vmail", "vmail", 0700, err);
        free(dir);
    }
    if (rc == 0 && (env->host->roles & ROLE_STORE)) {   /* quota-warning.sh's dovecot-lda writes as vmail */
        char *notices = service_path(env, "log_dir", "quota-warning.log");
        rc = fs_ensure_file(notices, "vmail", "vmail", 0640, err);
        free(notices);
    }
    if (rc == 0 && (env->host->roles & ROLE_STORE)) {
        buf missing = BUF_INIT;
        rc = alt_storage_prepare(env->site, env->host, env->state_dir, &missing, err);
        if (missing.len)
            fprintf(stderr, "\nwarning: %s\n", buf_cstr(&missing));
        buf_free(&missing);
    }
    /* A store's IDLE sessions need inotify instances of the mail uid; a
     * host that does not let us raise them still serves mail (push
     * becomes polling): a warning, also shown by `status`. */
    if (rc == 0 && (env->host->roles & ROLE_STORE)) {
        buf low = BUF_INIT;
        if (host_kernel_limits_raise("/proc/sys", &low) > 0) {
            fputc('\n', stderr);
            host_limits_warn(stderr, "", buf_cstr(&low));
        }
        buf_free(&low);
    }
    free(mail);
    free(sieve);
    return rc;
}

static pid_t dovecot_pid(const struct service_env *env);

static int dovecot_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "dovecot/dovecot.conf");
    const char *argv[] = {"/usr/sbin/dovecot", "-c", conf, NULL};
    /* After a crash (kill -9) the master's pid file remains; Dovecot
     * refuses to start while that pid exists, even as an unreaped zombie. */
    if (dovecot_pid(env) == 0) {
        char *pidfile = service_path(env, "run_dir", "dovecot/master.pid");
        unlink(pidfile);
        free(pidfile);
    }
    /* Dovecot keeps the descriptor limit it is started with (its login
     * processes hold thousands of TLS sessions); ours goes back after. */
    struct rlimit saved;
    buf low = BUF_INIT;
    int raised = host_nofile_raise(HOST_NOFILE_WANT, &saved, &low);
    if (raised != 0)
        fprintf(stderr, "\nemailng: warning: dovecot: %s; fewer concurrent sessions fit\n", buf_cstr(&low));
    buf_free(&low);
    int rc = service_run(argv, err);
    if (raised >= 0 && setrlimit(RLIMIT_NOFILE, &saved) != 0 && rc == 0) {
        buf_printf(err, "cannot restore RLIMIT_NOFILE: %s", strerror(errno));
        rc = -1;
    }
    free(conf);
    return rc;
}

static int dovecot_ready(const struct service_env *env, buf *detail)
{
    return tcp_greeting(service_var(env, "host_address"), service_port(env, "port_imap"), "* OK", 1000, detail);
}

/* A relay's auth-only Dovecot: ready when Postfix's socket answers. */
static pid_t dovecot_pid(const struct service_env *env);

/* The auth socket answers, and the master has written its pid file (the
 * socket can be there first; `up` reports the pid). */
static int dovecot_auth_ready(const struct service_env *env, buf *detail)
{
    char *socket = service_path(env, "run_dir", "dovecot/auth-postfix");
    int rc = unix_listening(socket) ? 0 : -1;
    if (rc != 0)
        buf_printf(detail, "%s does not accept connections yet", socket);
    else if (dovecot_pid(env) == 0) {
        buf_printf(detail, "no live pid in the master's pid file yet");
        rc = -1;
    }
    free(socket);
    return rc;
}

/* Only on a relay-only host (the small site's Dovecot already serves auth). */
static int relay_only(const struct service_env *env)
{
    return env->host->roles == ROLE_RELAY;
}

static pid_t dovecot_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "dovecot/master.pid");
}

static int dovecot_stop(const struct service_env *env, buf *err)
{
    /* And whatever of its children outlives the master: a dsync stalled on
     * a dead peer keeps its doveadm-server (and the log process) alive,
     * holding the user's dsync lock. */
    pid_t pid = dovecot_pid(env);
    if (pid && process_stop_tree(pid, 20) != 0) {
        buf_printf(err, "dovecot (pid %ld) did not stop", (long)pid);
        return -1;
    }
    return 0;
}

/* SIGHUP: the master reads its configuration (and ssl_cert) again; new
 * logins get the new certificate, running sessions keep theirs. */
static int dovecot_reload(const struct service_env *env, buf *err)
{
    pid_t pid = dovecot_pid(env);
    if (pid == 0 || kill(pid, SIGHUP) != 0) {
        buf_printf(err, "cannot signal dovecot (pid %ld) to reload: %s", (long)pid,
                   pid ? strerror(errno) : "not running");
        return -1;
    }
    return 0;
}

/* ---- Postfix ------------------------------------------------------------- */

static int postfix_prepare(const struct service_env *env, buf *err)
{
    /* queue_directory must be root-owned; `postfix start` creates the
     * queue folders and data_directory with Postfix's own owners. */
    char *queue = service_path(env, "data_dir", "postfix/queue");
    char *log = service_path(env, "log_dir", "postfix.log");
    int rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    /* postlogd would create its log 0644 (addresses, logins: for the
     * administrators, Debian's group adm, not every local user); it keeps
     * the mode of a file that exists. */
    if (rc == 0)
        rc = fs_ensure_file(log, NULL, "adm", 0640, err);
    if (rc == 0)
        rc = fs_ensure_dir(queue, NULL, NULL, 0755, err);
    /* A relay of several hosts reads exported tables (relay_tables.h). */
    if (rc == 0 && env->host->roles == ROLE_RELAY && env->site->n_hosts > 1)
        rc = relay_tables_ensure(env->state_dir, env->host->name, err);
    free(log);
    free(queue);
    return rc;
}

static int postfix_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "postfix");
    const char *argv[] = {"/usr/sbin/postfix", "-c", conf, "start", NULL};
    int rc = service_run(argv, err);
    free(conf);
    return rc;
}

static int postfix_ready(const struct service_env *env, buf *detail)
{
    return tcp_greeting(service_var(env, "host_address"), service_port(env, "port_smtp"), "220", 1000, detail);
}

static pid_t postfix_pid(const struct service_env *env)
{
    return service_pidfile(env, "data_dir", "postfix/queue/pid/master.pid");
}

static int postfix_stop(const struct service_env *env, buf *err)
{
    pid_t pid = postfix_pid(env);
    if (pid == 0)
        return 0;
    char *conf = service_path(env, "etc_dir", "postfix");
    const char *argv[] = {"/usr/sbin/postfix", "-c", conf, "stop", NULL};
    buf ignored = BUF_INIT;
    service_run(argv, &ignored);     /* falls back to the pid below if this fails */
    buf_free(&ignored);
    free(conf);
    return service_stop_pid(pid, "postfix", err);
}

/* The master re-reads main.cf and tells its children to finish their
 * session and exit: new smtpd processes load the new certificate. */
static int postfix_reload(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "postfix");
    const char *argv[] = {"/usr/sbin/postfix", "-c", conf, "reload", NULL};
    int rc = service_run(argv, err);
    free(conf);
    return rc;
}

static long count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) == 0)
            n += S_ISDIR(st.st_mode) ? count_files(path) : 1;
        free(path);
    }
    closedir(d);
    return n;
}

long postfix_queue_size(const struct service_env *env)
{
    static const char *const queues[] = {"maildrop", "incoming", "active", "deferred", "hold"};
    char *root = service_path(env, "data_dir", "postfix/queue");
    if (!fs_exists(root)) {
        free(root);
        return -1;
    }
    long total = 0;
    for (size_t i = 0; i < sizeof queues / sizeof queues[0]; i++) {
        char *q = xasprintf("%s/%s", root, queues[i]);
        total += count_files(q);
        free(q);
    }
    free(root);
    return total;
}

/* ---- the table ----------------------------------------------------------- */

static const char *const no_ports[] = {NULL};
/* The small site's LMTP is a unix socket only Postfix may open (no port). */
static const char *const dovecot_ports[] = {"port_imap", "port_imaps", "port_pop3", "port_pop3s",
                                            "port_managesieve", "port_quota_status", "port_metrics_dovecot",
                                            NULL};
static const char *const postfix_ports[] = {"port_smtp", "port_submission", "port_submissions", NULL};
static const char *const resolver_ports[] = {"port_dns", NULL};
static const char *const postfix_exporter_ports[] = {"port_metrics_postfix", NULL};
static const char *const metricsd_ports[] = {"port_metrics_emailng", NULL};
static const char *const webserver_ports[] = {"port_https", "port_http", NULL};
/* The per-role variants of a site of several hosts (templates/COMPONENT-ROLE)
 * open only some of the ports; the relay's Dovecot only a local socket. */
static const char *const dovecot_proxy_ports[] = {"port_imap", "port_imaps", "port_pop3", "port_pop3s",
                                                  "port_managesieve", "port_lmtp", "port_metrics_dovecot", NULL};
static const char *const dovecot_store_ports[] = {"port_imap", "port_pop3", "port_managesieve", "port_lmtp",
                                                  "port_quota_status", "port_doveadm", "port_metrics_dovecot",
                                                  NULL};
static const char *const postfix_store_ports[] = {"port_smtp", NULL};
static const char *const slapd_directory_ports[] = {"port_ldaps", NULL};


/* Per kind of host of a site of several hosts (host_kind.h), where the
 * role's variant of the daemon opens fewer (or other) ports. */
static const struct service_ports dovecot_ports_by_kind[] = {
    {ROLE_PROXY, dovecot_proxy_ports},
    {ROLE_STORE, dovecot_store_ports},
    {0, NULL},
};
static const struct service_ports postfix_ports_by_kind[] = {
    {ROLE_STORE, postfix_store_ports},
    {0, NULL},
};
static const struct service_ports slapd_ports_by_kind[] = {
    {ROLE_DIRECTORY, slapd_directory_ports},
    {0, NULL},
};

/* The start order; `down` stops in reverse. */
const struct service services[] = {
    {.name = "slapd", .roles = ROLE_DIRECTORY,
     .prepare = slapd_prepare, .start = slapd_start, .ready = slapd_ready, .pid = slapd_pid, .stop = slapd_stop,
     .ports = no_ports, .ports_by_kind = slapd_ports_by_kind, .local_endpoint = "ldapi",
     .uses_certificates = 1, .after_start = directory_setup},
    /* A relay's caching resolver (resolver_service.c): every later daemon resolves through it. */
    {.name = "unbound", .roles = ROLE_RELAY,
     .prepare = resolver_prepare, .start = resolver_start, .ready = resolver_ready, .pid = resolver_pid,
     .stop = resolver_stop, .ports = resolver_ports, .wanted = resolver_wanted},
    /* tls.source acme on several hosts (acme_forward_service.c): port 80
     * to the ordering host's lego, then this host's certificate ordered or
     * taken: before the daemons that serve it. */
    {.name = "acme-forward", .roles = ROLE_RELAY | ROLE_PROXY,
     .prepare = acme_forward_prepare, .start = acme_forward_start, .ready = acme_forward_ready,
     .pid = acme_forward_pid, .stop = acme_forward_stop, .ports = no_ports, .wanted = acme_forward_wanted,
     .after_start = acme_forward_after_start},
    /* A proxy's store monitor (healthd_service.c) owns the pair table its
     * Dovecot reads: up before Dovecot, stopped after it. */
    {.name = "healthd", .roles = ROLE_PROXY,
     .prepare = healthd_prepare, .start = healthd_start, .ready = healthd_ready, .pid = healthd_pid,
     .stop = healthd_stop, .ports = no_ports, .wanted = healthd_wanted},
    {.name = "dovecot", .roles = ROLE_STORE | ROLE_PROXY,
     .prepare = dovecot_prepare, .start = dovecot_start, .ready = dovecot_ready, .pid = dovecot_pid,
     .stop = dovecot_stop, .ports = dovecot_ports, .ports_by_kind = dovecot_ports_by_kind, .uses_certificates = 1,
     .reload = dovecot_reload},
    /* Outlook's autodiscover POST, checked and answered for nginx over
     * FastCGI (autodiscover_service.h): up before nginx; its settings are
     * nginx's rendered file, so it restarts with nginx's configuration. */
    {.name = "autodiscover", .roles = ROLE_PROXY,
     .prepare = autodiscover_prepare, .start = autodiscover_start, .ready = autodiscover_ready,
     .pid = autodiscover_pid, .stop = autodiscover_stop, .ports = no_ports, .local_endpoint = "FastCGI socket",
     .component = "nginx"},
    /* The clients' auto-configuration and the MTA-STS policy over HTTPS
     * (webserver_service.c): after acme-forward, which gets a proxy's
     * ACME certificate. */
    {.name = "nginx", .roles = ROLE_PROXY,
     .prepare = webserver_prepare, .start = webserver_start, .ready = webserver_ready, .pid = webserver_pid,
     .stop = webserver_stop, .ports = webserver_ports, .uses_certificates = 1, .reload = webserver_reload},
    /* The relays' tables from the directory, served by that nginx to the
     * relays (tablesync_service.h). */
    {.name = "tablemaker", .roles = ROLE_PROXY,
     .prepare = tablemaker_prepare, .start = tablemaker_start, .ready = tablemaker_ready, .pid = tablesync_pid,
     .stop = tablesync_stop, .ports = no_ports, .wanted = tablemaker_wanted, .after_start = tablemaker_after_start},
    /* The webmail's password changes (webmail_service.h), before php-fpm. */
    {.name = "passwd", .roles = ROLE_PROXY,
     .prepare = webmail_passwd_prepare, .start = webmail_passwd_start, .ready = webmail_passwd_ready,
     .pid = webmail_passwd_pid, .stop = webmail_passwd_stop, .ports = no_ports, .local_endpoint = "unix socket",
     .wanted = webmail_passwd_wanted, .component = "roundcube"},
    /* The webmail's Junk buttons teach the spam lists (junklist_service.h):
     * after Dovecot (it searches the user's mail), before php-fpm. */
    {.name = "junklist", .roles = ROLE_PROXY,
     .prepare = junklist_prepare, .start = junklist_start, .ready = junklist_ready,
     .pid = junklist_pid, .stop = junklist_stop, .ports = no_ports, .local_endpoint = "unix socket",
     .wanted = junklist_wanted, .component = "roundcube"},
    /* Roundcube under php-fpm (webmail_service.c), behind that nginx. */
    {.name = "php-fpm", .roles = ROLE_PROXY,
     .prepare = webmail_prepare, .start = webmail_start, .ready = webmail_ready, .pid = webmail_pid,
     .stop = webmail_stop, .ports = no_ports, .local_endpoint = "FastCGI socket", .wanted = webmail_wanted,
     .component = "roundcube"},
    /* A store's watch over Dovecot's replication (syncwatch_service.c):
     * it looks at the store's Dovecot processes, so up after Dovecot. */
    {.name = "syncwatch", .roles = ROLE_STORE,
     .prepare = syncwatch_prepare, .start = syncwatch_start, .ready = syncwatch_ready, .pid = syncwatch_pid,
     .stop = syncwatch_stop, .ports = no_ports, .wanted = syncwatch_wanted},
    /* The content filter (filter_services.c) is up before Postfix hands it mail. */
    {.name = "clamd", .roles = ROLE_RELAY,
     .prepare = clamd_prepare, .start = clamd_start, .ready = clamd_ready, .pid = clamd_pid, .stop = clamd_stop,
     .ports = no_ports, .wanted = filter_wanted, .component = "clamav"},
    {.name = "amavisd", .roles = ROLE_RELAY,
     .prepare = amavisd_prepare, .start = amavisd_start, .ready = amavisd_ready, .pid = amavisd_pid,
     .stop = amavisd_stop, .ports = no_ports, .local_endpoint = "lmtp sockets", .wanted = filter_wanted,
     .component = "amavis"},
    {.name = "clamav-milter", .roles = ROLE_RELAY,
     .prepare = clamav_milter_prepare, .start = clamav_milter_start, .ready = clamav_milter_ready,
     .pid = clamav_milter_pid, .stop = clamav_milter_stop, .ports = no_ports, .local_endpoint = "milter socket",
     .wanted = filter_milter_wanted, .component = "clamav"},
    /* A relay of several hosts: Dovecot's auth service for submission. */
    {.name = "dovecot", .roles = ROLE_RELAY,
     .prepare = dovecot_prepare, .start = dovecot_start, .ready = dovecot_auth_ready, .pid = dovecot_pid,
     .stop = dovecot_stop, .ports = no_ports, .local_endpoint = "auth socket", .wanted = relay_only,
     .uses_certificates = 1},
    /* Border policy (policyd_service.c): Postfix asks it at RCPT and end of data. */
    {.name = "policyd", .roles = ROLE_RELAY,
     .prepare = policyd_prepare, .start = policyd_start, .ready = policyd_ready, .pid = policyd_pid,
     .stop = policyd_stop, .ports = no_ports, .local_endpoint = "policy socket"},
    /* A relay on a host of its own pulls its tables from the proxies
     * (tablesync_service.h); after policyd, which it tells to reload. */
    {.name = "tablepull", .roles = ROLE_RELAY,
     .prepare = tablepull_prepare, .start = tablepull_start, .ready = tablepull_ready, .pid = tablesync_pid,
     .stop = tablesync_stop, .ports = no_ports, .wanted = tablepull_wanted, .after_start = tablepull_after_start},
    /* DKIM (opendkim_service.c): signs submission and the stores' mail,
     * verifies the MX's; a milter of Postfix, so up before it. After it
     * answers (or if already up) the keys are synced, reloading it if
     * they changed. */
    {.name = "opendkim", .roles = ROLE_RELAY,
     .prepare = opendkim_prepare, .start = opendkim_start, .ready = opendkim_ready, .pid = opendkim_pid,
     .stop = opendkim_stop, .ports = no_ports, .local_endpoint = "milter socket", .wanted = opendkim_wanted,
     .after_start = opendkim_sync_reload},
    /* The submission services' milter (fromcheck_service.c): header
     * From:/Sender: against the login; Postfix tempfails submission
     * without it, so up before Postfix. */
    {.name = "fromcheck", .roles = ROLE_RELAY,
     .prepare = fromcheck_prepare, .start = fromcheck_start, .ready = fromcheck_ready, .pid = fromcheck_pid,
     .stop = fromcheck_stop, .ports = no_ports, .local_endpoint = "milter socket"},
    /* The MX's DMARC milter (dmarc_service.c); Postfix tempfails MX mail
     * without it (dmarc.mode off: not run, not asked). */
    {.name = "opendmarc", .roles = ROLE_RELAY,
     .prepare = dmarc_prepare, .start = dmarc_start, .ready = dmarc_ready, .pid = dmarc_pid,
     .stop = dmarc_stop, .ports = no_ports, .local_endpoint = "milter socket", .wanted = dmarc_wanted},
    /* SRS for forwarded mail (srs_service.c): Postfix's lookup tables. */
    {.name = "postsrsd", .roles = ROLE_RELAY,
     .prepare = srs_prepare, .start = srs_start, .ready = srs_ready, .pid = srs_pid, .stop = srs_stop,
     .ports = no_ports, .local_endpoint = "lookup tables on 127.0.0.1", .wanted = srs_wanted},
    /* MTA-STS policies for Postfix's smtp client (mtasts_service.c). */
    {.name = "mta-sts", .roles = ROLE_RELAY,
     .prepare = mtasts_prepare, .start = mtasts_start, .ready = mtasts_ready, .pid = mtasts_pid,
     .stop = mtasts_stop, .ports = no_ports, .local_endpoint = "policy socket", .wanted = mtasts_wanted},
    /* In front of it where Postfix does DANE (tlspolicy_service.c): DANE
     * before MTA-STS; asks mta-sts-daemon, so after it. */
    {.name = "tlspolicy", .roles = ROLE_RELAY,
     .prepare = tlspolicy_prepare, .start = tlspolicy_start, .ready = tlspolicy_ready, .pid = tlspolicy_pid,
     .stop = tlspolicy_stop, .ports = no_ports, .local_endpoint = "policy socket", .wanted = tlspolicy_wanted},
    {.name = "postfix", .roles = ROLE_RELAY | ROLE_STORE,
     .prepare = postfix_prepare, .start = postfix_start, .ready = postfix_ready, .pid = postfix_pid,
     .stop = postfix_stop, .ports = postfix_ports, .ports_by_kind = postfix_ports_by_kind,
     .uses_certificates = 1, .queue_size = postfix_queue_size, .reload = postfix_reload},
    /* Password guessing (fail2ban_service.c): reads the logs of Postfix
     * and Dovecot, so after them (a jail's log must exist to start). */
    {.name = "fail2ban", .roles = ROLE_RELAY | ROLE_PROXY,
     .prepare = fail2ban_prepare, .start = fail2ban_start, .ready = fail2ban_ready, .pid = fail2ban_pid,
     .stop = fail2ban_stop, .ports = no_ports, .banned = fail2ban_banned},
    /* Prometheus endpoints (metrics_service.c; Dovecot's is its own stats
     * service): last, so that what they read (showq, postfix.log, the
     * health monitor's status, the replicator) is there. */
    {.name = "postfix-exporter", .roles = ROLE_RELAY | ROLE_STORE,
     .prepare = postfix_exporter_prepare, .start = postfix_exporter_start, .ready = postfix_exporter_ready,
     .pid = postfix_exporter_pid, .stop = postfix_exporter_stop, .ports = postfix_exporter_ports,
     .wanted = metrics_wanted},
    {.name = "metricsd", .roles = ROLE_ALL,
     .prepare = metricsd_prepare, .start = metricsd_start, .ready = metricsd_ready, .pid = metricsd_pid,
     .stop = metricsd_stop, .ports = metricsd_ports, .wanted = metrics_wanted},
};
const size_t n_services = sizeof services / sizeof services[0];

const char *const *service_ports(const struct service *svc, const struct service_env *env)
{
    for (const struct service_ports *k = svc->ports_by_kind; k && k->ports; k++)
        if (k->roles == env->host->roles)
            return k->ports;
    return svc->ports;
}

int service_wanted(const struct service *svc, const struct service_env *env)
{
    if (!(svc->roles & env->host->roles))
        return 0;
    return svc->wanted == NULL || svc->wanted(env);
}

pid_t service_unwanted_pid(const struct service *svc, const struct service_env *env)
{
    if (!(svc->roles & env->host->roles) || service_wanted(svc, env))
        return 0;
    for (size_t s = 0; s < n_services; s++)
        if (services[s].pid == svc->pid && service_wanted(&services[s], env))
            return 0;
    return svc->pid(env);
}

/* What to tell an administrator whose port is taken by a packaged daemon:
 * its process name, and the Debian service that runs it. */
static const struct {
    const char *comm, *service;
} packaged_services[] = {
    {"master", "postfix"},
    {"dovecot", "dovecot"},
    {"slapd", "slapd"},
    {"nginx", "nginx"},
    {"apache2", "apache2"},
};

static const char *packaged_service(const char *comm)
{
    for (size_t i = 0; i < sizeof packaged_services / sizeof packaged_services[0]; i++)
        if (strcmp(comm, packaged_services[i].comm) == 0)
            return packaged_services[i].service;
    return NULL;
}

int service_port_open(const struct service_env *env, const char *name)
{
    return (strncmp(name, "port_metrics_", 13) != 0 || env->site->metrics.enabled) && webserver_port_open(env, name);
}

int service_check_ports(const struct service *svc, const struct service_env *env, buf *err)
{
    for (const char *const *p = service_ports(svc, env); *p; p++) {
        if (!service_port_open(env, *p))
            continue;
        int port = service_port(env, *p);
        const char *address = strstr(*p, "lmtp") || strstr(*p, "quota") || strstr(*p, "dns") ? "127.0.0.1"
                              : strstr(*p, "metrics") ? service_var(env, "metrics_address")
                                                      : service_var(env, "host_address");
        if (!tcp_listening(address, port))
            continue;
        buf comm = BUF_INIT;
        pid_t owner = port_owner(port, &comm);
        const char *pkg = packaged_service(buf_cstr(&comm));
        buf_printf(err, "port %d on %s (%s for %s) is already in use", port, address, *p + 5, svc->name);
        if (owner)
            buf_printf(err, " by pid %ld (%s)", (long)owner, buf_cstr(&comm));
        if (pkg)
            buf_printf(err, ".\nThis looks like Debian's packaged %s service. EmailNG runs its own %s with its own "
                       "configuration, so stop the packaged one and keep it from starting at boot:\n"
                       "    systemctl disable --now %s      (or, without systemd: service %s stop)\n"
                       "then run `emailng up` again.", pkg, svc->name, pkg, pkg);
        else
            buf_printf(err, ".\nStop that program, or give EmailNG other ports in the site file (ports:), "
                       "then run `emailng up` again.");
        buf_free(&comm);
        return -1;
    }
    return 0;
}
