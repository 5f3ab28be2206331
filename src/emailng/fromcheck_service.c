/* fromcheck_service: prepare, start, check and stop emailng-fromcheck; see
 * fromcheck_service.h and docs/internals.md ("Daemons"). */
#include "fromcheck_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
    int fd = unix_connect(service_var(env, "fromcheck_socket"), detail);
    if (fd < 0) {
        buf_printf(detail, " (see %s/fromcheck.log)", service_var(env, "log_dir"));
        return -1;
    }
    close(fd);
    return 0;
}

pid_t fromcheck_pid(const struct service_env *env)
{
    return service_pidfile(env, "run_dir", "fromcheck/fromcheck.pid");
}

int fromcheck_stop(const struct service_env *env, buf *err)
{
    return service_stop_pid(fromcheck_pid(env), "emailng-fromcheck", err);
}
