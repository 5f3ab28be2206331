/* mtasts_client: decide.h's mtasts_source on mta-sts-daemon's socketmap
 * socket: one connection per question ("postfix KEY" as a netstring), its
 * one netstring answer, each step bounded by a timeout. Blocking: called
 * from the worker threads (server.c), never from the event loop. */
#ifndef TLSPOLICY_MTASTS_CLIENT_H
#define TLSPOLICY_MTASTS_CLIENT_H

#include "decide.h"

#define MTASTS_MAX_ANSWER 4096      /* mta-sts-daemon's answers are one short line */

struct mtasts_client {
    const char *socket_path;
    const char *map_name;           /* "postfix" */
    int timeout_ms;                 /* per connect, write and read */
};

struct mtasts_source mtasts_client_iface(struct mtasts_client *c);

#endif
