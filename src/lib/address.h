/* address: checking what an administrator types on the command line.
 *
 * address_normalize() turns "Alice" or "Alice@Example.TEST" into the one
 * form stored in the directory, "alice@example.test", or explains in one
 * line why the input is not an address EmailNG accepts.  The accepted form
 * is deliberately narrower than RFC 5321: a local part of ASCII letters,
 * digits and . _ + - (no leading, trailing or double dot), a domain of
 * LDH labels.  Anything else (quotes, commas, '*', parentheses, control
 * characters, non-ASCII) is refused, so an address can never carry LDAP
 * filter or DN syntax even before it is escaped.
 *
 * size_parse() reads sizes such as "1048576", "500K", "1M", "2G", "1T".
 * Suffixes are binary (K = 1024, as in Dovecot's quota_rule) and may be
 * upper or lower case; an optional trailing "B" is allowed ("500KB").
 * "0" parses as 0: what zero means is the caller's business (the
 * directory treats a quota of 0 as "no quota of one's own, use the site
 * default"; the user CLI refuses 0 and offers "default" instead).
 * size_format() writes a size back in the shortest exact form ("1G").
 *
 * On success out is replaced with the result; on failure err is replaced
 * with the reason and -1 is returned.  Byte values that cannot be shown
 * safely are written escaped (\n, \x01, \xc3) in messages, never raw. */
#ifndef EMAILNG_ADDRESS_H
#define EMAILNG_ADDRESS_H

#include "buf.h"

#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 253
#define ADDRESS_MAX 254
#define ADDRESS_LABEL_MAX 63

int address_normalize(const char *input, const char *default_domain,
                      buf *out, buf *err);

/* Check and lower-case a domain name on its own (same rules). */
int domain_normalize(const char *input, buf *out, buf *err);

/* Append input to out in double quotes, escaping control characters,
 * quotes, backslashes and non-ASCII bytes (for error messages).
 * address_quote_cut() stops after ADDRESS_QUOTE_MAX bytes of input and
 * adds "... (N bytes)", so hostile input is never echoed in full; the
 * messages of this module use it. */
#define ADDRESS_QUOTE_MAX 80
void address_quote(buf *out, const char *input);
void address_quote_cut(buf *out, const char *input);

int size_parse(const char *s, unsigned long long *bytes, buf *err);
void size_format(unsigned long long bytes, buf *out);   /* appends */

/* The mailbox quotas EmailNG accepts, from the CLI and in the site file
 * alike: at least 1M (less holds no ordinary message), at most 1024T
 * (Dovecot refuses limits past 2^63 bytes as "Invalid bytes limit", and
 * the border's grace margin multiplies the quota). 0 is the caller's. */
#define QUOTA_MIN_BYTES (1ULL << 20)
#define QUOTA_MAX_BYTES (1ULL << 50)
int quota_size_check(unsigned long long bytes, buf *err);

#endif
