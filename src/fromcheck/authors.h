/* authors: the addresses of a From: or Sender: header (RFC 5322 3.4:
 * mailbox-list, address-list with groups), for emailng-fromcheck.
 *
 * Comments, quoted display names and folding are read the way a mail
 * reader would, so a display name can never pass for the address: the
 * address of "alice@example.test <bob@example.test>" is bob's. Anything
 * that is not plainly a list of addr-specs (no '@', two angle-addrs in one
 * mailbox, an unclosed quote, comment or bracket, control characters) is
 * an error: the caller refuses the message (fail closed). */
#ifndef EMAILNG_FROMCHECK_AUTHORS_H
#define EMAILNG_FROMCHECK_AUTHORS_H

#include <stddef.h>

#include "buf.h"

#define AUTHORS_MAX 32

struct authors {
    char *address[AUTHORS_MAX];     /* lower-cased addr-specs */
    size_t n;
};

/* 0 and the addresses (appended to a), or -1 with the reason in err. */
int authors_parse(const char *value, struct authors *a, buf *err);
void authors_free(struct authors *a);

/* 1 if address (lower case) is login, ignoring case and a +extension of
 * address's local part (Postfix's recipient_delimiter). */
int authors_same(const char *address, const char *login);

/* address without its +extension, or NULL if it has none (caller frees). */
char *authors_strip_extension(const char *address);

#endif
