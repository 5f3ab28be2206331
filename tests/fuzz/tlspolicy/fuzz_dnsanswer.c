/* libFuzzer harness for emailng-tlspolicy's DNS answer reading
 * (src/tlspolicy/resolver.c, dns_parse_response on libresolv's parser):
 * whatever a resolver sends, as MX and as TLSA answers; an MX result must
 * hold exactly n names, each a C string. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65535)
        return 0;
    for (int t = 0; t < 2; t++) {
        struct dns_result r;
        if (dns_parse_response(data, (int)size, t ? DNS_TLSA : DNS_MX, &r) != 0)
            continue;
        if (r.status == DNS_OK && r.n == 0)
            __builtin_trap();
        for (size_t i = 0; t == 0 && i < r.n; i++)
            if (strlen(r.names[i]) > 1025)
                __builtin_trap();
        dns_result_free(&r);
    }
    return 0;
}
