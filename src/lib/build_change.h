/* build_change: whether a running daemon runs another build of its
 * program than the one `emailng up` would start now, so that `up`
 * restarts it after an upgrade (issue 12, `emailng deploy --upgrade`).
 *
 * `up` restarts a daemon when its configuration or certificates change;
 * a new build changes neither. The kernel knows which file a process
 * runs (/proc/PID/exe, also after the file was replaced or deleted), so
 * the running file is compared, by device and inode, with the file `up`
 * would start now:
 *   - our own daemons (a program named emailng*) start from the folder of
 *     the emailng that runs `up` (process_program_next_to_us): another
 *     folder (a new build installed elsewhere) or a replaced file there
 *     (`make install`, a package upgrade) is a new build;
 *   - any other daemon (Debian's dovecot, postfix, slapd ...) starts from
 *     the path it runs: a file replaced there (apt upgraded the package)
 *     is a new build.
 * A program that is gone with nothing in its place is not a new build
 * (a restart could not start it). */
#ifndef EMAILNG_BUILD_CHANGE_H
#define EMAILNG_BUILD_CHANGE_H

#include <sys/stat.h>
#include <sys/types.h>

#include "buf.h"

/* The path a process runs, from the text of its /proc/PID/exe link ("PATH"
 * or "PATH (deleted)"); *deleted says which. Caller frees. */
char *build_exe_path(const char *exe_link, int *deleted);

/* The program `up` would start now in place of the running exe_link:
 * for a program named emailng* the file of that name in self_dir (the
 * folder of the running emailng) if it is there, else the running path
 * itself. Caller frees. */
char *build_wanted_program(const char *exe_link, const char *self_dir);

/* The decision. running: stat of /proc/PID/exe (the running file);
 * wanted_path/wanted: the program `up` would start and its stat, or
 * wanted NULL when there is no such file. 1 (why says what changed, e.g.
 * "its program /usr/sbin/dovecot was replaced") or 0. */
int build_changed(const char *exe_link, const struct stat *running, const char *wanted_path,
                  const struct stat *wanted, buf *why);

/* The same for a live process, from /proc and the file system: 1 with
 * why, 0 for the same build or when it cannot be told (the process is
 * gone, /proc is not readable: nothing is restarted on a guess). */
int build_changed_pid(pid_t pid, buf *why);

#endif
