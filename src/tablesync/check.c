/* check: judging a proxy's answer; see check.h. */
#include "check.h"

#include <string.h>
#include <strings.h>

#include "relay_tables.h"
#include "table.h"

int tablesync_check_bundle(const struct table_bundle *b, buf *err)
{
    for (int i = TABLE_RECIPIENTS; i <= TABLE_SENDERS; i++) {
        buf *part = (buf *)&b->part[i];
        if (relay_table_check(table_bundle_names[i], buf_cstr(part), part->len, err) != 0)
            return -1;
    }
    /* emailng-policyd's own parser: what it would refuse to load is
     * refused here, before it replaces the table the daemon has. */
    table t;
    table_init(&t);
    buf *text = (buf *)&b->part[TABLE_POLICYD];
    int rc = table_parse(&t, buf_cstr(text), text->len, "policyd", err);
    table_free(&t);
    return rc;
}

enum tablesync_verdict tablesync_judge(long status, const char *body, size_t len, const char *installed_csn,
                                       struct table_bundle *b, buf *why)
{
    memset(b, 0, sizeof *b);
    if (status == 304)
        return TS_UNCHANGED;
    if (status != 200) {
        if (status)
            buf_printf(why, "HTTP status %ld", status);
        return TS_FAILED;
    }
    if (table_bundle_split(body, len, b, why) != 0)
        return TS_REFUSED;
    if (tablesync_check_bundle(b, why) != 0) {
        table_bundle_free(b);
        return TS_REFUSED;
    }
    if (table_bundle_csn_cmp(b->csn, installed_csn) < 0) {
        table_bundle_free(b);
        return TS_OLDER;
    }
    return TS_INSTALL;
}

int tablesync_keep_etag(enum tablesync_verdict v, int installed)
{
    return v == TS_REFUSED || v == TS_OLDER || v == TS_UNCHANGED || (v == TS_INSTALL && installed);
}

int tablesync_confirms(enum tablesync_verdict v, int installed)
{
    return v == TS_UNCHANGED || v == TS_OLDER || (v == TS_INSTALL && installed);
}

int tablesync_header_etag(const char *line, size_t len, buf *etag)
{
    static const char name[] = "etag:";
    if (len < sizeof name - 1 || strncasecmp(line, name, sizeof name - 1) != 0)
        return 0;
    const char *p = line + sizeof name - 1, *end = line + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    buf_reset(etag);
    buf_append(etag, p, (size_t)(end - p));
    return 1;
}
