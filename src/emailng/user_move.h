/* user_move: `emailng user move ADDRESS PAIR [--abort]`, a user's mailbox
 * (mail, folders, subscriptions, Sieve scripts) moved to another store pair
 * while the user keeps working (issue 15, A2). The steps, each recorded in
 * STATE/moves/ADDRESS before it starts, so that an interrupted move is
 * taken up where it stopped by running the same command again:
 *   copying   dsync (`doveadm sync`, two-way, over the stores' doveadm
 *             port with the pair password, as the replication does) from
 *             the source pair's active store to the target pair's active
 *             store, repeated while it still brings much; the user works
 *             on the source meanwhile
 *   switched  emailngMailHost set to the target pair, the user's sessions
 *             ended on the proxies (doveadm proxy kick) and the source
 *             stores; new sessions and deliveries go to the target; a
 *             final two-way sync brings what reached the source last
 *   verified  the target's replicator is asked to sync the user at once,
 *             and both target stores are waited for until each holds every
 *             message (mailbox and GUID), Sieve script and subscription of
 *             the source
 *   then      the source stores forget the user (replicator remove) and
 *             its mailbox (and ALT files) is removed on both; the state
 *             file goes.
 * Shares (ACLs): set on both target stores after the final sync, the user
 * removed from the old stores' shared-mailbox dictionaries (move_acl.h); a
 * move that would part the user from a user of another pair it shares
 * with is refused before it starts, unless --split-shares.
 * --abort rolls a move back while it is still copying (the user never
 * left the source): the target's copy is removed on both target stores.
 * After the switch there is no abort: the move is finished by running it
 * again, and a user is moved back with another move.
 * The stores' data must be on this machine (the test fabric, or a
 * management host that reaches it), as for `user del`. */
#ifndef EMAILNG_USER_MOVE_H
#define EMAILNG_USER_MOVE_H

#include "cmd_user.h"

/* argv[0] is "move". Returns 0, 1 (failed; the state file says where it
 * stopped) or 2 (usage). */
int cmd_user_move(int argc, char **argv, const struct directory_target *t);

#endif
