/* log: see log.h. */
#include "log.h"

#include <stdio.h>

void log_decision(const request *r, const char *action, const char *reason, double ms)
{
    static buf b;           /* kept from line to line */
    buf_reset(&b);
    daemon_log_begin(&b);
    buf_append(&b, "decision", 8);
    daemon_log_field(&b, "queue_id", request_get(r, "queue_id"));
    daemon_log_field(&b, "state", request_get(r, "protocol_state"));
    daemon_log_field(&b, "client", request_get(r, "client_address"));
    daemon_log_field(&b, "helo", request_get(r, "helo_name"));
    daemon_log_field(&b, "sasl_user", request_get(r, "sasl_username"));
    daemon_log_field(&b, "sender", request_get(r, "sender"));
    daemon_log_field(&b, "recipient", request_get(r, "recipient"));
    daemon_log_field(&b, "action", action);
    daemon_log_field(&b, "reason", reason);
    char t[64];
    int n = snprintf(t, sizeof t, " ms=%.3f", ms);
    if (n > 0 && (size_t)n < sizeof t)
        buf_append(&b, t, (size_t)n);
    else
        buf_printf(&b, " ms=%.3f", ms);
    daemon_log_write(&b);
}
