/* dedup: which copies of a message delivered twice across the two stores
 * of a pair are to be removed (requirement A3; docs/architecture.md 7a,
 * "Nothing delivered twice"). The stores' Sieve rule discards a second
 * delivery whose Message-ID the user received within the last day, but
 * its memory is per store: a copy delivered again to the partner during a
 * failover is kept, and dsync then holds both on both stores. Once
 * the store has come back, the catch-up check (cmd_replication.c) asks
 * both stores for a user's recent messages and removes, on each store that
 * has it, what this module plans, with the Sieve rule's semantics:
 *  - same mailbox, same non-empty Message-ID, different message GUIDs
 *    (the same GUID is one message: on both stores, or an IMAP COPY; a
 *    user's copy is never a duplicate; a message without a Message-ID is
 *    never touched);
 *  - every copy saved within `period` seconds of the others;
 *  - at least one copy saved at or after window_start (when the store
 *    stopped serving, less a margin): older pairs are not ours to judge;
 *  - only the user's own folders (not Shared/ and Public/);
 *  - the copy kept is the one whose GUID sorts first. The GUID is the same
 *    on both stores and never changes, so two checks running at once (one
 *    on each proxy), or the two stores, always keep the same copy; removal
 *    is by UID, which is never reused, so removing twice removes nothing
 *    more.
 * dedup_parse appends the values of `fetch "mailbox-guid mailbox uid guid
 * date.saved.unixtime hdr.message-id"` (DEDUP_FETCH_FIELDS, six per
 * message; doveadm_client.h) from one store (`store`, the caller's index)
 * to the list (start with {0}). Returns 0, or -1 with a reason in err (the
 * list then holds what came before the bad value). */
#ifndef EMAILNG_DEDUP_H
#define EMAILNG_DEDUP_H

#include <stddef.h>

#include "buf.h"

#define DEDUP_FETCH_FIELDS "mailbox-guid mailbox uid guid date.saved.unixtime hdr.message-id"
#define DEDUP_PERIOD_S 86400    /* the Sieve rule's ":seconds 86400" (templates/dovecot-store/sieve/before.sieve) */

struct dedup_copy {
    char *mailbox_guid;
    char *mailbox;
    char *uid;
    char *guid;
    long long saved;            /* Unix time */
    char *msgid;                /* without surrounding white space; "" if none */
    int store;                  /* which store it was read from (dedup_parse) */
    int remove;                 /* set by dedup_plan */
};

struct dedup_list {
    struct dedup_copy *copies;
    size_t n;
};

int dedup_parse(char *const *fields, size_t n_fields, int store, struct dedup_list *l, buf *err);

/* Marks the copies to remove (and may reorder the list); returns how many. */
size_t dedup_plan(struct dedup_list *l, long long window_start, long long period);

void dedup_list_free(struct dedup_list *l);

#endif
