/* probe: real protocol checks of a mail store, many at once under one
 * hard deadline (non-blocking sockets and poll; no threads).
 *   LMTP: connect, 220 greeting, LHLO -> 250, QUIT -> 221.
 *   IMAP: connect, "* OK" greeting, LOGIN of the probe account -> OK,
 *         EXAMINE INBOX -> OK (the mail storage answers, not just the
 *         login process), LOGOUT -> OK.
 * Plain IMAP on the stores' internal port (docs/healthd.md says why and
 * what the stores must allow). Server lines are bounded; the password
 * never appears in a result. */
#ifndef HEALTHD_PROBE_H
#define HEALTHD_PROBE_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "buf.h"

typedef enum probe_kind { PROBE_LMTP, PROBE_IMAP } probe_kind;

typedef struct probe {
    probe_kind kind;
    struct sockaddr_storage sa;
    socklen_t salen;
    const char *user;           /* IMAP only; borrowed */
    const char *password;       /* IMAP only; borrowed */
    long patience_ms;           /* 0, or: past the greeting, a dialogue still
                                 * waiting at the round's deadline stays open
                                 * (pending) until this long after its start */
    /* result */
    int ok;
    int refused;                /* failed because the connect was refused (RST) */
    int slow;                   /* failed only by the round's deadline, after the
                                 * store's greeting: it answers, but slowly */
    int pending;                /* still waiting at the deadline and within its
                                 * patience: open, and continued (not started
                                 * again) by the next probe_run; slow is set */
    buf detail;                 /* what passed or what failed, and where */
    long long ms;               /* time taken */
    /* private */
    int fd;
    int step;
    int done;
    int connecting;
    buf in;
    buf out;
    size_t out_off;
    long long start_ms;
} probe;

void probe_init(probe *p, probe_kind kind, const struct sockaddr_storage *sa, socklen_t salen,
                const char *user, const char *password);
void probe_free(probe *p);
const char *probe_kind_name(probe_kind k);
/* Runs every probe at once until each has finished or timeout_ms has
 * passed; an unfinished one fails with "timed out" and the step it was at.
 * A connect still unanswered after connect_timeout_ms (<= timeout_ms)
 * fails then: a host that does not answer a SYN is gone or cut off, while
 * a host that accepted may take the whole deadline to answer a login.
 * A pending probe (patience above) is continued where it stood; it ends
 * ok if the store answers before its patience runs out: a store that a
 * login storm slows down still shows it serves, while one whose storage
 * hangs never completes a dialogue. */
void probe_run(probe *ps, size_t n, long timeout_ms, long connect_timeout_ms);

#endif
