/* libFuzzer harness for the policy request parser (src/policyd/request.c).
 * The input is fed in pieces whose sizes come from the input itself,
 * with small limits so that every bound is reached often; each finished
 * request is then read back the way the engine does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request_limits lim = {64, 8, 512};
    request r;
    request_init(&r, &lim);
    size_t off = 0, step = 1;
    while (off < size) {
        size_t n = step < size - off ? step : size - off;
        size_t used = 0;
        int rc = request_feed(&r, (const char *)data + off, n, &used);
        if (used > n)
            __builtin_trap();
        off += used;
        if (rc == REQ_FATAL)
            break;
        if (rc == REQ_DONE) {
            if (r.n > lim.max_attrs || r.store.len > lim.max_request * 2)
                __builtin_trap();
            for (size_t i = 0; i < r.n; i++)
                if (strcmp(request_get(&r, r.names[i]), r.values[i]) != 0 && !r.bad)
                    __builtin_trap();
            buf b = BUF_INIT;
            sanitize_append(&b, request_get(&r, "recipient"), 100);
            buf_free(&b);
            request_reset(&r);
        }
        step = (step * 7 + (n ? data[off - 1] : 1)) % 97 + 1;
    }
    request_free(&r);
    return 0;
}
