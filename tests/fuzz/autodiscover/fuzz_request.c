/* libFuzzer harness for emailng-autodiscover's decision on a POST body
 * (src/autodiscover/request.c, libexpat underneath): whatever a client
 * sends, never a crash or a leak (ASan/UBSan). The settings are given
 * only with an address of one of the domains; every refusal is a 4xx with
 * a fixed POX error body, and keeps no address unless it is another
 * domain's (for the log). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "request.h"

static const char *const domains[] = {"example.test", "other.example"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf address = BUF_INIT;
    enum autodiscover_verdict v = autodiscover_request_check((const char *)data, size, domains, 2, &address);
    if (v == AUTODISCOVER_SETTINGS) {
        const char *at = strchr(buf_cstr(&address), '@');
        if (at == NULL || (strcmp(at + 1, domains[0]) != 0 && strcmp(at + 1, domains[1]) != 0))
            __builtin_trap();
    } else {
        int status = autodiscover_verdict_status(v);
        if (status < 400 || status > 499 || strstr(autodiscover_error_body(v), "</Autodiscover>") == NULL)
            __builtin_trap();
        if (v != AUTODISCOVER_OTHER_DOMAIN && address.len != 0)
            __builtin_trap();
    }
    buf_free(&address);
    return 0;
}
