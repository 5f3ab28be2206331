/* libFuzzer harness for the exported table reader (src/policyd/table.c)
 * and alias expansion over whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    table t;
    table_init(&t);
    buf err = BUF_INIT;
    if (table_parse(&t, (const char *)data, size, "fuzz", &err) == 0) {
        size_t i = 0;
        const char *k;
        void *v;
        while (strmap_next(&t.aliases, &i, &k, &v)) {
            str_list l = {0};
            int trunc;
            table_expand(&t, k, 50, &l, &trunc);
            if (l.n > 50)
                __builtin_trap();
            for (size_t j = 0; j < l.n; j++)
                free(l.items[j]);
            free(l.items);
        }
    } else if (err.len == 0) {
        __builtin_trap();   /* every refusal says why */
    }
    buf_free(&err);
    table_free(&t);
    return 0;
}
