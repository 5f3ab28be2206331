/* pair_table: see pair_table.h. */
#include "pair_table.h"

#include <string.h>

int pair_table_address(const char *text, const char *pair, buf *address, buf *err)
{
    size_t pl = strlen(pair);
    buf_reset(address);
    for (const char *line = text; pl > 0 && line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > pl && strncmp(line, pair, pl) == 0 && line[pl] == ':') {
            /* the extra fields follow the seventh ':', separated by spaces */
            const char *p = line, *end = line + len;
            for (int colons = 0; p < end && colons < 7; p++)
                if (*p == ':')
                    colons++;
            while (p < end) {
                size_t word = strcspn(p, " \n");
                if (word > 5 && strncmp(p, "host=", 5) == 0) {
                    buf_append(address, p + 5, word - 5);
                    return 0;
                }
                p += word + 1;
            }
            buf_printf(err, "the pair table names no store for %s", pair);
            return -1;
        }
        line = eol ? eol + 1 : NULL;
    }
    buf_printf(err, "the pair table has no pair %s", pair);
    return -1;
}
