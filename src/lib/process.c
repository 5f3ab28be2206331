/* process: see process.h. */
#include "process.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_MAX (1024 * 1024)

char *process_program_next_to_us(const char *name, const char *fallback)
{
    char *self = realpath("/proc/self/exe", NULL);
    char *slash = self ? strrchr(self, '/') : NULL;
    char *next_to_us = slash ? xasprintf("%.*s/%s", (int)(slash - self), self, name) : NULL;
    free(self);
    if (next_to_us && access(next_to_us, X_OK) == 0)
        return next_to_us;
    free(next_to_us);
    return xstrdup(fallback);
}

/* Closes both ends of a pipe that was made (-1 = not made). */
static void close_pipe(int fds[2])
{
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* Waits for our child pid. A signal only restarts the wait; any other
 * failure (ECHILD: someone else reaped it) is an error, never a status
 * read from an uninitialised variable. 0, or -1 with err set. */
static int wait_child(pid_t pid, int *status, buf *err)
{
    for (;;) {
        pid_t reaped = waitpid(pid, status, 0);
        if (reaped == pid)
            return 0;
        if (reaped < 0 && errno == EINTR)
            continue;
        buf_printf(err, "waitpid: %s", reaped < 0 ? strerror(errno) : "another process was reaped");
        return -1;
    }
}

int process_run(const char *const argv[], const char *input, buf *output, buf *err)
{
    /* Output goes to an unlinked temporary file, not a pipe: a daemon that
     * forks into the background keeps its stderr open, and waiting for a
     * pipe's end would wait for the daemon's end. */
    char tmpl[] = "/tmp/emailng-run-XXXXXX";
    int out = mkostemp(tmpl, O_CLOEXEC);
    if (out < 0) {
        buf_printf(err, "cannot create a temporary file: %s", strerror(errno));
        return -1;
    }
    unlink(tmpl);
    int in_pipe[2] = {-1, -1};
    if (input && pipe2(in_pipe, O_CLOEXEC) != 0) {
        buf_printf(err, "cannot create a pipe: %s", strerror(errno));
        close(out);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        buf_printf(err, "cannot fork: %s", strerror(errno));
        close_pipe(in_pipe);
        close(out);
        return -1;
    }
    if (pid == 0) {
        int in = input ? in_pipe[0] : open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (input) {
        close(in_pipe[0]);
        size_t left = strlen(input);
        const char *p = input;
        signal(SIGPIPE, SIG_IGN);
        while (left > 0) {
            ssize_t n = write(in_pipe[1], p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
        close(in_pipe[1]);
    }
    int status;
    if (wait_child(pid, &status, err) != 0) {
        close(out);
        return -1;
    }
    if (output && lseek(out, 0, SEEK_SET) == 0) {
        char chunk[4096];
        ssize_t n;
        while (output->len < OUTPUT_MAX && (n = read(out, chunk, sizeof chunk)) > 0)
            buf_append(output, chunk, (size_t)n);
    }
    close(out);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int process_run_attached(const char *const argv[], buf *err)
{
    fflush(stdout);             /* our lines before the child's */
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        buf_printf(err, "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    if (wait_child(pid, &status, err) != 0)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int process_spawn_daemon(const char *const argv[], const char *log_path, buf *err)
{
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log < 0) {
        buf_printf(err, "cannot open %s: %s", log_path, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        buf_printf(err, "cannot fork: %s", strerror(errno));
        close(log);
        return -1;
    }
    if (pid == 0) {
        /* The middle child exits at once, so the daemon is not ours to reap. */
        if (setsid() < 0)
            _exit(126);
        pid_t daemon = fork();
        if (daemon != 0)
            _exit(daemon < 0 ? 126 : 0);
        int in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log);
    int status;
    if (wait_child(pid, &status, err) != 0)
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        buf_printf(err, "cannot start %s in the background", argv[0]);
        return -1;
    }
    return 0;
}

int process_alive(pid_t pid)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) != 0 && errno != EPERM)
        return 0;
    /* A zombie is not alive for our purposes. */
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[512];
    int alive = 1;
    if (fgets(line, sizeof line, f)) {
        char *paren = strrchr(line, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'Z')
            alive = 0;
    }
    fclose(f);
    return alive;
}

pid_t pidfile_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long pid = 0;
    if (fscanf(f, " %ld", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 0 || !process_alive((pid_t)pid))
        return 0;
    return (pid_t)pid;
}

int process_stop(pid_t pid, int seconds)
{
    if (!process_alive(pid))
        return 0;
    kill(pid, SIGTERM);
    long long deadline = clock_ms() + (long long)seconds * 1000;
    while (clock_ms() < deadline) {
        /* Reap it if it is our own child. */
        waitpid(pid, NULL, WNOHANG);
        if (!process_alive(pid))
            return 0;
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    for (int i = 0; i < 40; i++) {
        waitpid(pid, NULL, WNOHANG);
        if (!process_alive(pid))
            return 0;
        usleep(50 * 1000);
    }
    return -1;
}

/* A "Name:   123 kB" field of a /proc/PID file. */
static long read_kb_field(long pid, const char *file, const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, file);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[256];
    long kb = 0;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) {
            kb = strtol(line + n, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

int process_in_our_network_namespace(long pid)
{
    struct stat ours, theirs;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
    if (stat("/proc/self/ns/net", &ours) != 0 || stat(path, &theirs) != 0)
        return 0;
    return ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

int process_stat_start(long pid, long *ppid, unsigned long long *start)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[1024];
    int rc = -1;
    if (fgets(line, sizeof line, f)) {
        char *paren = strrchr(line, ')');
        char state;
        /* After "(comm)": state ppid, then 17 fields, then starttime. */
        if (paren && sscanf(paren + 1, " %c %ld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                            "%*s %llu", &state, ppid, start) == 3)
            rc = 0;
    }
    fclose(f);
    return rc;
}

int process_pids(long **pids, size_t *n)
{
    *pids = NULL;
    *n = 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        *pids = xrealloc(*pids, (*n + 1) * sizeof **pids);
        (*pids)[(*n)++] = strtol(de->d_name, NULL, 10);
    }
    closedir(d);
    return 0;
}

int process_table(struct process_entry **table, size_t *n)
{
    long *pids;
    size_t npids;
    *table = NULL;
    *n = 0;
    if (process_pids(&pids, &npids) != 0)
        return -1;
    *table = xcalloc(npids + 1, sizeof **table);
    for (size_t i = 0; i < npids; i++) {
        struct process_entry *e = &(*table)[*n];
        if (process_stat_start(pids[i], &e->ppid, &e->start) != 0)
            continue;               /* ended meanwhile */
        e->pid = pids[i];
        (*n)++;
    }
    free(pids);
    return 0;
}

/* Marks below[i] for every entry of the table that descends from root
 * (breadth first; a mark is never set twice, so a ppid loop cannot hang). */
static void mark_descendants(const struct process_entry *t, size_t n, long root, char *below)
{
    long *queue = xmalloc((n + 1) * sizeof *queue);
    size_t head = 0, tail = 0;
    queue[tail++] = root;
    while (head < tail) {
        long p = queue[head++];
        for (size_t i = 0; i < n && tail <= n; i++)
            if (t[i].ppid == p && !below[i]) {
                below[i] = 1;
                queue[tail++] = t[i].pid;
            }
    }
    free(queue);
}

static long tree_kb(pid_t root, const char *file, const char *field)
{
    if (!process_alive(root))
        return 0;
    struct process_entry *t;
    size_t n;
    if (process_table(&t, &n) != 0)
        return read_kb_field(root, file, field);
    char *below = xcalloc(n + 1, 1);
    mark_descendants(t, n, root, below);
    long total = read_kb_field(root, file, field);
    for (size_t i = 0; i < n; i++)
        if (below[i])
            total += read_kb_field(t[i].pid, file, field);
    free(below);
    free(t);
    return total;
}

int process_stop_tree(pid_t root, int seconds)
{
    if (!process_alive(root))
        return 0;
    /* The descendants now, each with its start time (so a pid reused
     * meanwhile is never signalled). */
    struct process_entry *t;
    size_t n;
    if (process_table(&t, &n) != 0)
        n = 0;                      /* no /proc: stop root alone */
    char *below = xcalloc(n + 1, 1);
    mark_descendants(t, n, root, below);
    int rc = process_stop(root, seconds);
    for (size_t i = 0; i < n; i++) {
        long ppid;
        unsigned long long start;
        if (below[i] && process_stat_start(t[i].pid, &ppid, &start) == 0 && start == t[i].start
            && process_alive((pid_t)t[i].pid))
            kill((pid_t)t[i].pid, SIGKILL);
    }
    free(below);
    free(t);
    return rc;
}

long process_tree_rss_kb(pid_t root)
{
    return tree_kb(root, "status", "VmRSS:");
}

long process_tree_pss_kb(pid_t root)
{
    return tree_kb(root, "smaps_rollup", "Pss:");
}

static int tcp_connect(const char *host, int port, int timeout_ms)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -1;
    }
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (poll(&pfd, 1, timeout_ms) != 1) {
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int tcp_listening(const char *host, int port)
{
    int fd = tcp_connect(host, port, 500);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int unix_connect(const char *path, buf *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        buf_printf(err, "%s: path too long for a unix socket", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(err, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        buf_printf(err, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int unix_listen(const char *path, mode_t mode, gid_t gid, int backlog, buf *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        buf_printf(err, "the path %s is too long for a unix socket", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            buf_printf(err, "cannot listen on %s: it exists and is not a socket", path);
            return -1;
        }
        if (unlink(path) != 0) {
            buf_printf(err, "cannot replace the socket %s: %s", path, strerror(errno));
            return -1;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(err, "cannot listen on %s: %s", path, strerror(errno));
        return -1;
    }
    /* Bound under the umask of mode, so it is never open to others before
     * the chown; group and mode set again, whatever the umask was. */
    mode_t old = umask(~mode & 0777);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) || chmod(path, mode) != 0 ||
        listen(fd, backlog) != 0) {
        buf_printf(err, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int unix_listening(const char *path)
{
    buf ignored = BUF_INIT;
    int fd = unix_connect(path, &ignored);
    buf_free(&ignored);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int tcp_greeting(const char *host, int port, const char *expect, int timeout_ms, buf *line)
{
    int fd = tcp_connect(host, port, timeout_ms);
    if (fd < 0)
        return -1;
    long long deadline = clock_ms() + timeout_ms;
    buf got = BUF_INIT;
    int rc = -1;
    while (clock_ms() < deadline && got.len < 4096) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - clock_ms());
        if (left <= 0 || poll(&pfd, 1, left) != 1)
            break;
        char chunk[512];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            break;
        buf_append(&got, chunk, (size_t)n);
        if (memchr(got.data, '\n', got.len))
            break;
    }
    close(fd);
    if (got.len && strncmp(buf_cstr(&got), expect, strlen(expect)) == 0)
        rc = 0;
    if (line) {
        char *nl = got.len ? strchr(got.data, '\r') : NULL;
        if (nl)
            *nl = '\0';
        buf_append_str(line, buf_cstr(&got));
    }
    buf_free(&got);
    return rc;
}

/* Socket inodes listening on port, from /proc/net/tcp and tcp6. */
static size_t listening_inodes(int port, unsigned long *inodes, size_t max)
{
    static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    size_t n = 0;
    for (size_t f = 0; f < 2; f++) {
        FILE *fp = fopen(files[f], "r");
        if (fp == NULL)
            continue;
        char line[512];
        if (!fgets(line, sizeof line, fp)) {     /* header */
            fclose(fp);
            continue;
        }
        while (fgets(line, sizeof line, fp) && n < max) {
            char local[128];
            unsigned state;
            unsigned long inode;
            /* sl local rem st tx:rx tr:when retr uid timeout inode */
            if (sscanf(line, " %*s %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &state, &inode) != 3)
                continue;
            char *colon = strrchr(local, ':');
            if (colon == NULL || state != 0x0A)   /* TCP_LISTEN */
                continue;
            if ((int)strtol(colon + 1, NULL, 16) == port)
                inodes[n++] = inode;
        }
        fclose(fp);
    }
    return n;
}

/* 1 if pid has a descriptor on one of the sockets. */
static int holds_socket(long pid, const unsigned long *inodes, size_t n)
{
    char fddir[64];
    snprintf(fddir, sizeof fddir, "/proc/%ld/fd", pid);
    DIR *fds = opendir(fddir);
    if (fds == NULL)
        return 0;
    int found = 0;
    struct dirent *fe;
    while (!found && (fe = readdir(fds)) != NULL) {
        char link[600], target[128];
        snprintf(link, sizeof link, "%s/%s", fddir, fe->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        unsigned long inode;
        if (sscanf(target, "socket:[%lu]", &inode) != 1)
            continue;
        for (size_t i = 0; i < n; i++)
            if (inodes[i] == inode)
                found = 1;
    }
    closedir(fds);
    return found;
}

pid_t port_owner(int port, buf *name)
{
    unsigned long inodes[16];
    size_t n = listening_inodes(port, inodes, 16);
    if (n == 0)
        return 0;
    long *pids;
    size_t npids;
    if (process_pids(&pids, &npids) != 0)
        return 0;
    pid_t found = 0;
    for (size_t p = 0; !found && p < npids; p++)
        if (holds_socket(pids[p], inodes, n))
            found = (pid_t)pids[p];
    /* A daemon's children share its listening socket (Dovecot's login
     * processes, Postfix's smtpd): name the daemon, the topmost holder,
     * whatever order the pids come in (they wrap). */
    for (int depth = 0; found && depth < 64; depth++) {
        long ppid;
        unsigned long long start;
        if (process_stat_start(found, &ppid, &start) != 0 || ppid <= 1 || !holds_socket(ppid, inodes, n))
            break;
        found = (pid_t)ppid;
    }
    free(pids);
    if (found && name) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/comm", (long)found);
        FILE *f = fopen(path, "r");
        char comm[64] = "";
        if (f) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        buf_append_str(name, comm);
    }
    return found;
}
