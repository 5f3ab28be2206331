/* ratelimit: per-sender send limits (S5).
 *
 * Who: the SASL login (sasl_username) for authenticated clients, with the
 * site's `authenticated` defaults and per-user overrides from the table;
 * the client's network (IPv4 /32, IPv6 /64 by default) otherwise, with
 * the `unauthenticated` defaults.
 *
 * Checked at RCPT: messages in the open one-hour window, recipients in
 * this message so far (counted by the caller), recipients in the open
 * one-day window. Recorded at END-OF-MESSAGE: one message and
 * recipient_count recipients. A window opens at the first message after
 * the previous one closed. Counters live in the LMDB store. */
#ifndef POLICYD_RATELIMIT_H
#define POLICYD_RATELIMIT_H

#include <stdint.h>

#include "config.h"
#include "decision.h"
#include "request.h"
#include "store.h"
#include "table.h"

#define RL_HOUR 3600
#define RL_DAY 86400

/* Returns 1 when the request is deferred (d set), 0 when within the
 * limits (d set to DUNNO with a reason), -1 on a store error (d DUNNO). */
int ratelimit_check(const config *cfg, const table *t, store *s, const request *r,
                    int64_t now, long rcpts_in_message, decision *d);
/* END-OF-MESSAGE: counts the message. */
int ratelimit_record(const config *cfg, store *s, const request *r, int64_t now);

#endif
