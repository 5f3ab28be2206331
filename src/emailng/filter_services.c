/* filter_services: clamd, amavisd-new and clamav-milter; see
 * filter_services.h. The commands are the daemons' own (docs/internals.md). */
#include "filter_services.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include "fsutil.h"
#include "metrics_service.h"
#include "process.h"

#define AMAVISD_READY_TIMEOUT_MS 180000     /* SpamAssassin compiles its rules at start */

int filter_wanted(const struct service_env *env)
{
    return env->site->filter.enabled;
}

int filter_milter_wanted(const struct service_env *env)
{
    return env->site->filter.enabled && env->site->filter.before_queue;
}

char *filter_quarantine_dir(const struct service_env *env)
{
    return service_path(env, "data_dir", "amavis/quarantine");
}

/* A log file the daemon (which opens it after dropping privileges) may
 * append to: created if missing, owned by user, mode 0640. */
static int ensure_log_file(const char *path, const char *user, buf *err)
{
    return fs_ensure_file(path, user, NULL, 0640, err);
}

/* ---- clamd --------------------------------------------------------------- */

/* File names clamd loads from its database directory. */
static int is_signature_file(const char *name)
{
    static const char *const extensions[] = {
        ".cvd", ".cld", ".cud", ".cdb", ".cat", ".crb", ".cbc", ".db", ".fp", ".sfp", ".hdb", ".hdu",
        ".hsb", ".hsu", ".idb", ".ign", ".ign2", ".info", ".ldb", ".ldu", ".mdb", ".mdu", ".msb",
        ".msu", ".ndb", ".ndu", ".pdb", ".gdb", ".wdb", ".yar", ".yara", ".pwdb", ".ftm", NULL,
    };
    if (name[0] == '.')
        return 0;
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return 0;
    for (size_t i = 0; extensions[i]; i++)
        if (strcmp(dot, extensions[i]) == 0)
            return 1;
    return 0;
}

/* The built-in test signatures, used only when the signatures folder holds
 * no database at all (a fresh machine before freshclam has run): EICAR and
 * the EmailNG test pattern, as extended (.ndb) signatures matching anywhere
 * in any file, including a plain-text mail body. */
#define EICAR_TEXT "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#define EMAILNG_TEST_PATTERN "EMAILNG-FILTER-TEST-PATTERN-7f3c9a1e-NOT-A-REAL-VIRUS"

static void hex_of(const char *text, buf *out)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        buf_printf(out, "%02x", *p);
}

static int write_builtin_signatures(const char *db, buf *err)
{
    buf text = BUF_INIT;
    buf_append_str(&text, "EmailNG.Test.EICAR:0:*:");
    hex_of(EICAR_TEXT, &text);
    buf_append_str(&text, "\nEmailNG.Test.Pattern:0:*:");
    hex_of(EMAILNG_TEST_PATTERN, &text);
    buf_append_char(&text, '\n');
    char *path = xasprintf("%s/emailng-builtin-test.ndb", db);
    int rc = fs_write_file(path, text.data, text.len, 0644, err);
    free(path);
    buf_free(&text);
    return rc;
}

/* Makes DATA/clamav/db hold a symbolic link to every database in the
 * signatures folder (and nothing else of ours), so freshclam's updates
 * there are seen by clamd's SelfCheck. */
