/* libFuzzer harness for emailng-tlspolicy's request reading
 * (src/tlspolicy/netstring.c): netstrings fed in pieces whose sizes come
 * from the input, with a small bound so that it is reached often; each
 * finished one is parsed as a socketmap request and, if good, its key
 * checked as a domain (decide_is_domain). The same input fed whole must
 * give the same results as fed in pieces. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decide.h"
#include "netstring.h"

#define LIMIT 64

static void parse(const uint8_t *data, size_t size, int whole, buf *sig)
{
    netstring ns;
    netstring_init(&ns, LIMIT);
    size_t off = 0, step = 1;
    while (off < size) {
        size_t n = whole ? size - off : (step < size - off ? step : size - off);
        size_t used = 0;
        int rc = netstring_feed(&ns, (const char *)data + off, n, &used);
        if (used > n)
            __builtin_trap();
        off += used;
        if (rc == NS_FATAL) {
            buf_printf(sig, "fatal: %s\n", ns.bad);
            break;
        }
        if (rc == NS_DONE) {
            if (ns.data.len > LIMIT)
                __builtin_trap();
            socketmap_request req;
            const char *why = NULL;
            if (socketmap_request_parse(ns.data.data, ns.data.len, 40, &req, &why) == 0) {
                if (strlen(req.key) > 40 || strchr(req.key, ' '))
                    __builtin_trap();
                buf_printf(sig, "request %s [%s] %d\n", req.name, req.key, decide_is_domain(req.key));
                socketmap_request_free(&req);
            } else {
                buf_printf(sig, "bad: %s\n", why);
            }
            netstring_reset(&ns);
        } else if (used < n) {
            __builtin_trap();       /* NS_MORE consumes all it was given */
        }
        step = step % 7 + 1;
    }
    netstring_free(&ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf whole = BUF_INIT, pieces = BUF_INIT;
    parse(data, size, 1, &whole);
    parse(data, size, 0, &pieces);
    if (strcmp(buf_cstr(&whole), buf_cstr(&pieces)) != 0)
        __builtin_trap();
    buf_free(&whole);
    buf_free(&pieces);
    return 0;
}
