/* libFuzzer harness for the SPF path as the daemon runs it: a hostile
 * SPF record (and sender/HELO, with macros) is evaluated by libspf2 in
 * an isolated child with a deadline (spf_check_isolated: the same
 * confinement, libspf2 set-up and check code as the pooled helpers of
 * the helper master), and whatever happens in there - a crash of
 * libspf2 (it has open macro-expansion CVEs), a hang, garbage - must
 * come back to us as a well-formed answer. The input is
 * "record\0sender\0helo". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spfhelper.h"

static const char *part(const char **p, const char *end)
{
    const char *s = *p;
    const char *z = memchr(s, '\0', (size_t)(end - s));
    *p = z ? z + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2000)
        return 0;
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *p = copy, *end = copy + size;
    const char *record = part(&p, end);
    const char *sender = p < end ? part(&p, end) : "postmaster@fuzz.test";
    const char *helo = p < end ? part(&p, end) : "fuzz.test";
    /* the helper never gets control characters (the wire format strips them) */
    char s[300], h[300];
    size_t i;
    for (i = 0; sender[i] && i < sizeof(s) - 1; i++)
        s[i] = (unsigned char)sender[i] < 0x20 ? '?' : sender[i];
    s[i] = '\0';
    for (i = 0; helo[i] && i < sizeof(h) - 1; i++)
        h[i] = (unsigned char)helo[i] < 0x20 ? '?' : helo[i];
    h[i] = '\0';
    const char *at = strrchr(s, '@');
    const char *domain = at && at[1] ? at + 1 : "fuzz.test";
    spf_answer a;
    spf_answer_init(&a);
    spf_check_isolated("192.0.2.1", h, s, domain, record, 1000, &a);
    if (!a.result[0])
        __builtin_trap();
    for (size_t k = 0; k < a.header_comment.len; k++)
        if ((unsigned char)a.header_comment.data[k] < 0x20)
            __builtin_trap();
    spf_answer_free(&a);
    free(copy);
    return 0;
}