static int link_signatures(const struct service_env *env, const char *db, buf *err)
{
    const char *source = env->site->filter.signatures;
    DIR *d = opendir(db);
    if (d == NULL) {
        buf_printf(err, "cannot read %s: %s", db, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *old = xasprintf("%s/%s", db, de->d_name);
        if (unlink(old) != 0 && errno != ENOENT) {
            buf_printf(err, "cannot remove %s: %s", old, strerror(errno));
            rc = -1;
        }
        free(old);
    }
    closedir(d);
    if (rc != 0)
        return rc;
    size_t linked = 0;
    d = opendir(source);
    if (d == NULL && errno != ENOENT) {
        buf_printf(err, "cannot read the signatures folder %s (filter.signatures): %s", source, strerror(errno));
        return -1;
    }
    while (d && rc == 0 && (de = readdir(d)) != NULL) {
        if (!is_signature_file(de->d_name))
            continue;
        char *target = xasprintf("%s/%s", source, de->d_name);
        char *link = xasprintf("%s/%s", db, de->d_name);
        struct stat st;
        if (stat(target, &st) == 0 && S_ISREG(st.st_mode)) {
            if (symlink(target, link) != 0) {
                buf_printf(err, "cannot link %s to %s: %s", link, target, strerror(errno));
                rc = -1;
            } else if (strcmp(de->d_name + strlen(de->d_name) - 5, ".info") != 0) {
                linked++;
            }
        }
        free(target);
        free(link);
    }
    if (d)
        closedir(d);
    if (rc == 0 && linked == 0) {
        fprintf(stderr, "\nemailng: warning: no ClamAV signatures in %s; clamd uses the built-in test "
                "signatures (EICAR, EmailNG test pattern) only. Run freshclam (docs/admin-manual.md, "
                "\"Virus signatures\") or set filter.signatures.\n", source);
        rc = write_builtin_signatures(db, err);
    }
    return rc;
}

int clamd_prepare(const struct service_env *env, buf *err)
{
    char *run_clamav = service_path(env, "run_dir", "clamav");
    char *data = service_path(env, "data_dir", "clamav");
    char *db = service_path(env, "data_dir", "clamav/db");
    char *tmp = service_path(env, "data_dir", "clamav/tmp");
    char *log = service_path(env, "log_dir", "clamd.log");
    char *milter_log = service_path(env, "log_dir", "clamav-milter.log");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    /* clamd and clamav-milter write their pid files here; amavisd (group
     * amavis) reaches the socket. */
    if (rc == 0)
        rc = fs_ensure_dir(run_clamav, "clamav", "amavis", 0750, err);
    if (rc == 0)
        rc = fs_ensure_dir(data, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(db, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(tmp, "clamav", "clamav", 0700, err);
    if (rc == 0)
        rc = ensure_log_file(log, "clamav", err);
    if (rc == 0)
        rc = ensure_log_file(milter_log, "clamav", err);
    if (rc == 0)
        rc = link_signatures(env, db, err);
    free(run_clamav);
    free(data);
    free(db);
    free(tmp);
    free(log);
    free(milter_log);
    return rc;
}

int clamd_start(const struct service_env *env, buf *err)
{
    char *option = xasprintf("--config-file=%s/clamav/clamd.conf", service_var(env, "etc_dir"));
    const char *argv[] = {"/usr/sbin/clamd", option, NULL};
    int rc = service_run(argv, err);
    free(option);
    return rc;
}

/* Connects to the unix socket path; -1 with the reason in detail. */
static int connect_to(const char *path, const char *what, buf *detail)
{
    buf why = BUF_INIT;
    int fd = unix_connect(path, &why);
    if (fd < 0)
        buf_printf(detail, "no %s: %s", what, buf_cstr(&why));
    buf_free(&why);
    return fd;
}

/* Reads from fd until `stop` arrives (or 2 s pass), into answer. */
static size_t read_answer(int fd, char *answer, size_t size, char stop)
{
    size_t got = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (got < size - 1 && poll(&pfd, 1, 2000) == 1) {
        ssize_t n = recv(fd, answer + got, size - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(answer, stop, got))
            break;
    }
    answer[got] = '\0';
    return got;
}

/* clamd's own protocol on its local socket: "zPING\0" -> "PONG\0". */
int clamd_ready(const struct service_env *env, buf *detail)
{
    char *path = service_path(env, "run_dir", "clamav/clamd.ctl");
    int rc = -1;
    int fd = connect_to(path, "clamd", detail);
    if (fd < 0) {
        /* reason in detail */
    } else if (send(fd, "zPING", 6, MSG_NOSIGNAL) != 6) {
        buf_printf(detail, "cannot send PING to clamd: %s", strerror(errno));
    } else {
        char answer[16];
        read_answer(fd, answer, sizeof answer, '\0');
        if (strcmp(answer, "PONG") == 0)
            rc = 0;
        else
            buf_printf(detail, "clamd answered \"%s\" to PING", answer);
    }
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

pid_t clamd_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "clamav/clamd.pid");
}

int clamd_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(clamd_pid(env), "clamd", err);
}

/* ---- amavisd-new ----------------------------------------------------------- */

int amavisd_prepare(const struct service_env *env, buf *err)
{
    static const char *const dirs[] = {"amavis", "amavis/tmp", "amavis/var", "amavis/db", "amavis/quarantine"};
    int rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    for (size_t i = 0; rc == 0 && i < sizeof dirs / sizeof dirs[0]; i++) {
        char *dir = service_path(env, "data_dir", dirs[i]);
        /* group amavis: clamd (user clamav, member of amavis) reads the
         * temporary files amavisd asks it to scan. */
        rc = fs_ensure_dir(dir, "amavis", "amavis", 0750, err);
        free(dir);
    }
    /* emailng-metricsd counts the quarantine (files and bytes): the
     * folder's group is its user, who may list it and stat the files but
     * not read them (amavis:amavis 0640), and may pass through amavis/
     * (0751) without listing it; its other folders stay 0750. */
    if (rc == 0 && metrics_wanted(env)) {
        char *top = service_path(env, "data_dir", "amavis");
        char *quarantine = filter_quarantine_dir(env);
        rc = fs_ensure_dir(top, "amavis", "amavis", 0751, err);
        if (rc == 0)
            rc = fs_ensure_dir(quarantine, "amavis", METRICS_USER, 0750, err);
        free(top);
        free(quarantine);
    }
    char *run_amavis = service_path(env, "run_dir", "amavis");
    char *lmtp = service_path(env, "run_dir", "amavis/lmtp");
    char *log = service_path(env, "log_dir", "amavisd.log");
    if (rc == 0)
        rc = fs_ensure_dir(run_amavis, "amavis", "amavis", 0755, err);
    /* The LMTP sockets Postfix hands mail to (amavis_socket_mx,
     * amavis_socket_submission): only root, amavis and the group postfix
     * get through this folder, whatever the sockets' own mode. */
    if (rc == 0)
        rc = fs_ensure_dir(lmtp, "amavis", "postfix", 0750, err);
    if (rc == 0)
        rc = ensure_log_file(log, "amavis", err);
    free(run_amavis);
    free(lmtp);
    free(log);
    return rc;
}

/* An LMTP greeting (220) on each of the two sockets Postfix uses. */
int amavisd_ready(const struct service_env *env, buf *detail)
{
    static const char *const sockets[] = {"amavis_socket_mx", "amavis_socket_submission"};
    for (size_t i = 0; i < sizeof sockets / sizeof sockets[0]; i++) {
        const char *path = service_var(env, sockets[i]);
        int fd = connect_to(path, "amavisd", detail);
        if (fd < 0)
            return -1;
        char answer[256];
        read_answer(fd, answer, sizeof answer, '\n');
        close(fd);
        if (strncmp(answer, "220", 3) != 0) {
            char *cr = strpbrk(answer, "\r\n");
            if (cr)
                *cr = '\0';
            buf_printf(detail, "amavisd answered \"%s\" on %s", answer, path);
            return -1;
        }
    }
    return 0;
}

int amavisd_start(const struct service_env *env, buf *err)
{
    char *conf = service_path(env, "etc_dir", "amavis/amavisd.conf");
    const char *argv[] = {"/usr/sbin/amavisd", "-c", conf, "start", NULL};
    int rc = service_run(argv, err);
    free(conf);
    if (rc != 0)
        return rc;
    long long started = clock_ms();
    buf detail = BUF_INIT;
    for (;;) {
        buf_reset(&detail);
        if (amavisd_ready(env, &detail) == 0)
            break;
        long long waited = clock_ms() - started;
        /* gone (no pid file) after 10 s: it failed; see its log */
        if (waited > AMAVISD_READY_TIMEOUT_MS || (waited > 10000 && amavisd_pid(env) == 0)) {
            buf_printf(err, "amavisd did not answer on its LMTP sockets (%s); see %s/amavisd.log",
                       buf_cstr(&detail), service_var(env, "log_dir"));
            buf_free(&detail);
            return -1;
        }
        usleep(200 * 1000);
    }
    buf_free(&detail);
    /* Mail deferred while the filter was down: retry it now, not at the
     * next queue run (minutes away). Only if Postfix is running. */
    char *queue_pid = service_path(env, "data_dir", "postfix/queue/pid/master.pid");
    if (pidfile_read(queue_pid) != 0) {
        char *postfix_conf = service_path(env, "etc_dir", "postfix");
        const char *flush[] = {"/usr/sbin/postqueue", "-c", postfix_conf, "-f", NULL};
        buf ignored = BUF_INIT;
        if (service_run(flush, &ignored) != 0)
            fprintf(stderr, "\nemailng: warning: postqueue -f failed: %s\n", buf_cstr(&ignored));
        buf_free(&ignored);
        free(postfix_conf);
    }
    free(queue_pid);
    return 0;
}

pid_t amavisd_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "amavis/amavisd.pid");
}

