/* process: run programs without a shell, read pid files, stop daemons by
 * pid, measure their memory, and find which process holds a TCP port.
 * emailng starts each daemon itself (there is no init system), so this is
 * the whole of its process control. */
#ifndef EMAILNG_PROCESS_H
#define EMAILNG_PROCESS_H

#include <sys/types.h>

#include "buf.h"
#include "clock.h"   /* clock_ms() for the callers of the waits below */

/* Runs argv[0] (PATH searched) with stdin from /dev/null, or from `input`
 * when given; stdout and stderr are appended to output (bounded to 1 MiB).
 * Returns the exit status, 128+signal, or -1 (err says why). */
int process_run(const char *const argv[], const char *input, buf *output, buf *err);

/* Runs argv[0] (PATH searched) on the caller's terminal: stdin, stdout
 * and stderr are inherited, for a long run an operator watches (emailng
 * deploy's ansible-playbook). Returns as process_run does. */
int process_run_attached(const char *const argv[], buf *err);

/* Starts argv as a detached daemon (double fork, new session) with stdin
 * from /dev/null and stdout/stderr appended to log_path. For daemons that
 * log to stderr in the foreground (slapd -d). Returns 0 once it is exec'd
 * (or -1 with err set; an exec failure lands in the log). */
int process_spawn_daemon(const char *const argv[], const char *log_path, buf *err);

/* The pid in a pid file if that process is alive, else 0. */
pid_t pidfile_read(const char *path);

int process_alive(pid_t pid);

/* SIGTERM, wait up to `seconds`, then SIGKILL. Returns 0 once it is gone. */
int process_stop(pid_t pid, int seconds);

/* process_stop(), then SIGKILL to every descendant it had that outlived it
 * (checked by start time, so a reused pid is never hit). */
int process_stop_tree(pid_t pid, int seconds);

/* ppid and start time (clock ticks since boot) from /proc/PID/stat;
 * 0, or -1 if the process is gone. */
int process_stat_start(long pid, long *ppid, unsigned long long *start);

/* Every process now. process_pids: the numeric entries of /proc;
 * process_table: with each one's ppid and start time (those that ended
 * meanwhile left out). 0, or -1 if /proc cannot be read. Caller frees. */
struct process_entry {
    long pid, ppid;
    unsigned long long start;   /* clock ticks since boot */
};
int process_pids(long **pids, size_t *n);
int process_table(struct process_entry **table, size_t *n);

/* 1 if pid is in this process's network namespace, 0 if in another one
 * (or gone). On one machine that holds several hosts (the test fabric, a
 * machine with several sites) a process title such as a Dovecot
 * instance's names can be another host's too; its namespace cannot. */
int process_in_our_network_namespace(long pid);

/* Memory of pid and all its descendants, in KiB: resident (RSS, shared
 * pages counted in every process) and proportional (PSS, shared pages
 * split among the processes sharing them: what the tree really costs). */
long process_tree_rss_kb(pid_t pid);
long process_tree_pss_kb(pid_t pid);

/* Connects to host:port and reads the first line within timeout_ms.
 * Returns 0 if a line starting with `expect` arrived. */
int tcp_greeting(const char *host, int port, const char *expect, int timeout_ms, buf *line);

/* A connected stream socket to the unix socket path, or -1 with
 * "PATH: reason" in err. */
int unix_connect(const char *path, buf *err);
/* Returns 1 if something accepts connections on the unix socket path. */
int unix_listening(const char *path);
/* A listening, non-blocking stream socket at path with mode (never wider,
 * even for an instant: it is bound under the matching umask) and group gid
 * ((gid_t)-1: unchanged). A stale socket from an earlier run is replaced;
 * anything else at path is an error. Returns the fd, or -1 with err set. */
int unix_listen(const char *path, mode_t mode, gid_t gid, int backlog, buf *err);

/* Returns 1 if something accepts TCP connections on host:port. */
int tcp_listening(const char *host, int port);

/* The pid of a process with a socket listening on TCP `port` (any
 * address), 0 if none is found. name receives its command name. */
pid_t port_owner(int port, buf *name);

/* The program `name` in the folder of the running executable if it is
 * there and executable (a build tree or an installed bindir), else a copy
 * of `fallback` (a PATH name or an installed path). Caller frees. */
char *process_program_next_to_us(const char *name, const char *fallback);

#endif
