/* greylist: classic greylisting (off by default; per site or per
 * recipient domain). A triplet (client network, sender, recipient) seen
 * for the first time is deferred; a retry after `delay` seconds and
 * within `retry_window` passes, and the triplet then passes for
 * `lifetime` seconds from its last use. A client network that has passed
 * once is "known good" for `known_good` seconds and skips greylisting.
 * Never greylisted: authenticated clients, allow-listed client networks,
 * senders (address or domain) and recipients (address or domain). */
#ifndef POLICYD_GREYLIST_H
#define POLICYD_GREYLIST_H

#include <stdint.h>

#include "config.h"
#include "decision.h"
#include "request.h"
#include "store.h"

/* 1 = deferred, 0 = passes (d says why), -1 store error (d DUNNO). */
int greylist_check(const config *cfg, store *s, const request *r, int64_t now, decision *d);

#endif
