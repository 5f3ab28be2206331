/* check: what a relay's emailng-tablesync decides about one answer of a
 * proxy, before anything is installed. Pure logic (no I/O), so that the
 * rules are unit-tested: a bundle that does not split or whose tables do
 * not parse with their own parsers (relay_table_check() for Postfix's
 * two, emailng-policyd's table_parse() for its table) is refused; one
 * older than the installed tables (by CSN) is not installed; an answer
 * that is not 200 or 304 changes nothing. The relay keeps its last good
 * tables in every case but "install". */
#ifndef TABLESYNC_CHECK_H
#define TABLESYNC_CHECK_H

#include <stddef.h>

#include "buf.h"
#include "table_bundle.h"

enum tablesync_verdict {
    TS_FAILED,      /* no answer, or a status other than 200/304: try again next round */
    TS_UNCHANGED,   /* 304: the proxy serves what we asked about (our ETag) */
    TS_REFUSED,     /* 200 with a bundle that does not parse: never installed */
    TS_OLDER,       /* 200 with a valid bundle older than the installed tables */
    TS_INSTALL,     /* 200 with a valid bundle as new as or newer than ours */
};

/* Every table of b parses; else -1 with "TABLE:LINE: reason" in err. */
int tablesync_check_bundle(const struct table_bundle *b, buf *err);

/* Judges one answer: status is the HTTP status (0 when the request
 * failed). For TS_INSTALL the bundle is left in *b (free it); why gets
 * the reason of TS_REFUSED and TS_FAILED. */
enum tablesync_verdict tablesync_judge(long status, const char *body, size_t len, const char *installed_csn,
                                       struct table_bundle *b, buf *why);

/* Whether the proxy's new ETag is to be kept (and sent as If-None-Match
 * next time): after every answer that said something about a version
 * (refused and older ones included: asking again would only get the same
 * bytes and log the same line), but not after a failure, nor after an
 * install that did not complete (it is retried). */
int tablesync_keep_etag(enum tablesync_verdict v, int installed);

/* Whether this answer confirms the relay's tables (status shows the time
 * of the last confirmation). */
int tablesync_confirms(enum tablesync_verdict v, int installed);

/* A response header line "ETag: VALUE" (any case, CRLF or not): VALUE into
 * etag and 1; 0 for any other line (etag untouched). */
int tablesync_header_etag(const char *line, size_t len, buf *etag);

#endif
