/* firewall: the host firewall of a host of a site of several hosts (X1):
 * the nftables table "inet emailng", rendered from templates/nftables-ROLE
 * to ETC/nftables/emailng.nft. `emailng up` loads it (replacing the table
 * atomically), `down` deletes it, `status` shows it. No other table is
 * touched. In the test fabric the commands run in the host's namespace
 * PREFIX-HOST, so they act on the right host from any namespace; on a
 * real host, in the current one. The one-host site gets only the loopback
 * guard (templates/nftables-local: an output chain; src/lib/loopback_guard.h). */
#ifndef EMAILNG_FIREWALL_H
#define EMAILNG_FIREWALL_H

#include "buf.h"
#include "services.h"

struct firewall_state {
    int loaded;            /* the table exists */
    long rules;            /* rules in its chains */
    char digest[13];       /* first 12 hex digits of the SHA-256 of `nft -s list table inet emailng` */
};

/* 1 if the host gets our firewall (a host of several, one role). */
int firewall_wanted(const struct service_env *env);

/* `nft -f ETC/nftables/emailng.nft`: nothing changes if it fails. */
int firewall_load(const struct service_env *env, buf *err);

/* Deletes the table; 0 also when none is loaded. */
int firewall_unload(const struct service_env *env, buf *err);

/* What is loaded now. -1 if nft could not be asked (err says why). */
int firewall_state(const struct service_env *env, struct firewall_state *state, buf *err);

#endif
