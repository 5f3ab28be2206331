/* junklist_service: start, check and stop emailng-junklist; see
 * junklist_service.h. */
#include "junklist_service.h"

#include <stdlib.h>

#include "fsutil.h"
#include "process.h"
#include "site_webmail_junk.h"

/* php-fpm's workers (Debian's web user): the only ones besides root who
 * may open the socket. */
#define WEBMAIL_USER "www-data"

int junklist_wanted(const struct service_env *env)
{
    return site_webmail_junklists(env->site, env->host);
}

int junklist_prepare(const struct service_env *env, buf *err)
{
    /* The same folder as php-fpm's socket: root's, entered by www-data. */
    char *run = service_path(env, "run_dir", "roundcube");
    char *log = service_path(env, "log_dir", "junklist.log");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, WEBMAIL_USER, 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    /* it names users and their correspondents */
    if (rc == 0)
        rc = fs_ensure_file(log, NULL, "adm", 0640, err);
    free(run);
    free(log);
    return rc;
}

/* The directory over ldapi where it is on this host, else LDAPS with the
 * proxy's client certificate CN=passwd (its identity may write the two
 * lists); the store's doveadm locally where it is here, else over the
 * doveadm protocol on the active store of the user's pair (healthd's
 * table; the proxies hold the pairs' doveadm secret already for
 * `emailng replication caught-up`, and the stores' firewall admits them). */
int junklist_start(const struct service_env *env, buf *err)
{
    char *program = process_program_next_to_us("emailng-junklist", "emailng-junklist");    /* else PATH */
    char *socket = service_path(env, "run_dir", "roundcube/junklist.sock");
    char *pid_file = service_path(env, "run_dir", "roundcube/junklist.pid");
    char *dovecot = service_path(env, "etc_dir", "dovecot/dovecot.conf");
    char *log = service_path(env, "log_dir", "junklist.log");
    char *pairs = service_path(env, "data_dir", "healthd/pairs.passwd");
    const char *argv[32];
    size_t n = 0;
    argv[n++] = program;
    argv[n++] = "--socket";
    argv[n++] = socket;
    argv[n++] = "--group";
    argv[n++] = WEBMAIL_USER;
    argv[n++] = "--ldap-uri";
    argv[n++] = service_var(env, "ldap_uri");
    argv[n++] = "--ldap-base";
    argv[n++] = service_var(env, "ldap_base");
    if (!(env->host->roles & ROLE_STORE) || !(env->host->roles & ROLE_DIRECTORY)) {
        argv[n++] = "--tls-ca";
        argv[n++] = service_var(env, "tls_ca");
    }
    if (!(env->host->roles & ROLE_DIRECTORY)) {
        argv[n++] = "--tls-cert";
        argv[n++] = service_var(env, "tls_client_passwd_cert");
        argv[n++] = "--tls-key";
        argv[n++] = service_var(env, "tls_client_passwd_key");
    }
    if (env->host->roles & ROLE_STORE) {
        argv[n++] = "--dovecot-config";
        argv[n++] = dovecot;
    } else {
        argv[n++] = "--pair-table";
        argv[n++] = pairs;
        argv[n++] = "--doveadm-port";
        argv[n++] = service_var(env, "port_doveadm");
        argv[n++] = "--doveadm-secret-file";
        argv[n++] = service_var(env, "doveadm_password_file");
    }
    argv[n++] = "--log";
    argv[n++] = log;
    argv[n++] = "--pid-file";
    argv[n++] = pid_file;
    argv[n++] = "-t";
    argv[n] = NULL;
    int rc = service_run(argv, err);
    if (rc != 0)
        buf_printf(err, " (emailng-junklist is looked for next to emailng, then on PATH)");
    argv[n - 1] = NULL;     /* the same, without -t */
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(program);
    free(socket);
    free(pid_file);
    free(dovecot);
    free(pairs);
    free(log);
    return rc;
}

int junklist_ready(const struct service_env *env, buf *detail)
{
    char *socket = service_path(env, "run_dir", "roundcube/junklist.sock");
    int rc = junklist_pid(env) != 0 && unix_listening(socket) ? 0 : -1;
    if (rc != 0)
        buf_printf(detail, "%s does not accept connections yet (see %s/junklist.log)", socket,
                   service_var(env, "log_dir"));
    free(socket);
    return rc;
}

pid_t junklist_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "roundcube/junklist.pid");
}

int junklist_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(junklist_pid(env), "emailng-junklist", err);
}
