/* spf: SPF for mail arriving on the MX from unauthenticated clients (S6).
 *
 * spf_applies() says whether a request is checked at all (never for
 * authenticated submission, never for trusted forwarders, only at RCPT);
 * spf_decide() turns the result into an action: "550 5.7.23" on fail when
 * the site asks for it, otherwise a Received-SPF header (PREPEND) that the
 * daemon writes itself from the request (spf_received_value(), RFC 7208
 * 9.1): only libspf2's comment comes from the helper, as a comment.
 *
 * The check itself runs in spfhelper.c, in a separate unprivileged
 * process, because libspf2 has open CVEs in its macro expansion. The
 * daemon and the helper talk in single lines, made and parsed here:
 *   request  "ID<TAB>IP<TAB>HELO<TAB>SENDER\n"
 *   answer   "ID<TAB>RESULT<TAB>HEADER COMMENT<TAB>SMTP COMMENT\n"
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
    buf header_comment;     /* libspf2's comment for Received-SPF; empty: no header */
    buf comment;            /* explanation for the SMTP reply */
} spf_answer;

void spf_answer_init(spf_answer *a);
void spf_answer_free(spf_answer *a);
void spf_answer_set(spf_answer *a, const char *result, const char *header_comment, const char *comment);

/* NULL when the request is checked, else why not (static text). */
const char *spf_skip_reason(const config *cfg, const request *r);
void spf_decide(const config *cfg, const request *r, const spf_answer *a, decision *d);

/* The value of a Received-SPF header (RFC 7208 9.1), one line:
 *   RESULT (COMMENT) receiver=R; client-ip=IP; envelope-from=S; helo=H; identity=I
 * Values that are not a dot-atom are quoted strings ('"' and '\' escaped);
 * '(' ')' '\' in the comment are quoted pairs; control characters and
 * bytes that are not UTF-8 (RFC 6532) become '?', so nothing in the input
 * can add a field, end the header or start another. A sender longer than
 * 256 bytes or a HELO name longer than 255 (more than SMTP allows) leaves
 * its pair out. receiver NULL: this machine's name. */
void spf_received_value(buf *out, const char *result, const char *comment, const char *receiver,
                        const char *ip, const char *helo, const char *sender);

void spf_wire_request(buf *out, unsigned long id, const char *ip, const char *helo, const char *sender);
/* line without '\n', modified in place; pointers into line. 0 or -1 */
int spf_wire_parse_request(char *line, unsigned long *id, const char **ip,
                           const char **helo, const char **sender);
void spf_wire_answer(buf *out, unsigned long id, const char *result, const char *value,
                     const char *comment);
int spf_wire_parse_answer(char *line, unsigned long *id, spf_answer *a);

#endif