int amavisd_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(amavisd_pid(env), "amavisd", err);
}

/* ---- clamav-milter --------------------------------------------------------- */

int clamav_milter_prepare(const struct service_env *env, buf *err)
{
    char *run_clamav = service_path(env, "run_dir", "clamav");
    char *run_milter = service_path(env, "run_dir", "clamav-milter");
    char *log = service_path(env, "log_dir", "clamav-milter.log");
    int rc = fs_ensure_dir(run_clamav, "clamav", "amavis", 0750, err);
    /* The milter's socket (clamav_milter_socket, group postfix 0660) in a
     * folder only root, clamav and the group postfix get through. */
    if (rc == 0)
        rc = fs_ensure_dir(run_milter, "clamav", "postfix", 0750, err);
    if (rc == 0)
        rc = ensure_log_file(log, "clamav", err);
    free(run_clamav);
    free(run_milter);
    free(log);
    return rc;
}

int clamav_milter_start(const struct service_env *env, buf *err)
{
    /* In the foreground (Foreground true), detached by us like slapd:
     * clamav-milter's own daemon mode can keep its first process waiting
     * for a long time, and `up` would wait with it. */
    char *option = xasprintf("--config-file=%s/clamav/clamav-milter.conf", service_var(env, "etc_dir"));
    char *log = service_path(env, "log_dir", "clamav-milter.log");
    const char *argv[] = {"/usr/sbin/clamav-milter", option, NULL};
    int rc = process_spawn_daemon(argv, log, err);
    free(option);
    free(log);
    return rc;
}

int clamav_milter_ready(const struct service_env *env, buf *detail)
{
    int fd = connect_to(service_var(env, "clamav_milter_socket"), "clamav-milter", detail);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

pid_t clamav_milter_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "clamav/clamav-milter.pid");
}

int clamav_milter_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(clamav_milter_pid(env), "clamav-milter", err);
}
