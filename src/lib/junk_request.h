/* junk_request: the one-line request the webmail's markasjunk plugin
 * sends emailng-junklist (src/junklist/main.c):
 *     spam USER SENDER      (the user marked a message from SENDER as junk)
 *     ham USER SENDER       (... as not junk)
 * junk_request_parse() checks it strictly: a known verb, exactly two
 * addresses separated by single spaces, each in address_normalize()'s
 * narrow form (so neither can carry LDAP or doveadm query syntax), the
 * whole at most JUNK_REQUEST_MAX bytes; both addresses come out
 * normalised and lower-case (the Sieve script compares lower-case text,
 * as `emailng user spam` stores it). On failure err says why, quoting at
 * most ADDRESS_QUOTE_MAX bytes of the input. */
#ifndef EMAILNG_JUNK_REQUEST_H
#define EMAILNG_JUNK_REQUEST_H

#include "address.h"
#include "buf.h"

/* "spam " + two addresses + a space. */
#define JUNK_REQUEST_MAX (5 + 2 * ADDRESS_MAX + 1)

enum junk_verdict { JUNK_SPAM, JUNK_HAM };

struct junk_request {
    enum junk_verdict verdict;
    buf user;       /* the webmail's login, whose lists change */
    buf sender;     /* the From address of the marked message */
};

/* The directory attribute the sender is added to (emailngSpamDeny for
 * spam, emailngSpamAllow for ham) and the one it leaves. */
const char *junk_verdict_list(enum junk_verdict v);
const char *junk_verdict_other_list(enum junk_verdict v);
const char *junk_verdict_name(enum junk_verdict v);

/* 0, or -1 with err set; r is initialised either way (junk_request_free). */
int junk_request_parse(const char *line, struct junk_request *r, buf *err);
void junk_request_free(struct junk_request *r);

#endif
