/* drain: see drain.h. */
#include "drain.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

#define DRAIN_FILE_MAX (64 * 1024)

int drain_parse(const hd_config *c, const char *text, int *drained, buf *unknown)
{
    int n = 0;
    memset(drained, 0, c->npairs * 2 * sizeof *drained);
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
            len--;
        while (len > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            len--;
        }
        if (len > 0 && *line != '#') {
            int found = 0;
            for (size_t i = 0; i < c->npairs * 2; i++) {
                const char *host = c->pairs[i / 2].host[i % 2];
                if (strlen(host) == len && memcmp(host, line, len) == 0) {
                    if (!drained[i])
                        n++;
                    drained[i] = 1;
                    found = 1;
                }
            }
            if (!found) {
                if (unknown->len)
                    buf_append_char(unknown, ' ');
                buf_append(unknown, line, len);
            }
        }
        if (!end)
            break;
        line = end + 1;
    }
    return n;
}

int drain_read(const hd_config *c, int *drained, buf *unknown, buf *err)
{
    if (access(c->drain_file, F_OK) != 0 && errno == ENOENT) {
        memset(drained, 0, c->npairs * 2 * sizeof *drained);
        return 0;
    }
    buf text = BUF_INIT;
    int rc = fs_read_file(c->drain_file, DRAIN_FILE_MAX, &text, err);
    if (rc == 0)
        drain_parse(c, buf_cstr(&text), drained, unknown);
    buf_free(&text);
    return rc;
}
