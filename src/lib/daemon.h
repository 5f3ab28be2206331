/* daemon: what every EmailNG daemon (emailng-policyd, emailng-healthd,
 * emailng-syncwatch) does the same way, done one way:
 *
 *   daemon_drop_privileges  root -> user: its groups from /etc/group
 *                           (initgroups), its gid, its uid; refuses if root
 *                           could be regained; no core dumps or ptrace by
 *                           the user (PR_SET_DUMPABLE 0: the process holds
 *                           secrets). Not root: nothing to drop (tests).
 *                           daemon_forbid_core_dumps alone for one that
 *                           stays root.
 *   daemon_pid_file_create  the pid file, removed at exit by the process
 *                           that wrote it (not by forked children).
 *   daemon_signals_catch    SIGTERM/SIGINT (stop) and SIGHUP (reopen the
 *                           log, reload) recorded for a main loop that
 *                           asks daemon_signal_stop()/daemon_signal_hup();
 *                           a daemon on libevent uses its own signal events.
 *   daemon_log_reopen_now   the SIGHUP action: reopen the log, one line.
 *
 * Messages go through msg.h (severities) on daemon_log.h. */
#ifndef EMAILNG_DAEMON_H
#define EMAILNG_DAEMON_H

#include "buf.h"

int daemon_drop_privileges(const char *user, buf *err);
/* A daemon that stays root (it must signal root's processes) still keeps
 * its secrets out of core dumps and ptrace: PR_SET_DUMPABLE 0. */
int daemon_forbid_core_dumps(buf *err);

int daemon_pid_file_create(const char *path, buf *err);

void daemon_signals_catch(void);
int daemon_signal_stop(void);       /* the signal that asked to stop, or 0 */
int daemon_signal_hup(void);        /* 1 once per SIGHUP received */
int daemon_signal_pending(void);    /* a stop or a SIGHUP waits (nothing cleared) */

void daemon_log_reopen_now(void);

#endif
