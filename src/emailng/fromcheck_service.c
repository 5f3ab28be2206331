/* fromcheck_service: prepare, start, check and stop emailng-fromcheck; see
 * fromcheck_service.h and docs/internals.md ("Daemons"). */
#include "fromcheck_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

static char *fromcheck_program(void)
{
    return process_program_next_to_us("emailng-fromcheck", "emailng-fromcheck");    /* else PATH */
}

int fromcheck_prepare(const struct service_env *env, buf *err)
{
    /* RUN/fromcheck: the milter's socket and pid file, written after it
     * dropped to postfix; nobody else reaches the socket. */
    char *dir = service_path(env, "run_dir", "fromcheck");
    int rc = fs_ensure_dir(service_var(env, "run_dir"), NULL, NULL, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, "postfix", "postfix", 0700, err);
    if (rc == 0)
        rc = fs_ensure_dir(service_var(env, "log_dir"), NULL, NULL, 0755, err);
    free(dir);
    return rc;
}

/* The map the submission services check the envelope sender with, as
 * Postfix itself reads it from the rendered main.cf: one rule for both. */
static int sender_login_map(const char *config, buf *map, buf *err)
{
    const char *argv[] = {"/usr/sbin/postconf", "-c", config, "-hx", "smtpd_sender_login_maps", NULL};
    int rc = process_run(argv, NULL, map, err);
    while (map->len > 0 && (map->data[map->len - 1] == '\n' || map->data[map->len - 1] == ' '))
        map->data[--map->len] = '\0';
    if (rc != 0 || map->len == 0 || strchr(buf_cstr(map), ',') || strchr(buf_cstr(map), ' ')) {
        buf_printf(err, "%s/main.cf: smtpd_sender_login_maps %s (postconf exit %d); emailng-fromcheck needs "
                        "exactly one map", config, map->len ? "is not one map" : "is empty", rc);
        return -1;
    }
    return 0;
}

int fromcheck_start(const struct service_env *env, buf *err)
{
    char *program = fromcheck_program();
    char *config = service_path(env, "etc_dir", "postfix");
    char *log = service_path(env, "log_dir", "fromcheck.log");
    char *pid_file = service_path(env, "run_dir", "fromcheck/fromcheck.pid");
    buf map = BUF_INIT;
    int rc = sender_login_map(config, &map, err);
    const char *argv[] = {program, "-s", service_var(env, "fromcheck_socket"), "-m", buf_cstr(&map),
                          "-c", config, "-u", "postfix", "-p", pid_file, "-t", NULL};
    if (rc == 0) {
        rc = service_run(argv, err);
        if (rc != 0)
            buf_printf(err, " (emailng-fromcheck is looked for next to emailng, then on PATH)");
    }
    argv[sizeof argv / sizeof argv[0] - 2] = NULL;     /* the same, without -t */
    if (rc == 0)
        rc = process_spawn_daemon(argv, log, err);
    buf_free(&map);
    free(program);
    free(config);
    free(log);
    free(pid_file);
    return rc;
}

/* Its socket accepts a connection (root may open it). */
int fromcheck_ready(const struct service_env *env, buf *detail)
{
    const char *path = service_var(env, "fromcheck_socket");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        buf_printf(detail, "%s: path too long for a unix socket", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(detail, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
    if (rc != 0)
        buf_printf(detail, "%s: %s (see %s/fromcheck.log)", path, strerror(errno), service_var(env, "log_dir"));
    close(fd);
    return rc == 0 ? 0 : -1;
}

pid_t fromcheck_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "fromcheck/fromcheck.pid");
}

int fromcheck_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(fromcheck_pid(env), "emailng-fromcheck", err);
}
