/* user_store: see user_store.h. */
#include "user_store.h"

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "store_pairs.h"
#include "user_pairs.h"

const struct site_host *pair_active_store(const struct site *site, const char *state_dir, const char *pair)
{
    const struct site_host *proxy = site_host_with_role(site, ROLE_PROXY);
    const struct site_host *found = NULL;
    if (proxy) {
        char *path = xasprintf("%s/data/%s/healthd/pairs.passwd", state_dir, proxy->name);
        buf text = BUF_INIT, err = BUF_INIT;
        if (fs_read_file(path, 1 << 20, &text, &err) == 0 && text.len) {
            size_t pl = strlen(pair);
            for (const char *line = text.data; line && *line && !found;) {
                const char *host = strstr(line, "host=");
                const char *eol = strchr(line, '\n');
                if (strncmp(line, pair, pl) == 0 && line[pl] == ':' && host && (!eol || host < eol)) {
                    host += 5;
                    size_t len = strcspn(host, " \n");
                    for (size_t i = 0; i < site->n_hosts; i++) {
                        const struct site_host *h = &site->hosts[i];
                        if ((h->roles & ROLE_STORE) && h->store_pair && strcmp(h->store_pair, pair) == 0
                            && strlen(h->address) == len && strncmp(h->address, host, len) == 0)
                            found = h;
                    }
                }
                line = eol ? eol + 1 : NULL;
            }
        }
        buf_free(&text);
        buf_free(&err);
        free(path);
    }
    return found ? found : store_pairs_first_store(site, pair);
}

int user_store_find(const struct site *site, const char *state_dir, struct directory *d, const char *address,
                    const struct site_host **store, buf *err)
{
    *store = NULL;
    struct directory_user u = {0};
    if (directory_user_get(d, address, &u, err) != 0) {
        directory_user_clear(&u);
        return -1;
    }
    const char **names;
    size_t n = store_pairs_list(site, &names);
    /* Users added before pairs were named in the directory have none; on
     * a site of one pair there is no doubt where they are. */
    const char *pair = u.mail_host && u.mail_host[0] ? u.mail_host : n == 1 ? names[0] : NULL;
    if (pair == NULL)
        buf_printf(err, "%s has no store pair in the directory (emailngMailHost)", address);
    else if (!store_pairs_has(site, pair)) {
        buf_printf(err, "the store pair of %s, \"%s\", is not in the site file (", address, pair);
        user_pairs_names(site, err);
        buf_append_str(err, ")");
    } else if ((*store = pair_active_store(site, state_dir, pair)) == NULL)
        buf_printf(err, "no store holds pair %s of %s", pair, address);
    free(names);
    directory_user_clear(&u);
    return *store ? 0 : -1;
}
