/* healthd_service: see healthd_service.h. */
#include "healthd_service.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "directory.h"
#include "fsutil.h"
#include "password.h"
#include "process.h"

#define PROBE_LOCALPART "healthd-probe"

char *healthd_program(void)
{
    return process_program_next_to_us("emailng-healthd", "emailng-healthd");    /* else PATH */
}

int healthd_wanted(const struct service_env *env)
{
    return env->host->roles == ROLE_PROXY && env->site->n_hosts > 1;
}

int healthd_probe_address(const struct site *site, buf *address, buf *err)
{
    return address_normalize(PROBE_LOCALPART, site->domains[0], address, err);
}

char *healthd_probe_password_file(const char *state_dir)
{
    return xasprintf("%s/secrets/healthd-probe", state_dir);
}

static char *status_file(const struct service_env *env)
{
    return service_path(env, "data_dir", "healthd/status");
}

int healthd_prepare(const struct service_env *env, buf *err)
{
    /* Its table, drain and status files, pid file and log are its own. */
    char *data = service_path(env, "data_dir", "healthd");
    char *run = service_path(env, "run_dir", "healthd");
    char *log = service_path(env, "log_dir", "healthd.log");
    char *secret = healthd_probe_password_file(env->state_dir);
    char *status = status_file(env);
    int rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(data, HEALTHD_USER, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, HEALTHD_USER, NULL, 0755, err);
    if (rc == 0 && !fs_exists(log))
        rc = fs_write_file(log, "", 0, 0640, err);
    if (rc == 0) {
        /* SIGHUP reopens the log after the monitor dropped to its user. */
        struct passwd *pw = getpwnam(HEALTHD_USER);
        if (pw == NULL || chown(log, pw->pw_uid, pw->pw_gid) != 0) {
            buf_printf(err, "cannot give %s to %s: %s", log, HEALTHD_USER,
                       pw ? strerror(errno) : "no such user; run scripts/install-deps.sh");
            rc = -1;
        }
    }
    if (rc == 0 && !fs_exists(secret)) {
        buf_printf(err, "%s is missing: the directory host's `emailng up` creates the health monitor's "
                   "probe account and its password file; start the directory host first", secret);
        rc = -1;
    }
    /* Ready means the new process has written it. */
    if (rc == 0)
        unlink(status);
    free(data);
    free(run);
    free(log);
    free(secret);
    free(status);
    return rc;
}

int healthd_start(const struct service_env *env, buf *err)
{
    char *program = healthd_program();
    char *conf = service_path(env, "etc_dir", "healthd/healthd.yaml");
    char *log = service_path(env, "log_dir", "healthd.log");
    const char *check[] = {program, "-c", conf, "-t", NULL};
    int rc = service_run(check, err);
    if (rc != 0)
        buf_printf(err, " (emailng-healthd is looked for next to emailng, then on PATH)");
    /* It runs in the foreground and logs to its own file; stderr (a
     * failure before the log is open) goes to the same file. */
    const char *argv[] = {program, "-c", conf, NULL};
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(program);
    free(conf);
    free(log);
    return rc;
}

int healthd_ready(const struct service_env *env, buf *detail)
{
    char *status = status_file(env);
    int rc = 0;
    if (healthd_pid(env) == 0) {
        buf_printf(detail, "emailng-healthd is not running (see %s/healthd.log)", service_var(env, "log_dir"));
        rc = -1;
    } else if (!fs_exists(status)) {
        buf_printf(detail, "no probe round finished yet (%s)", status);
        rc = -1;
    }
    free(status);
    return rc;
}

pid_t healthd_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "healthd/healthd.pid");
}

int healthd_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(healthd_pid(env), "emailng-healthd", err);
}

int healthd_probe_secret_ensure(const char *state_dir, buf *err)
{
    char *file = healthd_probe_password_file(state_dir);
    int rc = password_file_ensure(file, 1, 1, err);
    free(file);
    return rc;
}

int healthd_probe_account_ensure(const struct site *site, const char *ldap_uri, const char *state_dir, buf *err)
{
    int has_monitor = 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        has_monitor |= site->hosts[i].roles == ROLE_PROXY && site->n_hosts > 1;
    if (!has_monitor)
        return 0;
    char *file = healthd_probe_password_file(state_dir);
    buf address = BUF_INIT, password = BUF_INIT, hash = BUF_INIT, lookup = BUF_INIT;
    struct directory *d = NULL;
    int rc = healthd_probe_address(site, &address, err);
    if (rc == 0)
        rc = directory_open(&d, ldap_uri, site->ldap_base, err);
    struct directory_user user;
    int exists = rc == 0 && directory_user_get(d, buf_cstr(&address), &user, &lookup) == 0;
    if (exists)
        directory_user_clear(&user);
    int have_file = fs_exists(file);
    if (rc == 0 && (!exists || !have_file)) {
        /* the account went: make it again with the same password */
        rc = healthd_probe_secret_ensure(state_dir, err);
        if (rc == 0)
            rc = fs_read_file(file, 4096, &password, err);
        while (rc == 0 && password.len && (password.data[password.len - 1] == '\n'))
            password.data[--password.len] = '\0';
        if (rc == 0)
            rc = password_hash(buf_cstr(&password), &hash, err);
        /* No emailngMailHost: the proxies find no pair for it, so it can
         * never log in through them (nor, hence, at the relays). */
        if (rc == 0 && !exists)
            rc = directory_user_add(d, buf_cstr(&address), buf_cstr(&hash), 0, NULL, err);
        else if (rc == 0)
            rc = directory_user_set_password(d, buf_cstr(&address), buf_cstr(&hash), err);
        static const char *const imap_only[] = {"imap"};
        if (rc == 0)
            rc = directory_user_set_services(d, buf_cstr(&address), imap_only, 1, err);
        if (rc == 0)
            printf("  health monitor's probe account %s (password in %s)\n", buf_cstr(&address), file);
    }
    directory_close(d);
    password_wipe(&password);
    buf_free(&address);
    buf_free(&hash);
    buf_free(&lookup);
    free(file);
    return rc;
}
