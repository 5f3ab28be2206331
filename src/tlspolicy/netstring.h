/* netstring: the framing of Postfix's socketmap protocol (socketmap_table(5),
 * D. J. Bernstein's netstrings: "LEN:DATA,"), read incrementally with a
 * hard bound, and the request inside it ("NAME KEY").
 *
 * A netstring whose announced length is over max_len, a length with a
 * leading zero or more digits than max_len needs, a byte other than a digit
 * or ':' in the length, or a missing ',' after the data is *fatal*
 * (NS_FATAL, with a static reason): the stream cannot be resynchronised,
 * the caller closes the connection. Memory use is bounded by max_len. */
#ifndef TLSPOLICY_NETSTRING_H
#define TLSPOLICY_NETSTRING_H

#include <stddef.h>

#include "buf.h"

enum { NS_MORE = 0, NS_DONE = 1, NS_FATAL = -1 };

typedef struct netstring {
    size_t max_len;         /* the longest payload accepted */
    size_t want;            /* announced length, once read */
    size_t digits;          /* digits of the length read so far */
    int state;              /* length, data, comma */
    buf data;               /* the payload (NUL-terminated, may hold NULs) */
    const char *bad;        /* why NS_FATAL, static */
} netstring;

void netstring_init(netstring *ns, size_t max_len);
void netstring_free(netstring *ns);
/* Forget the last netstring (keeps memory for the next one). */
void netstring_reset(netstring *ns);
/* Feed bytes; *used is how many were consumed (on NS_DONE the bytes after
 * the ',' are not: they begin the next netstring). The payload is ns->data. */
int netstring_feed(netstring *ns, const char *in, size_t len, size_t *used);

/* Appends s[0..n) as one netstring. */
void netstring_append(buf *out, const char *s, size_t n);

/* A socketmap request "NAME KEY": NAME is [A-Za-z0-9_.-]{1,64}, one space,
 * KEY is 1..max_key printable ASCII bytes without spaces. Pointers into a
 * copy the caller frees with socketmap_request_free. 0, or -1 with a
 * static reason. */
typedef struct socketmap_request {
    char *name;
    char *key;
} socketmap_request;

int socketmap_request_parse(const char *payload, size_t len, size_t max_key, socketmap_request *req,
                            const char **why);
void socketmap_request_free(socketmap_request *req);

#endif
