/* site_backup: see site_backup.h. */
#include "site_backup.h"

#include <stdlib.h>
#include <string.h>

void site_backup_default(struct site_backup *b)
{
    *b = (struct site_backup){.path = NULL, .keep = SITE_BACKUP_KEEP_DEFAULT};
}

void site_backup_free(struct site_backup *b)
{
    free(b->path);
    b->path = NULL;
}

void site_backup_take(ycfg *y, const yaml_node_t *node, struct site_backup *b)
{
    static const char *const keys[] = {"path", "keep", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "backup", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (m.index == 1) {
                (void)ycfg_int(y, m.value, m.path, 1, SITE_BACKUP_KEEP_MAX, &b->keep);
                continue;
            }
            const char *path = ycfg_text(y, m.value, m.path);
            if (path == NULL)
                continue;
            /* Relative to what? The tool runs from anywhere; and "/" or a
             * path with ".." would let retention remove folders it does not
             * own. */
            if (path[0] != '/' || strcmp(path, "/") == 0 || strstr(path, "/../") != NULL
                || (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
                ycfg_report(y, m.value, "%s: \"%s\" is not an absolute folder; expected e.g. /srv/emailng-backup",
                            m.path, path);
            /* Dovecot reads "mdbox:PATH:..." as a location with parameters. */
            else if (strchr(path, ':') != NULL)
                ycfg_report(y, m.value, "%s: \"%s\" has a ':', which Dovecot's mail location cannot take",
                            m.path, path);
            else
                (void)ycfg_str(y, m.value, m.path, &b->path);
        }
    ycfg_map_end(&m);
}
