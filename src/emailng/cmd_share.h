/* cmd_share: shared folders, shared mailboxes and announcement folders
 * (U5), all through Dovecot's ACL plugin (shared-folders.conf in templates/dovecot and templates/dovecot-store).
 *
 *   share grant OWNER FOLDER USER [--rights read|write|LETTERS]
 *   share revoke OWNER FOLDER USER
 *   share list OWNER [FOLDER]
 *   share mailbox ADDRESS          the user becomes a shared mailbox: no
 *                                  login of its own, mail is still delivered
 *   public create FOLDER WRITER [WRITER...]
 *   public grant FOLDER WRITER
 *   public revoke FOLDER WRITER
 *   public list [FOLDER]
 *
 * ACLs are changed only with `doveadm acl set/delete` (never by writing
 * dovecot-acl files), on every store of the owner's pair (dsync does not
 * replicate ACLs), followed by `doveadm acl recalc` for the shared-mailbox
 * dictionary. Owner and reader must be on the same store pair
 * (emailngMailHost). Public folders: DATA/public on a one-host site; on a
 * site of several hosts the folders of the owner account public-folders@
 * (made by `public create`; its replication carries them), which needs a
 * site of one store pair. Exit status 0, 1 failed, 2 usage. */
#ifndef EMAILNG_CMD_SHARE_H
#define EMAILNG_CMD_SHARE_H

#include "cli.h"

int cmd_share_run(const struct options *o, int argc, char **argv);
int cmd_public_run(const struct options *o, int argc, char **argv);

#endif
