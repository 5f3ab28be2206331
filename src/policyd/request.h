/* request: the incremental parser for Postfix's SMTP access policy
 * delegation protocol (SMTPD_POLICY_README): "name=value\n" lines ended by
 * an empty line.
 *
 * Hard bounds: a line longer than max_line, more than max_attrs
 * attributes, a NUL or other control byte, a line without '=', a bad
 * attribute name or a repeated name make the request *bad*: the parser
 * keeps reading to the empty line and returns REQ_DONE with `bad` set,
 * so the caller can answer it and log why. A request that is still not
 * finished after max_request bytes is *fatal* (REQ_FATAL): the caller
 * closes the connection. Memory use is bounded by max_request. */
#ifndef POLICYD_REQUEST_H
#define POLICYD_REQUEST_H

#include <stddef.h>

#include "buf.h"

#define REQ_DEFAULT_MAX_LINE    2048
#define REQ_DEFAULT_MAX_ATTRS   64
#define REQ_DEFAULT_MAX_REQUEST 16384

enum { REQ_MORE = 0, REQ_DONE = 1, REQ_FATAL = -1 };

typedef struct request_limits {
    size_t max_line;
    size_t max_attrs;
    size_t max_request;
} request_limits;

typedef struct request {
    /* attributes: names[i] = values[i], both pointing into `store` */
    size_t n;
    const char **names;
    const char **values;
    buf store;
    /* parser state */
    buf line;
    size_t total;           /* bytes of this request so far */
    int skipping;           /* inside an over-long line */
    int started;            /* at least one byte of this request seen */
    const char *bad;        /* static reason, NULL when good */
    request_limits lim;
    size_t *offsets;        /* name/value offsets into store, 2 per attr */
} request;

void request_init(request *r, const request_limits *lim);
void request_free(request *r);
/* Forget the last request (keeps memory for the next one). */
void request_reset(request *r);
/* Feed bytes. *used is set to how many bytes were consumed: on REQ_DONE
 * the bytes after the empty line are not consumed (the next request). */
int request_feed(request *r, const char *data, size_t len, size_t *used);
/* The value of an attribute, "" when absent. */
const char *request_get(const request *r, const char *name);

/* Appends s with every byte that is not printable ASCII replaced
 * by '?', at most max bytes (used for answers, which must be one line). */
void sanitize_append(buf *out, const char *s, size_t max);

#endif
