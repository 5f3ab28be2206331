/* table: see table.h. */
#include "table.h"

#include <string.h>

#include "fsutil.h"
#include "promtext.h"

void table_format_plain(const hd_config *c, const int *active, buf *out)
{
    for (size_t i = 0; i < c->npairs; i++)
        buf_printf(out, "%s %s\n", c->pairs[i].name, c->pairs[i].host[active[i] ? 1 : 0]);
}

void table_format_passwd(const hd_config *c, const int *active, buf *out)
{
    for (size_t i = 0; i < c->npairs; i++)
        buf_printf(out, "%s:::::::host=%s nopassword\n", c->pairs[i].name,
                   c->pairs[i].host[active[i] ? 1 : 0]);
}

void table_format_status(const hd_config *c, const int *active, const char *const *states, buf *out)
{
    for (size_t i = 0; i < c->npairs * 2; i++)
        buf_printf(out, "store %s %s %s %s\n", c->pairs[i / 2].host[i % 2], c->pairs[i / 2].name,
                   i % 2 ? "secondary" : "primary", states[i]);
    for (size_t i = 0; i < c->npairs; i++)
        buf_printf(out, "pair %s %s\n", c->pairs[i].name, c->pairs[i].host[active[i] ? 1 : 0]);
}

void table_format_metrics(const hd_config *c, const unsigned long long *switches, buf *out)
{
    prom_family(out, "emailng_healthd_switches_total", "counter",
                "Times this proxy's health monitor moved the pair to its primary or secondary store.");
    for (size_t i = 0; i < c->npairs * 2; i++) {
        const char *labels[] = {"pair", c->pairs[i / 2].name, "to", i % 2 ? "secondary" : "primary", NULL};
        prom_sample_u(out, "emailng_healthd_switches_total", labels, switches[i]);
    }
}

int table_write(const hd_config *c, const int *active, buf *err)
{
    int rc = 0;
    buf b = BUF_INIT;
    if (*c->table) {
        table_format_plain(c, active, &b);
        rc = fs_write_file(c->table, b.data ? b.data : "", b.len, 0644, err);
    }
    if (rc == 0 && *c->passwd_file) {
        buf_reset(&b);
        table_format_passwd(c, active, &b);
        rc = fs_write_file(c->passwd_file, b.data ? b.data : "", b.len, 0644, err);
    }
    buf_free(&b);
    return rc;
}

int table_parse_active(const hd_config *c, const char *text, int *active)
{
    int found = 0;
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *sp = memchr(line, ' ', len);
        if (sp) {
            size_t nlen = (size_t)(sp - line);
            const char *host = sp + 1;
            size_t hlen = len - nlen - 1;
            for (size_t i = 0; i < c->npairs; i++) {
                if (strlen(c->pairs[i].name) != nlen || memcmp(c->pairs[i].name, line, nlen))
                    continue;
                for (int j = 0; j < 2; j++)
                    if (strlen(c->pairs[i].host[j]) == hlen && !memcmp(c->pairs[i].host[j], host, hlen)) {
                        active[i] = j;
                        found++;
                    }
            }
        }
        if (!end)
            break;
        line = end + 1;
    }
    return found;
}
