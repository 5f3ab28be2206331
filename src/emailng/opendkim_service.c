/* opendkim_service: prepare, start, check, reload and stop OpenDKIM; see
 * opendkim_service.h and templates/opendkim/opendkim.conf. */
#include "opendkim_service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dkim.h"
#include "fsutil.h"
#include "process.h"

#define OPENDKIM_USER "opendkim"
#define OPENDKIM_PROGRAM "/usr/sbin/opendkim"
#define KEY_MAX (16 * 1024)

int opendkim_wanted(const struct service_env *env)
{
    return env->site->dkim.enabled;
}

/* path with exactly data, owned by opendkim, 0600: written beside it and
 * renamed over it, so OpenDKIM never reads a half-written or root-owned
 * file. *changed = 1 if it differed. */
static int write_owned(const char *path, const buf *data, int *changed, buf *err)
{
    buf old = BUF_INIT, ignored = BUF_INIT;
    int same = fs_exists(path) && fs_read_file(path, KEY_MAX * 64, &old, &ignored) == 0 && old.len == data->len
               && (data->len == 0 || memcmp(old.data, data->data, data->len) == 0);
    if (old.data)
        explicit_bzero(old.data, old.len);
    buf_free(&old);
    buf_free(&ignored);
    struct passwd *pw = getpwnam(OPENDKIM_USER);
    if (pw == NULL) {
        buf_printf(err, "the system user %s does not exist; install Debian's opendkim (scripts/install-deps.sh)",
                   OPENDKIM_USER);
        return -1;
    }
    struct stat st;
    if (same && stat(path, &st) == 0 && st.st_uid == pw->pw_uid && (st.st_mode & 07777) == 0600)
        return 0;
    char *tmp = xasprintf("%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -1 : 0;
    if (rc == 0 && data->len && write(fd, data->data, data->len) != (ssize_t)data->len)
        rc = -1;
    if (rc == 0 && (fchown(fd, pw->pw_uid, pw->pw_gid) != 0 || fsync(fd) != 0))
        rc = -1;
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        buf_printf(err, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    *changed = 1;
    return rc;
}

/* Key files of selectors no longer signing are removed from the copy
 * (keep: "\nFILE\n" for each key file still in the KeyTable). */
static void remove_stale_keys(const char *dir, const buf *keep, int *changed)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 9 || strcmp(de->d_name + n - 8, ".private") != 0)
            continue;
        char *line = xasprintf("\n%s\n", de->d_name);
        if (strstr(keep->data, line) == NULL) {
            char *path = xasprintf("%s/%s", dir, de->d_name);
            if (unlink(path) == 0)
                *changed = 1;
            free(path);
        }
        free(line);
    }
    closedir(d);
}

