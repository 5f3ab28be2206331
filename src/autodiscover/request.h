/* request: the one decision of emailng-autodiscover (issue 13, C4): is
 * the body of an Outlook autodiscover POST a well-formed POX request
 * (schema .../outlook/requestschema/2006) for an address of one of the
 * site's domains, asking for the response schema we give (.../outlook/
 * responseschema/2006a)? Parsed with Debian's libexpat, namespace-aware;
 * a document type declaration stops the parse before anything in it is
 * read (so no entity is ever declared, expanded or loaded: no billion
 * laughs, no external entity), and so does anything that is not the
 * request's shape. A pure function of the bytes (no I/O, no globals):
 * the unit tests and a fuzzer call it directly.
 *
 * Each verdict has a fixed answer (HTTP status and an XML body of the POX
 * error form) that holds nothing of the request. */
#ifndef EMAILNG_AUTODISCOVER_REQUEST_H
#define EMAILNG_AUTODISCOVER_REQUEST_H

#include <stddef.h>

#include "buf.h"

/* The largest body read: a real request is a few hundred bytes. */
#define AUTODISCOVER_BODY_MAX 16384
/* The longest text of EMailAddress / AcceptableResponseSchema kept. */
#define AUTODISCOVER_FIELD_MAX 512

#define AUTODISCOVER_REQUEST_NS "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
#define AUTODISCOVER_RESPONSE_SCHEMA "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

enum autodiscover_verdict {
    AUTODISCOVER_SETTINGS,        /* a proper request: the site's settings */
    AUTODISCOVER_TOO_LARGE,       /* more than AUTODISCOVER_BODY_MAX bytes */
    AUTODISCOVER_NOT_XML,         /* not well-formed XML (or an encoding expat does not know) */
    AUTODISCOVER_DTD,             /* a document type declaration (entities, external subsets) */
    AUTODISCOVER_NOT_REQUEST,     /* well-formed, but not the POX request's shape */
    AUTODISCOVER_NO_ADDRESS,      /* no EMailAddress, or an empty one */
    AUTODISCOVER_BAD_ADDRESS,     /* an EMailAddress that is no address (address.h's form) */
    AUTODISCOVER_OTHER_DOMAIN,    /* an address of a domain the site does not serve */
    AUTODISCOVER_OTHER_SCHEMA,    /* a response schema we do not give (e.g. ActiveSync's) */
    AUTODISCOVER_BAD_METHOD,      /* not a POST (main.c; nginx refuses those first) */
    AUTODISCOVER_N_VERDICTS
};

/* The verdict on body (len bytes, not NUL-terminated); domains are the
 * site's (lower case). With AUTODISCOVER_SETTINGS, address holds the
 * address in its normalised form; with AUTODISCOVER_OTHER_DOMAIN, the
 * normalised address too (for the log); else it is empty. */
enum autodiscover_verdict autodiscover_request_check(const char *body, size_t len, const char *const *domains,
                                                     size_t n_domains, buf *address);

/* A short name for the log ("settings", "dtd", "other-domain" ...). */
const char *autodiscover_verdict_name(enum autodiscover_verdict v);
/* The answer to a refused request: its HTTP status (4xx) and fixed body. */
int autodiscover_verdict_status(enum autodiscover_verdict v);
const char *autodiscover_error_body(enum autodiscover_verdict v);

#endif
