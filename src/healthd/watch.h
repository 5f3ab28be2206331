/* watch: one idle TCP connection per store (to its IMAP port), held open
 * between probe rounds so that a store whose daemons die is noticed at
 * once instead of at the next round.
 *
 * When every process of a store is killed, its host's kernel closes the
 * held connection (FIN/RST) at that moment; the watch then connects again
 * at once, and the store's kernel answers that connect with a reset
 * (ECONNREFUSED) because nothing listens any more. That refusal is the
 * event the caller feeds to the store's state machine (VERDICT_REFUSED,
 * monitor.h). While refusals go on the watch retries every `retry_ms`
 * given by the caller. A connection that is accepted is simply held (the
 * server's lines are read and dropped); a connect that times out or fails
 * otherwise (a cut link, no route) is no event: the probe rounds judge
 * those with their grace. Non-blocking, driven by the caller's poll(). */
#ifndef HEALTHD_WATCH_H
#define HEALTHD_WATCH_H

#include <poll.h>
#include <sys/socket.h>

typedef enum watch_event {
    WATCH_NONE,                 /* nothing the state machine needs to know */
    WATCH_REFUSED,              /* a connect was refused: nothing listens */
} watch_event;

typedef struct watch {
    struct sockaddr_storage sa;
    socklen_t salen;
    int fd;                     /* -1: not connected */
    int connecting;
    long long next_ms;          /* fd < 0: when to connect again */
    long long deadline_ms;      /* connecting: give up at */
} watch;

void watch_init(watch *w, const struct sockaddr_storage *sa, socklen_t salen, long long now_ms);
void watch_close(watch *w);
/* Fills *pfd for poll() (fd -1 when there is nothing to wait on). */
void watch_pollfd(const watch *w, struct pollfd *pfd);
/* The next time the watch must act without an fd event (connect again,
 * or give up a connect), or -1 for none. */
long long watch_next_ms(const watch *w);
/* Acts on poll's revents (0 if none) and the time. retry_ms: when to try
 * again after a refusal; slow_ms: after any other failure or a lost
 * connection that reconnects fine; timeout_ms: connect deadline. */
watch_event watch_step(watch *w, short revents, long long now_ms, long retry_ms, long slow_ms,
                       long timeout_ms);

#endif
