/* cmd_trace: "emailng trace QUERY [--since TIME] [--until TIME] [--logs DIR]" (O2).
 * Reads the mail logs of every host (DIR/HOST/{postfix,dovecot,amavisd,
 * policyd}.log and their uncompressed rotated copies; DIR is STATE/log or
 * --logs), turns each line into an event (src/lib/maillog.h), joins the
 * events of one message across queue ids and hosts (a reinjection's
 * orig_queue_id, a delivery's "queued as NEWID", Dovecot's LMTP session
 * and Message-ID) and prints one timeline per message whose Message-ID,
 * queue id, sender or recipient is QUERY. json: {"query", "messages":
 * [{"message_id","sender","recipients","events":[{"time","host","daemon",
 * "event",...}]}]}. Returns 0 (found), 1 ("no trace of QUERY", or logs
 * unreadable) or 2 (usage). */
#ifndef EMAILNG_CMD_TRACE_H
#define EMAILNG_CMD_TRACE_H

#include "cli.h"

int cmd_trace(const struct options *o, int argc, char **argv);

#endif
