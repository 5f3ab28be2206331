/* spf: SPF for mail arriving on the MX from unauthenticated clients (S6).
 *
 * spf_applies() says whether a request is checked at all (never for
 * authenticated submission, never for trusted forwarders, only at RCPT);
 * spf_decide() turns the result into an action: "550 5.7.23" on fail when
 * the site asks for it, otherwise a Received-SPF header (PREPEND).
 *
 * The check itself runs in spfhelper.c, in a separate unprivileged
 * process, because libspf2 has open CVEs in its macro expansion. The
 * daemon and the helper talk in single lines, made and parsed here:
 *   request  "ID<TAB>IP<TAB>HELO<TAB>SENDER\n"
 *   answer   "ID<TAB>RESULT<TAB>RECEIVED-SPF VALUE<TAB>SMTP COMMENT\n"
 * Fields never hold a tab or control character (replaced by '?'). */
#ifndef POLICYD_SPF_H
#define POLICYD_SPF_H

#include "buf.h"
#include "config.h"
#include "decision.h"
#include "request.h"

#define SPF_LINE_MAX 4096
#define SPF_FIELD_MAX 1000

typedef struct spf_answer {
    char result[16];        /* pass fail softfail neutral none temperror permerror */
    buf value;              /* Received-SPF header value */
    buf comment;            /* explanation for the SMTP reply */
} spf_answer;

void spf_answer_init(spf_answer *a);
void spf_answer_free(spf_answer *a);
void spf_answer_set(spf_answer *a, const char *result, const char *value, const char *comment);

/* NULL when the request is checked, else why not (static text). */
const char *spf_skip_reason(const config *cfg, const request *r);
void spf_decide(const config *cfg, const spf_answer *a, decision *d);

void spf_wire_request(buf *out, unsigned long id, const char *ip, const char *helo, const char *sender);
/* line without '\n', modified in place; pointers into line. 0 or -1 */
int spf_wire_parse_request(char *line, unsigned long *id, const char **ip,
                           const char **helo, const char **sender);
void spf_wire_answer(buf *out, unsigned long id, const char *result, const char *value,
                     const char *comment);
int spf_wire_parse_answer(char *line, unsigned long *id, spf_answer *a);

#endif
