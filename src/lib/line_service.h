/* line_service: the frame of a small root daemon that answers short line
 * dialogues on a unix socket only root and one group may open
 * (emailng-passwd for Roundcube's password plugin, emailng-junklist for
 * its Junk buttons):
 *   line_service_run    the socket (0660, the group's), the log, signals
 *                       (TERM stops, HUP reopens the log), the pid file,
 *                       then one connection at a time, each with read and
 *                       write timeouts, handed to serve();
 *   line_read / line_say  one bounded line in, text out. */
#ifndef LINE_SERVICE_H
#define LINE_SERVICE_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct line_service {
    const char *name;             /* the program's name, for its log */
    const char *socket;           /* created mode 0660, group gid */
    gid_t gid;
    const char *log;              /* file, or "-" for stderr */
    const char *pid_file;         /* "" or NULL: none */
    int io_timeout_seconds;       /* per read and per write of a connection */
    void (*serve)(void *context, int fd);
    void *context;
};

/* gid of group; 0 with the id set, -1 with a message on stderr. */
int line_service_group(const char *name, const char *group, gid_t *gid);
/* Serves until SIGTERM/SIGINT; the exit status for main(). */
int line_service_run(const struct line_service *s);

/* One line of at most max bytes (LF or CR LF stripped); -1 on EOF, a
 * timeout, a NUL or a longer line. Byte by byte: the dialogues are short. */
int line_read(int fd, buf *line, size_t max);
/* Writes all of text; -1 if the peer went away. */
int line_say(int fd, const char *text);

#endif
