/* log: see log.h. */
#include "log.h"

void log_decision(const request *r, const char *action, const char *reason, double ms)
{
    buf b = BUF_INIT;
    daemon_log_begin(&b);
    buf_append_str(&b, "decision");
    daemon_log_field(&b, "queue_id", request_get(r, "queue_id"));
    daemon_log_field(&b, "state", request_get(r, "protocol_state"));
    daemon_log_field(&b, "client", request_get(r, "client_address"));
    daemon_log_field(&b, "helo", request_get(r, "helo_name"));
    daemon_log_field(&b, "sasl_user", request_get(r, "sasl_username"));
    daemon_log_field(&b, "sender", request_get(r, "sender"));
    daemon_log_field(&b, "recipient", request_get(r, "recipient"));
    daemon_log_field(&b, "action", action);
    daemon_log_field(&b, "reason", reason);
    buf_printf(&b, " ms=%.3f", ms);
    daemon_log_end(&b);
}
