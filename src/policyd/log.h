/* log: emailng-policyd's log (src/lib/daemon_log.h: one timestamped line
 * per event, to log_file or stderr, reopened on SIGHUP). On top of it, one
 * line per decision, with the queue id, client, sender, recipient, SASL
 * user, protocol state, action, reason and time taken; other events
 * (startup, table reloads, bad input, stores not answering) are one
 * daemon_log line each. Every value is quoted and escaped, so hostile
 * input can never forge a log line. */
#ifndef POLICYD_LOG_H
#define POLICYD_LOG_H

#include "daemon_log.h"
#include "request.h"

void log_decision(const request *r, const char *action, const char *reason, double ms);

#endif
