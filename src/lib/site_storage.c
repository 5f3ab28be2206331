/* site_storage: the `storage:` section of the site file and its
 * placeholders; see site_storage.h. */
#include "site_storage.h"

#include <stdlib.h>
#include <string.h>

#include "acl_rights.h"
#include "buf.h"

/* Dovecot expands % in mail_location: a path holding one would name a
 * folder other than the one the administrator wrote. ':' would end the
 * ALT= parameter. */
static int alt_path_ok(const char *path)
{
    return path[0] == '/' && strpbrk(path, "%:\n\r\t ") == NULL && strstr(path, "/../") == NULL &&
           strcmp(path, "/") != 0;
}

void site_storage_take(ycfg *y, const yaml_node_t *node, struct site_storage *out)
{
    static const char *const keys[] = {"alt_path", "alt_after_days", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "storage", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (m.index == 0) {
                char *path = NULL;
                if (ycfg_str(y, m.value, m.path, &path) != 0)
                    continue;
                if (!alt_path_ok(path)) {
                    ycfg_report(y, m.value, "%s: \"%s\" is not an absolute folder path without %%, ':' or "
                                            "spaces (the mount point of the stores' second file system)",
                                m.path, path);
                    free(path);
                    continue;
                }
                size_t n = strlen(path);
                while (n > 1 && path[n - 1] == '/')
                    path[--n] = '\0';
                free(out->alt_path);
                out->alt_path = path;
            } else if (m.index == 1) {
                int days;
                if (ycfg_int(y, m.value, m.path, 1, 36500, &days) == 0)
                    out->alt_after_days = (unsigned)days;
            }
        }
    ycfg_map_end(&m);
}

char *site_storage_alt_dir(const struct site *site, const struct site_host *host)
{
    if (site->storage.alt_path == NULL || !(host->roles & ROLE_STORE))
        return NULL;
    return xasprintf("%s/%s", site->storage.alt_path, host->name);
}

void site_storage_render(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    char *dir = site_storage_alt_dir(site, host);
    buf b = BUF_INIT;
    if (dir)
        buf_printf(&b, ":ALT=%s/%%d/%%n", dir);
    render_context_set(ctx, "mail_alt", buf_cstr(&b));
    /* The shared namespace names the owner's mailbox: %%d/%%n there. */
    buf_reset(&b);
    if (dir)
        buf_printf(&b, ":ALT=%s/%%%%d/%%%%n", dir);
    render_context_set(ctx, "mail_alt_shared", buf_cstr(&b));
    /* The public namespace of the stores names one mailbox, its owner's. */
    char *owner_dir = xasprintf("%s/%s", site->domains[0], ACL_PUBLIC_OWNER_LOCALPART);
    render_context_set(ctx, "public_owner_dir", owner_dir);
    char *owner = xasprintf("%s@%s", ACL_PUBLIC_OWNER_LOCALPART, site->domains[0]);
    render_context_set(ctx, "public_owner", owner);
    free(owner);
    buf_reset(&b);
    if (dir)
        buf_printf(&b, ":ALT=%s/%s", dir, owner_dir);
    render_context_set(ctx, "mail_alt_public", buf_cstr(&b));
    free(owner_dir);
    buf_free(&b);
    free(dir);
}
