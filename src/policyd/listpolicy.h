/* listpolicy: who may post to a mailing list (U4), decided at RCPT on the
 * border (the relays, or the one host of a small site), from the table's
 * "list ADDRESS POLICY OWNER..." records:
 *
 *   open      anyone
 *   internal  only the site's own users, i.e. an authenticated client
 *             (submission): mail from outside is refused, and so is an
 *             unauthenticated client that claims an address of the site
 *   announce  only the list's owners, authenticated: the login or the
 *             envelope sender (which submission holds to the login) must
 *             be an owner
 *
 * LIST+owner (bounces and mail for the owners) is not the list and is
 * never refused here; any other +extension is the list itself. */
#ifndef POLICYD_LISTPOLICY_H
#define POLICYD_LISTPOLICY_H

#include "decision.h"
#include "request.h"
#include "table.h"

/* 1 when the recipient is a list that refuses this sender (d is the 550),
 * 0 otherwise (d is DUNNO with a reason). */
int listpolicy_check(const table *t, const request *r, decision *d);

#endif
