/* msg: a daemon's messages by severity, as Postfix's msg(3): one line each
 * through daemon_log (its file, or stderr before one is open), prefixed
 * "warning: ", "error: ", "fatal: " or "panic: " (info has no prefix).
 * msg_fatal writes and exits 1 (a configuration or environment problem
 * the administrator must fix); msg_panic writes and aborts (a bug). */
#ifndef EMAILNG_MSG_H
#define EMAILNG_MSG_H

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
