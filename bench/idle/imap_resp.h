/* imap_resp: what the IDLE load client (bench/idle) reads from an IMAP
 * server, in pieces a unit test and a fuzzer can drive without sockets:
 * a CRLF line splitter with a bound on the line length (over a growable
 * buffer: no fixed buffer for the server's bytes), and a classifier of one
 * server line (greeting, tagged result, continuation, "* n EXISTS", BYE). */
#ifndef EMAILNG_BENCH_IMAP_RESP_H
#define EMAILNG_BENCH_IMAP_RESP_H

#include <stddef.h>

#include "buf.h"

typedef enum {
    IMAP_RESP_OTHER,        /* any other untagged line, or another tag's */
    IMAP_RESP_UNTAGGED_OK,  /* "* OK ..." (the greeting among others) */
    IMAP_RESP_CONTINUE,     /* "+ ..." (IDLE accepted) */
    IMAP_RESP_EXISTS,       /* "* N EXISTS" */
    IMAP_RESP_BYE,          /* "* BYE ..." */
    IMAP_RESP_TAGGED_OK,    /* "TAG OK ..." */
    IMAP_RESP_TAGGED_FAIL,  /* "TAG NO ..." or "TAG BAD ..." */
} imap_resp_kind;

typedef struct {
    imap_resp_kind kind;
    unsigned long exists;   /* N of "* N EXISTS" */
} imap_resp;

/* Classifies one line (without its CRLF; need not be NUL-terminated) for
 * the command tag `tag` (a NUL-terminated atom). */
imap_resp imap_resp_classify(const char *line, size_t len, const char *tag);

typedef struct {
    buf in;             /* bytes received, from `start` on not yet returned */
    size_t start;
    size_t max_line;    /* a line longer than this (without CRLF) is an error */
} imap_lines;

void imap_lines_init(imap_lines *l, size_t max_line);
void imap_lines_free(imap_lines *l);
/* Adds received bytes. */
void imap_lines_feed(imap_lines *l, const void *data, size_t len);
/* The next complete line: 1 with line and len set (valid until the next feed),
 * 0 when no complete line is buffered, -1 when the pending line exceeds
 * max_line (the stream is then unusable). */
int imap_lines_next(imap_lines *l, const char **line, size_t *len);

#endif
