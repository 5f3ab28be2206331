/* junklist_service: start, check and stop emailng-junklist; see
 * junklist_service.h. */
#include "junklist_service.h"

#include <stdlib.h>

#include "site_webmail_junk.h"
#include "webmail_helpers.h"

int junklist_wanted(const struct service_env *env)
{
    return site_webmail_junklists(env->site, env->host);
}

int junklist_prepare(const struct service_env *env, buf *err)
{
    return webmail_helper_prepare(env, "junklist", err);
}

/* The directory over ldapi where it is on this host, else LDAPS with the
 * proxy's client certificate CN=passwd (its identity may write the two
 * lists); the store's doveadm locally where it is here, else over the
 * doveadm protocol on the active store of the user's pair (healthd's
 * table; the proxies hold the pairs' doveadm secret already for
 * `emailng replication caught-up`, and the stores' firewall admits them). */
int junklist_start(const struct service_env *env, buf *err)
{
    char *dovecot = service_path(env, "etc_dir", "dovecot/dovecot.conf");
    char *pairs = service_path(env, "data_dir", "healthd/pairs.passwd");
    const char *own[16];
    size_t n = 0;
    if (!(env->host->roles & ROLE_STORE) || !(env->host->roles & ROLE_DIRECTORY)) {
        own[n++] = "--tls-ca";
        own[n++] = service_var(env, "tls_ca");
    }
    if (!(env->host->roles & ROLE_DIRECTORY)) {
        own[n++] = "--tls-cert";
        own[n++] = service_var(env, "tls_client_passwd_cert");
        own[n++] = "--tls-key";
        own[n++] = service_var(env, "tls_client_passwd_key");
    }
    if (env->host->roles & ROLE_STORE) {
        own[n++] = "--dovecot-config";
        own[n++] = dovecot;
    } else {
        own[n++] = "--pair-table";
        own[n++] = pairs;
        own[n++] = "--doveadm-port";
        own[n++] = service_var(env, "port_doveadm");
        own[n++] = "--doveadm-secret-file";
        own[n++] = service_var(env, "doveadm_password_file");
    }
    own[n] = NULL;
    int rc = webmail_helper_start(env, "junklist", own, err);
    free(dovecot);
    free(pairs);
    return rc;
}

int junklist_ready(const struct service_env *env, buf *detail)
{
    return webmail_helper_ready(env, "junklist", detail);
}

pid_t junklist_pid(const struct service_env *env)
{
    return webmail_helper_pid(env, "junklist");
}

int junklist_stop(const struct service_env *env, buf *err)
{
    return webmail_helper_stop(env, "junklist", err);
}
