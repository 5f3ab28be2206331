/* table_bundle: the relays' tables as one document, what a proxy's
 * emailng-tablesync serves (over HTTPS, to the relays' client certificate)
 * and a relay's emailng-tablesync installs (docs/architecture.md section
 * 5). One file, so that the three tables a relay installs always come from
 * one snapshot of the directory:
 *
 *   emailng-relay-tables 1 CSN\n         CSN: the directory's contextCSN
 *                                         read before the snapshot
 *   table NAME BYTES\n                   NAME relay-recipients, sender-logins
 *   <BYTES bytes of the table>            or policyd; each exactly once
 *   ...
 *   end\n
 *
 * Splitting checks only the framing (header, names, lengths, the end
 * line); what is inside each table is checked by its own parser before
 * anything is installed (src/tablesync/check.c). The CSN orders bundles: a
 * relay never installs one older than what it holds (a proxy that lost
 * the directory keeps serving its last snapshot). */
#ifndef EMAILNG_TABLE_BUNDLE_H
#define EMAILNG_TABLE_BUNDLE_H

#include <stddef.h>

#include "buf.h"

enum table_bundle_part { TABLE_RECIPIENTS, TABLE_SENDERS, TABLE_POLICYD, TABLE_BUNDLE_PARTS };

/* The names in the bundle, by part. */
extern const char *const table_bundle_names[TABLE_BUNDLE_PARTS];

struct table_bundle {
    char *csn;
    buf part[TABLE_BUNDLE_PARTS];
};

/* Appends the bundle of the three texts to out. csn has no spaces. */
void table_bundle_build(const char *csn, const buf *const parts[TABLE_BUNDLE_PARTS], buf *out);

/* Splits text into b (each part a copy); 0, or -1 with the reason in err
 * (b then empty). Free with table_bundle_free() in both cases. */
int table_bundle_split(const char *text, size_t len, struct table_bundle *b, buf *err);
void table_bundle_free(struct table_bundle *b);

/* <0, 0, >0 as CSN a is older than, the same as, newer than b. A CSN is
 * "YYYYmmddHHMMSS.ffffffZ#count#sid#mod": its text order is its time
 * order. "" (none held yet) is older than any. */
int table_bundle_csn_cmp(const char *a, const char *b);

#endif
