/* libFuzzer harness for the daemon <-> SPF helper line format
 * (src/policyd/spf.c): both parsers, and the round trip of whatever the
 * request parser accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = '\0';
    char *copy = strdup(line);
    unsigned long id;
    const char *ip, *helo, *sender;
    if (spf_wire_parse_request(line, &id, &ip, &helo, &sender) == 0) {
        buf b = BUF_INIT;
        spf_wire_request(&b, id, ip, helo, sender);
        if (b.len == 0 || b.data[b.len - 1] != '\n' || memchr(b.data, '\n', b.len - 1))
            __builtin_trap();
        buf_free(&b);
    }
    spf_answer a;
    spf_answer_init(&a);
    if (spf_wire_parse_answer(copy, &id, &a) == 0) {
        config cfg;
        config_defaults(&cfg);
        decision d;
        decision_init(&d);
        spf_decide(&cfg, &a, &d);
        for (size_t i = 0; i < d.action.len; i++)
            if ((unsigned char)d.action.data[i] < 0x20)
                __builtin_trap();   /* an answer to Postfix is one line */
        decision_free(&d);
        config_free(&cfg);
    }
    spf_answer_free(&a);
    free(copy);
    free(line);
    return 0;
}
