/* libFuzzer harness for the policy request parser (src/policyd/request.c).
 * The input is fed in pieces whose sizes come from the input itself,
 * with small limits so that every bound is reached often; each finished
 * request is then read back the way the engine does. The same input fed
 * whole (lines parsed where they lie) must give the same requests as fed
 * in pieces (lines gathered). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "request.h"

/* Feeds data in pieces (whole: the rest each time) and appends what every
 * request came to into sig. */
static void parse(const uint8_t *data, size_t size, int whole, buf *sig)
{
    request_limits lim = {64, 8, 512};
    request r;
    request_init(&r, &lim);
    size_t off = 0, step = 1;
    while (off < size) {
        size_t n = whole ? size - off : (step < size - off ? step : size - off);
        size_t used = 0;
        int rc = request_feed(&r, (const char *)data + off, n, &used);
        if (used > n)
            __builtin_trap();
        off += used;
        if (rc == REQ_FATAL) {
            buf_printf(sig, "fatal at %zu\n", off);
            break;
        }
        if (rc == REQ_DONE) {
            if (r.n > lim.max_attrs || r.store.len > lim.max_request * 2)
                __builtin_trap();
            for (size_t i = 0; i < r.n; i++)
                if (strcmp(request_get(&r, r.names[i]), r.values[i]) != 0 && !r.bad)
                    __builtin_trap();
            buf b = BUF_INIT;
            sanitize_append(&b, request_get(&r, "recipient"), 100);
            buf_free(&b);
            buf_printf(sig, "done at %zu: %s %zu", off, r.bad ? r.bad : "good", r.n);
            for (size_t i = 0; i < r.n; i++) {
                buf_append(sig, " ", 1);
                buf_append_str(sig, r.names[i]);
                buf_append(sig, "=", 1);
                buf_append_str(sig, r.values[i]);
            }
            buf_append(sig, "\n", 1);
            request_reset(&r);
        }
        if (rc == REQ_MORE && whole && used == n)
            break;
        step = (step * 7 + (n ? data[off - 1] : 1)) % 97 + 1;
    }
    if (off == size)
        buf_printf(sig, "end %d\n", r.started);
    request_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf pieces = BUF_INIT, whole = BUF_INIT;
    parse(data, size, 0, &pieces);
    parse(data, size, 1, &whole);
    if (strcmp(buf_cstr(&pieces), buf_cstr(&whole)) != 0)
        __builtin_trap();
    buf_free(&pieces);
    buf_free(&whole);
    return 0;
}
