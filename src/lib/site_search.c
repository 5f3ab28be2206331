/* site_search: the `search:` section of the site file and its placeholder;
 * see site_search.h. */
#include "site_search.h"

void site_search_take(ycfg *y, const yaml_node_t *node, struct site_search *out)
{
    static const char *const keys[] = {"fts", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "search", keys, &m) == 0)
        while (ycfg_map_next_all(&m))
            if (m.index == 0)
                ycfg_bool(y, m.value, m.path, &out->fts);
    ycfg_map_end(&m);
}

void site_search_render(const struct site *site, struct render_context *ctx)
{
    render_context_set(ctx, "dovecot_fts",
                       site->search.fts ? "!include fts.conf"
                                        : "# search.fts is false: no full-text index, SEARCH BODY and TEXT read "
                                          "the messages");
}
