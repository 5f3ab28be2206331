/* list_message: what emailng-list-deliver needs to know about a list
 * address and a message (U4; docs/admin-manual.md "Mailing lists").
 *
 * A list LOCAL@DOMAIN has two addresses of its own, both with the
 * recipient delimiter "+":
 *   LOCAL+owner@DOMAIN    its owners (Postfix expands it): the envelope
 *                         sender of every copy, so bounces reach them
 *   LOCAL+members@DOMAIN  its members; expanded only by the list's own
 *                         reinjection service (listcleanup in master.cf)
 * The list's headers (RFC 2919, RFC 2369) are added in front; nothing of
 * the message is changed or removed, so a poster's DKIM signature stays
 * valid (the headers added are not in its h= unless the signer listed
 * absent ones).
 *
 * Pure functions: no I/O. */
#ifndef LISTDELIVER_LIST_MESSAGE_H
#define LISTDELIVER_LIST_MESSAGE_H

#include <stddef.h>

#include "buf.h"

struct list_address {
    buf list;           /* local@domain, lower case, no extension */
    buf id;             /* RFC 2919 list id: local.domain */
    buf owner;          /* local+owner@domain */
    buf members;        /* local+members@domain */
    buf extension;      /* what followed "+" in the address it came as ("" if none) */
};

void list_address_init(struct list_address *a);
void list_address_free(struct list_address *a);
/* Splits a recipient (as Postfix gives it) into the list's addresses.
 * -1 (err says why) if it is no address: no "@", empty local part or
 * domain, or a byte outside printable ASCII. */
int list_address_parse(const char *recipient, struct list_address *a, buf *err);

/* 1 if the header section (the lines before the first empty line, with
 * folded continuation lines) has a List-Id field whose value names id in
 * angle brackets ("<id>"), compared case-insensitively; else 0. */
int list_message_has_list_id(const char *headers, size_t len, const char *id);

/* The header fields the list adds, each ending in CRLF: List-Id,
 * List-Owner, List-Unsubscribe (mailto: the owners, subject
 * "unsubscribe"), Precedence: list. */
void list_message_headers(const struct list_address *a, buf *out);

#endif
