/* server: the listening sockets and Postfix's connections, on libevent.
 * Each connection reads requests with request.c's hard bounds, runs one
 * at a time through the engine and writes "action=...\n\n". Bounded per
 * connection: input (max_request, then libevent stops reading), output
 * (a client that does not read its answers is not served further),
 * time (idle_timeout between requests, request_timeout to finish one);
 * and overall: max_connections (further ones are closed at once with a
 * log line, at most one per second). On a unix socket only root and the
 * given users (peer_users, by SO_PEERCRED) are served; a TCP listener
 * cannot tell local users apart and is for tests and benchmarks. */
#ifndef POLICYD_SERVER_H
#define POLICYD_SERVER_H

#include <event2/event.h>
#include <sys/types.h>

#include "config.h"
#include "engine.h"

typedef struct server server;

/* NULL when libevent cannot take the listening sockets (they are closed). */
server *server_new(struct event_base *base, const config *cfg, engine *eng,
                   const int *fds, size_t nfds, const uid_t *peers, size_t npeers);
void server_free(server *s);
long server_connections(const server *s);

/* Binds and listens (before dropping privileges): "unix:/path" (mode
 * 0660, group gid, or -1 to leave it) or "host:port". The fd or -1. */
int listen_on(const char *item, gid_t gid, buf *err);

#endif
