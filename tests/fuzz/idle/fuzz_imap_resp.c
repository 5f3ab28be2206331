/* libFuzzer harness of bench/idle/imap_resp: any bytes, fed in pieces
 * whose sizes come from the input, through the line splitter (a small
 * bound, so over-long lines are exercised) and the classifier. */
#include <stddef.h>
#include <stdint.h>

#include "imap_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    imap_lines l;
    imap_lines_init(&l, 64);
    size_t off = 0;
    while (off < size) {
        size_t piece = 1 + data[off] % 32;
        if (piece > size - off)
            piece = size - off;
        imap_lines_feed(&l, data + off, piece);
        off += piece;
        const char *line;
        size_t len;
        int rc;
        while ((rc = imap_lines_next(&l, &line, &len)) == 1) {
            imap_resp r = imap_resp_classify(line, len, "c");
            if (r.kind == IMAP_RESP_EXISTS && len < 10)
                __builtin_trap();   /* "* N EXISTS" has at least 10 bytes */
        }
        if (rc < 0)
            break;
    }
    imap_lines_free(&l);
    return 0;
}
