/* msg: messages by severity on daemon_log; see msg.h. */
#include "msg.h"

#include <stdarg.h>
#include <stdlib.h>

#include "buf.h"
#include "daemon_log.h"

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    buf text = BUF_INIT;
    buf_append_str(&text, prefix);
    buf_vprintf(&text, fmt, ap);
    daemon_log_str(buf_cstr(&text));
    buf_free(&text);
}

#define MSG(name, prefix)                       \
    void name(const char *fmt, ...)             \
    {                                           \
        va_list ap;                             \
        va_start(ap, fmt);                      \
        vmsg(prefix, fmt, ap);                  \
        va_end(ap);                             \
    }

MSG(msg_info, "")
MSG(msg_warn, "warning: ")
MSG(msg_error, "error: ")

void msg_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("fatal: ", fmt, ap);
    va_end(ap);
    (void)daemon_log_flush();
    exit(1);
}

void msg_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("panic: ", fmt, ap);
    va_end(ap);
    (void)daemon_log_flush();
    abort();
}
