/* stall: recognises, from its process title, a Dovecot doveadm-server
 * process that serves a partner's dsync and still waits for the partner's
 * first message (the dsync "handshake"). Dovecot 2.3 (verbose_proctitle =
 * yes) titles it
 *     dovecot-emailng-store1/doveadm-server [198.18.0.32 alice@example.test slave_recv_handshake]
 * i.e. PREFIX "/doveadm-server [" CLIENT-ADDRESS " " USER " slave_recv_handshake]".
 * A healthy sync leaves that state within milliseconds; 2.3.19 can leave
 * both ends of a sync waiting for each other there (docs/architecture.md,
 * "Replication"), until the slave's fixed 10-minute I/O timeout. */
#ifndef SYNCWATCH_STALL_H
#define SYNCWATCH_STALL_H

#include <stddef.h>

#include "buf.h"

#define STALL_STATE "slave_recv_handshake"

struct stall_title {
    buf client;     /* the partner's numeric address, as Dovecot printed it */
    buf user;       /* the user being synced */
};

/* title: the process's command line (NUL bytes between arguments are read
 * as spaces; len bytes, no terminator needed); prefix: Dovecot's process
 * name prefix ("dovecot-emailng-store1"). Returns 1 and fills out (its bufs
 * are emptied first) if the title is that of a dsync slave waiting for its
 * handshake, 0 for any other title, including malformed ones: a client
 * that is not a numeric address, a user that is empty, over 255 bytes or
 * holds a control character. */
int stall_parse_title(const char *title, size_t len, const char *prefix, struct stall_title *out);

void stall_title_free(struct stall_title *t);

#endif
