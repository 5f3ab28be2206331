/* site_quota_warning: quota.warnings and quota.warning_message; see
 * site_quota_warning.h. */
#include "site_quota_warning.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void site_quota_warnings_take(ycfg *y, const yaml_node_t *node, struct site *site)
{
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, "quota.warnings", &items))
        return;
    if (items.n > SITE_QUOTA_WARNINGS_MAX) {
        ycfg_report(y, node, "quota.warnings: %zu thresholds; at most %d", items.n, SITE_QUOTA_WARNINGS_MAX);
        return;
    }
    unsigned found[SITE_QUOTA_WARNINGS_MAX];
    size_t n = 0;
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
        int pct;
        if (ycfg_int(y, item, "quota.warnings", 1, 100, &pct) != 0)
            return;
        for (size_t i = 0; i < n; i++)
            if (found[i] == (unsigned)pct) {
                ycfg_report(y, item, "quota.warnings: %d is given twice", pct);
                return;
            }
        /* Highest first: Dovecot runs only the first threshold a save crosses. */
        size_t at = n;
        while (at > 0 && found[at - 1] < (unsigned)pct) {
            found[at] = found[at - 1];
            at--;
        }
        found[at] = (unsigned)pct;
        n++;
    }
    memcpy(site->quota_warnings, found, n * sizeof found[0]);
    site->n_quota_warnings = n;
}

void site_quota_warning_message_take(ycfg *y, const yaml_node_t *node, struct site *site)
{
    char *path = NULL;
    if (ycfg_str(y, node, "quota.warning_message", &path) != 0)
        return;
    if (path[0] != '/' || strpbrk(path, "\n\r\"'\\$`") != NULL) {
        ycfg_report(y, node, "quota.warning_message: \"%s\" is not an absolute file path (without quotes, "
                             "$, ` or \\)", path);
        free(path);
        return;
    }
    free(site->quota_warning_message);
    site->quota_warning_message = path;
}

void site_quota_warning_render(const struct site *site, struct render_context *ctx)
{
    buf b = BUF_INIT;
    /* Plugin settings are %-expanded: a literal % is %%. */
    for (size_t i = 0; i < site->n_quota_warnings; i++) {
        if (i == 0)
            buf_append_str(&b, "  quota_warning");
        else
            buf_printf(&b, "\n  quota_warning%zu", i + 1);
        buf_printf(&b, " = storage=%u%%%% quota-warning %u %%u", site->quota_warnings[i], site->quota_warnings[i]);
    }
    render_context_set(ctx, "quota_warning_settings", buf_cstr(&b));
    buf_reset(&b);
    if (site->quota_warning_message)
        buf_append_str(&b, site->quota_warning_message);
    else
        buf_printf(&b, "%s/dovecot/quota-warning.txt", render_context_get(ctx, "etc_dir"));
    render_context_set(ctx, "quota_warning_message", buf_cstr(&b));
    buf_free(&b);
}
