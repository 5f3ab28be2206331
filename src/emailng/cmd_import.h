/* cmd_import: `emailng import run LIST ...` brings users' mail in from a
 * legacy IMAP server (Dovecot's imapc) or a maildir tree on disk, with
 * `doveadm sync -1 -R -s STATE` on the active store of the user's pair
 * (the directory's emailngMailHost; user_store.h), one user after
 * another (--jobs N: N at once, each in a child process writing its own
 * state and report lines); `emailng import status` shows each user's last
 * report. `emailng import rollback LIST --cutover TIME` undoes a cut-over:
 * mail received on EmailNG since TIME is copied back to the source with
 * `doveadm import` (the source as the user's mail location: imapc APPENDs
 * to the legacy server), once per user.
 *
 * Every run is a one-way, stateful sync (the dsync state of the user's
 * last run is kept in STATE/import/users/ADDRESS): only what changed on
 * the source since then moves, and nothing users changed on EmailNG is
 * undone (a stateless `sync -1` copies back messages deleted here,
 * `backup` reverts every change). `--final` is the run at cut-over: it
 * refuses a user that has no state from an earlier run. A run is a
 * numbered pass over the list; an interrupted pass is resumed by the next
 * run (its done users skipped) unless --restart. The legacy password goes
 * to doveadm in a root-only 0600 configuration file, never on a command
 * line. Exit status 0: every user imported and within quota; 1: some
 * failed or are over quota; 2: usage or a bad list file. */
#ifndef EMAILNG_CMD_IMPORT_H
#define EMAILNG_CMD_IMPORT_H

#include "cli.h"

int cmd_import_run(const struct options *o, int argc, char **argv);

#endif
