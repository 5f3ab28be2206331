/* fail2ban_service: fail2ban against password guessing; see fail2ban_service.h. */
#include "fail2ban_service.h"

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "process.h"

#define FAIL2BAN_CLIENT "/usr/bin/fail2ban-client"
#define NFT "/usr/sbin/nft"

int fail2ban_prepare(const struct service_env *env, buf *err)
{
    char *run = service_path(env, "run_dir", "fail2ban");
    char *data = service_path(env, "data_dir", "fail2ban");
    char *log = service_path(env, "log_dir", "fail2ban.log");
    /* fail2ban runs as root; its log names the addresses it bans: for the
     * administrators (group adm), like postfix.log. The database and the
     * control socket are root's alone. */
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, NULL, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "data_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(data, NULL, NULL, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_file(log, NULL, "adm", 0640, err);
    free(run);
    free(data);
    free(log);
    return rc;
}

/* 1 if the ban table exists in this network namespace. */
static int table_exists(void)
{
    const char *argv[] = {NFT, "list", "table", "inet", FAIL2BAN_NFT_TABLE, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int rc = process_run(argv, NULL, &out, &err);
    buf_free(&out);
    buf_free(&err);
    return rc == 0;
}

/* Deletes the ban table if it is there: fail2ban's actionstart adds its
 * rules again, so a table left by a killed fail2ban would double them. */
static int table_remove(buf *err)
{
    if (!table_exists())
        return 0;
    const char *argv[] = {NFT, "delete", "table", "inet", FAIL2BAN_NFT_TABLE, NULL};
    return service_run(argv, err);
}

int fail2ban_start(const struct service_env *env, buf *err)
{
    if (table_remove(err) != 0)
        return -1;
    char *conf = service_path(env, "etc_dir", "fail2ban");
    /* -x: a socket left by a killed server is replaced. The client checks
     * the configuration, starts the server (which detaches) and loads the
     * jails; it fails with the reason when a jail cannot start. */
    const char *argv[] = {FAIL2BAN_CLIENT, "-c", conf, "-x", "start", NULL};
    int rc = service_run(argv, err);
    free(conf);
    return rc;
}

int fail2ban_ready(const struct service_env *env, buf *detail)
{
    char *conf = service_path(env, "etc_dir", "fail2ban");
    const char *argv[] = {FAIL2BAN_CLIENT, "-c", conf, "ping", NULL};
    buf out = BUF_INIT;
    int rc = process_run(argv, NULL, &out, detail);
    if (rc > 0)
        buf_printf(detail, "fail2ban-client ping: %s", buf_cstr(&out));
    else if (rc == 0 && fail2ban_pid(env) == 0) {
        buf_printf(detail, "no live pid in %s/fail2ban/fail2ban.pid yet", service_var(env, "run_dir"));
        rc = -1;
    }
    buf_free(&out);
    free(conf);
    return rc == 0 ? 0 : -1;
}

pid_t fail2ban_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "fail2ban/fail2ban.pid");
}

int fail2ban_stop(const struct service_env *env, buf *err)
{
    if (service_stop_pid(fail2ban_pid(env), "fail2ban", err) != 0)
        return -1;
    return table_remove(err);
}

long fail2ban_banned(const struct service_env *env)
{
    (void)env;   /* the table is the namespace's own, not under the state */
    const char *argv[] = {NFT, "-j", "list", "table", "inet", FAIL2BAN_NFT_TABLE, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    long n = -1;
    if (process_run(argv, NULL, &out, &err) == 0) {
        /* Every set element is one banned address: {"elem": [A, B]} lists
         * them. Count the strings in the "elem" arrays. */
        n = 0;
        for (const char *p = strstr(buf_cstr(&out), "\"elem\": ["); p; p = strstr(p, "\"elem\": [")) {
            p += strlen("\"elem\": [");
            const char *end = strchr(p, ']');
            if (end == NULL)
                break;
            for (const char *q = p; q < end; q++)
                if (*q == '"')
                    n++;
            p = end;
        }
        n /= 2;   /* two quotes per address */
    }
    buf_free(&out);
    buf_free(&err);
    return n;
}
