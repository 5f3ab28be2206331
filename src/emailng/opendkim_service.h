/* opendkim_service: OpenDKIM (Debian's opendkim 2.11), the relays' DKIM
 * milter (issue 11): signs what our users and our stores send, verifies
 * what the internet sends (Authentication-Results with the public name).
 * On every host with the relay role when dkim.enabled; started before
 * Postfix, its socket is the placeholder opendkim_socket. The keys it signs
 * with are copied from STATE/secrets/dkim (dkim.h) into DATA/opendkim with
 * its KeyTable and SigningTable: opendkim_sync. */
#ifndef EMAILNG_OPENDKIM_SERVICE_H
#define EMAILNG_OPENDKIM_SERVICE_H

#include "services.h"

int opendkim_wanted(const struct service_env *env);
int opendkim_prepare(const struct service_env *env, buf *err);
int opendkim_start(const struct service_env *env, buf *err);
int opendkim_ready(const struct service_env *env, buf *detail);
pid_t opendkim_pid(const struct service_env *env);
int opendkim_stop(const struct service_env *env, buf *err);

/* Writes the active keys and the two tables into DATA/opendkim (owned by
 * opendkim, 0600) where they differ; *changed = 1 if anything did. */
int opendkim_sync(const struct service_env *env, int *changed, buf *err);
/* opendkim_sync, then SIGUSR1 to a running OpenDKIM if anything changed:
 * it re-reads its configuration and tables between messages (no restart,
 * no connection from Postfix lost). `up` runs it once OpenDKIM answers;
 * `emailng dkim activate` on every relay. */
int opendkim_sync_reload(const struct service_env *env, buf *err);

#endif
