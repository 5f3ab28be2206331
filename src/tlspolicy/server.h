/* server: emailng-tlspolicy's socketmap service on libevent.
 *
 * The event loop accepts Postfix's connections on the unix socket (peer
 * must be root or one of the allowed users, by SO_PEERCRED), reads one
 * netstring request at a time (netstring.c, bounded to MAX_REQUEST bytes;
 * anything else closes the connection), answers from the cache when it
 * can, and otherwise hands the key to a pool of worker threads that do
 * the blocking part (decide.c: DNS through libresolv, mta-sts-daemon's
 * socket). Lookups of the same key at the same time share one job. The
 * pool's queue is bounded (max_pending keys): beyond it, "TEMP" at once.
 * Connections are bounded (max_connections) and idle ones closed. One log
 * line per answer: domain, dane|mta-sts|none|temp, milliseconds, and
 * whether it came from the cache. */
#ifndef TLSPOLICY_SERVER_H
#define TLSPOLICY_SERVER_H

#include <event2/event.h>
#include <sys/types.h>

#include "buf.h"

#define MAX_REQUEST 512          /* "postfix " + a 253-byte domain, with room */
#define MAX_KEY 300

struct server_config {
    int listen_fd;
    const char *map_name;        /* the socketmap name Postfix asks: "postfix" */
    const char *mtasts_socket;
    int mtasts_timeout_ms;
    int workers;
    size_t max_pending;
    size_t max_connections;
    size_t cache_entries;
    time_t cache_ttl;
    int idle_timeout;            /* seconds */
    const uid_t *peers;          /* besides root */
    size_t npeers;
};

typedef struct server server;

/* NULL (err) if the threads or the listener cannot be set up. */
server *server_new(struct event_base *base, const struct server_config *cfg, buf *err);

/* A unix socket at path, mode 0600 (only its owner, Postfix's user, and
 * root), replacing a stale socket. The fd, or -1 (err). */
int server_listen_unix(const char *path, buf *err);

#endif
