/* cmd_backup: "emailng backup" and "emailng restore" (M6), with Dovecot's
 * and OpenLDAP's own tools.
 *
 * The backup folder (site file backup.path, default STATE/backup; root,
 * group vmail, 0710) holds one folder per run, a generation
 * (backup_generations.h), root:vmail 0710 (the group may only pass
 * through: doveadm writes the mail as vmail), with
 *   mail/DOMAIN/LOCAL     the user's mail as an mdbox of its own, written by
 *                         `doveadm backup -u USER mdbox:...` on a store of
 *                         the user's pair (vmail, 0700); dsync works through
 *                         the store's own locks, so mail arriving meanwhile
 *                         is either in it or in the next generation
 *   sieve/DOMAIN/LOCAL/   the user's Sieve scripts (`doveadm sieve get`),
 *                         NAME.sieve and "active" (root, 0600)
 *   directory.ldif        every entry of the directory (slapcat), 0600
 *   secrets/              STATE/site.yaml, STATE/tls/, STATE/secrets/ (CA
 *                         key, DKIM keys, SRS and doveadm secrets ...):
 *                         root, folders 0700, files 0600
 *   manifest              what the run did (0600)
 * Incremental: a user's mdbox starts as a copy (cp --reflink=auto: shared
 * blocks where the file system can) of the newest generation holding the
 * user, and dsync then transfers only what changed. Never hard links:
 * mdbox files and Dovecot's indexes are appended in place, so a linked
 * copy would change the older generation too. Retention: site file
 * backup.keep full generations (backup_generations_retain).
 *
 *   backup [--user ADDR]        every user of the directory, or one
 *   backup --list               the generations
 *   restore --user ADDR [--folder NAME] [--generation G] [--into FOLDER]
 *       `doveadm import` of the user's mail (or one folder and its
 *       subfolders) from generation G (default: the newest holding the
 *       user) under FOLDER (default "Restored/G"): nothing the user has
 *       now is touched; the restored folders are subscribed
 *   restore --user ADDR --replace [--generation G] [--force]
 *       the whole mailbox made what it was (`doveadm backup -R`: folders,
 *       flags, UIDs, subscriptions) and its Sieve scripts put back; for a
 *       deleted user added again. Refused while the mailbox holds mail,
 *       unless --force (which drops that mail)
 *   restore --directory [--generation G] [--force]
 *       slapadd of directory.ldif with slapd stopped, onto a directory
 *       without users (refused if it has users, unless --force); the
 *       database it replaces is kept beside it (ldap.replaced-STAMP)
 *
 * Exit 0 done, 1 failed (also when one user of several failed), 2 usage. */
#ifndef EMAILNG_CMD_BACKUP_H
#define EMAILNG_CMD_BACKUP_H

#include "cli.h"

int cmd_backup_run(const struct options *o, int argc, char **argv);
int cmd_restore_run(const struct options *o, int argc, char **argv);

#endif
