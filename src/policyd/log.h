/* log: emailng-policyd's log. One line per decision, with the queue id,
 * client, sender, recipient, SASL user, protocol state, action, reason
 * and time taken; other events (startup, table reloads, bad input,
 * stores not answering) also one line each. Written to the file named
 * by log_file (appended, reopened on SIGHUP for rotation) or to stderr
 * when log_file is "-". Every value is quoted and escaped, so hostile
 * input can never forge a log line. */
#ifndef POLICYD_LOG_H
#define POLICYD_LOG_H

#include "request.h"

int log_open(const char *path);         /* 0 or -1 (errno) */
int log_reopen(void);
int log_fd(void);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* msg without formatting (callback for modules) */
void log_line(const char *msg);
void log_decision(const request *r, const char *action, const char *reason, double ms);

#endif
