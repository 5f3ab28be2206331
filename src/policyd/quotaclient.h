/* quotaclient: asks Dovecot's quota-status service on the stores, in
 * Postfix's policy protocol ("recipient=...", "size=..." -> "action=...").
 * Each mailbox's store pair comes from the table; the pair's stores are
 * tried in order, a store that failed is tried last for the next 10
 * seconds. An answer starting "552" or holding "5.2.2" means over quota;
 * "DUNNO"/"OK" means room; anything else (no answer, timeout, "unknown
 * user") moves on to the pair's next store, and QS_UNKNOWN when none is
 * left. One short-lived TCP connection per question; the answers are
 * cached by quota.c. */
#ifndef POLICYD_QUOTACLIENT_H
#define POLICYD_QUOTACLIENT_H

#include <event2/event.h>

#include "config.h"
#include "quota.h"

typedef struct quota_client quota_client;

quota_client *quota_client_new(struct event_base *base, const config *cfg,
                               void (*log_fn)(const char *msg));
void quota_client_free(quota_client *qc);
/* quota_lookup_fn */
void quota_client_lookup(void *ctx, const char *mailbox, const char *pair,
                         unsigned long long size, quota_done_fn done, void *arg);
/* Parses one quota-status answer line ("action=..."). */
quota_status quota_parse_answer(const char *action);

#endif
