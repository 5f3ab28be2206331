/* decision: what a policy answers for one request: the action line sent
 * back to Postfix (without "action=") and a short reason for the log. */
#ifndef POLICYD_DECISION_H
#define POLICYD_DECISION_H

#include "buf.h"

typedef struct decision {
    buf action;     /* "DUNNO", "450 4.7.1 ...", "PREPEND Received-SPF: ..." */
    buf reason;
} decision;

void decision_init(decision *d);
void decision_free(decision *d);
void decision_set(decision *d, const char *action, const char *reason_fmt, ...)
    __attribute__((format(printf, 3, 4)));
int decision_is_dunno(const decision *d);

#endif
