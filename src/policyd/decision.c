/* decision: see decision.h. Actions are made single-line here, whatever
 * went into them. */
#include "decision.h"

#include <stdarg.h>
#include <string.h>

void decision_init(decision *d)
{
    buf_init(&d->action);
    buf_init(&d->reason);
}

void decision_free(decision *d)
{
    buf_free(&d->action);
    buf_free(&d->reason);
}

static void one_line(buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->data[i] < 0x20 || (unsigned char)b->data[i] == 0x7f)
            b->data[i] = ' ';
}

void decision_set(decision *d, const char *action, const char *reason_fmt, ...)
{
    buf_reset(&d->action);
    buf_append_str(&d->action, action);
    one_line(&d->action);
    buf_reset(&d->reason);
    va_list ap;
    va_start(ap, reason_fmt);
    buf_vprintf(&d->reason, reason_fmt, ap);
    va_end(ap);
    one_line(&d->reason);
}

int decision_is_dunno(const decision *d)
{
    return d->action.len == 0 || strcmp(d->action.data, "DUNNO") == 0;
}