int opendkim_sync(const struct service_env *env, int *changed, buf *err)
{
    const struct site *site = env->site;
    const char *dir = service_var(env, "opendkim_key_dir");
    buf keytable = BUF_INIT, signing = BUF_INIT, keep = BUF_INIT;
    buf_append_char(&keep, '\n');
    int rc = 0;
    *changed = 0;
    buf_append_str(&keytable, "# Written by emailng from STATE/secrets/dkim (the active selectors).\n");
    buf_append_str(&signing, "# Written by emailng: From: domain (or a public host name in it) -> key.\n");
    for (size_t i = 0; rc == 0 && i < site->n_domains; i++) {
        const char *domain = site->domains[i];
        struct dkim_domain d;
        rc = dkim_domain_load(env->state_dir, domain, &d, err);
        const struct dkim_selector *active = rc == 0 ? dkim_find_state(&d, DKIM_ACTIVE) : NULL;
        if (active) {
            char *from = dkim_key_path(env->state_dir, domain, active->name);
            char *file = xasprintf("%s.%s.private", domain, active->name);
            char *to = xasprintf("%s/%s", dir, file);
            char *key_name = dkim_record_name(active->name, domain);
            buf key = BUF_INIT;
            rc = fs_read_file(from, KEY_MAX, &key, err);
            if (rc == 0)
                rc = write_owned(to, &key, changed, err);
            buf_printf(&keytable, "%s %s:%s:%s\n", key_name, domain, active->name, to);
            buf_printf(&signing, "%s %s\n", domain, key_name);
            /* Postfix's bounces come From: MAILER-DAEMON@ the public name. */
            for (size_t t = 0; t < site->n_tls_names; t++) {
                const char *name = site->tls_names[t];
                size_t nl = strlen(name), dl = strlen(domain);
                if (nl > dl + 1 && name[nl - dl - 1] == '.' && strcmp(name + nl - dl, domain) == 0)
                    buf_printf(&signing, "%s %s\n", name, key_name);
            }
            buf_printf(&keep, "%s\n", file);
            if (key.data)
                explicit_bzero(key.data, key.len);
            buf_free(&key);
            free(from);
            free(file);
            free(to);
            free(key_name);
        }
        dkim_domain_free(&d);
    }
    char *kt = xasprintf("%s/key.table", dir);
    char *stab = xasprintf("%s/signing.table", dir);
    if (rc == 0)
        rc = write_owned(kt, &keytable, changed, err);
    if (rc == 0)
        rc = write_owned(stab, &signing, changed, err);
    if (rc == 0)
        remove_stale_keys(dir, &keep, changed);
    free(kt);
    free(stab);
    buf_free(&keytable);
    buf_free(&signing);
    buf_free(&keep);
    return rc;
}

int opendkim_prepare(const struct service_env *env, buf *err)
{
    /* RUN/opendkim: its socket (opendkim:postfix 0660) and pid file; the
     * folder lets only postfix in. DATA/opendkim: the keys, its own. */
    char *run = service_path(env, "run_dir", "opendkim");
    int changed = 0;
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(run, OPENDKIM_USER, "postfix", 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "data_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "opendkim_key_dir"), OPENDKIM_USER, OPENDKIM_USER, 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = opendkim_sync(env, &changed, err);
    free(run);
    return rc;
}

int opendkim_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "opendkim/opendkim.conf");
    char *log = service_path(env, "log_dir", "opendkim.log");
    /* -n: parse the configuration and exit, so a mistake is reported here. */
    const char *check[] = {OPENDKIM_PROGRAM, "-n", "-x", conf, NULL};
    const char *argv[] = {OPENDKIM_PROGRAM, "-x", conf, NULL};
    int rc = service_run(check, err);
    /* A socket left by a killed OpenDKIM would make its bind fail. */
    if (rc == 0)
        unlink(service_var(env, "opendkim_socket"));
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    free(conf);
    free(log);
    return rc;
}

/* Its socket accepts a connection (root may open it) and it wrote its pid. */
int opendkim_ready(const struct service_env *env, buf *detail)
{
    int fd = unix_connect(service_var(env, "opendkim_socket"), detail);
    if (fd < 0) {
        buf_printf(detail, " (see %s/opendkim.log)", service_var(env, "log_dir"));
        return -1;
    }
    close(fd);
    if (opendkim_pid(env) == 0) {
        buf_printf(detail, "no live pid in its pid file yet");
        return -1;
    }
    return 0;
}

pid_t opendkim_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "opendkim/opendkim.pid");
}

int opendkim_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(opendkim_pid(env), "opendkim", err);
}

int opendkim_sync_reload(const struct service_env *env, buf *err)
{
    int changed = 0;
    if (opendkim_sync(env, &changed, err) != 0)
        return -1;
    pid_t pid = opendkim_pid(env);
    if (changed && pid && kill(pid, SIGUSR1) != 0) {
        buf_printf(err, "cannot tell opendkim (pid %ld) to reload: %s", (long)pid, strerror(errno));
        return -1;
    }
    return 0;
}
