/* clock: milliseconds from the monotonic clock, for deadlines and
 * intervals (never for dates: it does not jump when the wall clock is set).
 * Header-only on purpose: the daemons link a chosen subset of src/lib, and
 * a three-line function is not worth a link dependency. */
#ifndef EMAILNG_CLOCK_H
#define EMAILNG_CLOCK_H

#include <time.h>

static inline long long clock_ms(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail on Linux (EINVAL/EFAULT only). */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
