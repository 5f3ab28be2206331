/* fsutil: the few file-system operations EmailNG needs, with errors that
 * name the path: read a bounded file, replace a file atomically, create a
 * folder and its parents, set an owner by user name. */
#ifndef EMAILNG_FSUTIL_H
#define EMAILNG_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

int fs_read_file(const char *path, size_t max, buf *out, buf *err);
/* A secret kept alone in a file (a shared password): its one line, without
 * the line end(s) at its end (LF or CRLF); an empty file, or a second line
 * (or a CR inside), is an error, and then out is wiped and left empty. */
int fs_read_secret(const char *path, size_t max, buf *out, buf *err);
/* Writes to path.tmp, fsyncs, renames over path. */
int fs_write_file(const char *path, const void *data, size_t len, mode_t mode, buf *err);
/* The same, the file owned by root and group (by name; NULL = the caller's
 * group) before it replaces path: a reader in that group never sees a
 * version it may not open. */
int fs_write_file_group(const char *path, const void *data, size_t len, mode_t mode, const char *group,
                        buf *err);
/* A file a daemon appends to (a log): created if missing, never followed
 * if a symlink, then chown to user:group (by name; NULL user = root, NULL
 * group = user's group) and chmod, so an existing file gets the mode too. */
int fs_ensure_file(const char *path, const char *user, const char *group, mode_t mode, buf *err);
/* The calling process's pid and a newline, written as fs_write_file does. */
int fs_write_pid_file(const char *path, buf *err);
int fs_mkdirs(const char *path, mode_t mode, buf *err);
/* mkdir -p, then chown to user:group (by name; NULL group = user's group) and chmod. */
int fs_ensure_dir(const char *path, const char *user, const char *group, mode_t mode, buf *err);
int fs_exists(const char *path);
/* rm -rf; a missing path is not an error. */
int fs_remove_tree(const char *path, buf *err);
/* 1 if two files or folder trees have the same names and bytes. */
int fs_same_tree(const char *a, const char *b);
/* How full the file system holding path is, in percent, as df(1) counts
 * it (blocks used / blocks usable by ordinary users, rounded up); *device
 * tells file systems apart. fs_percent_used() is the arithmetic. */
int fs_used_percent(const char *path, int *percent, unsigned long long *device, buf *err);
int fs_percent_used(unsigned long long blocks, unsigned long long free_blocks, unsigned long long available);
/* Copies a file (bytes and mode). */
int fs_copy_file(const char *from, const char *to, mode_t mode, buf *err);

#endif
