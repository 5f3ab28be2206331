/* libFuzzer harness for the configuration reader (src/policyd/config.c
 * over src/lib/yaml_config.c): whatever the bytes, no crash or leak, and
 * every refusal is one FILE:LINE:COL report. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config c;
    config_defaults(&c);
    buf err = BUF_INIT;
    if (config_parse(&c, (const char *)data, size, "fuzz", &err) != 0) {
        if (strncmp(buf_cstr(&err), "fuzz:", 5) != 0 || strchr(buf_cstr(&err), '\n'))
            __builtin_trap();
    }
    buf_free(&err);
    config_free(&c);
    return 0;
}
