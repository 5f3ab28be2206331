/* logrotate_install: /etc/logrotate.d/emailng*; see logrotate_install.h. */
#include "logrotate_install.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fabric.h"
#include "fsutil.h"

static char *installed_path(const char *state_dir)
{
    return fabric_system_file(LOGROTATE_DIR, state_dir);
}

int logrotate_install(const struct site *site, const char *state_dir, buf *err)
{
    if (!fs_exists(LOGROTATE_DIR)) {
        printf("  logrotate is not installed (%s missing): the logs under %s/log are not rotated\n", LOGROTATE_DIR,
               state_dir);
        return 0;
    }
    buf text = BUF_INIT;
    buf_printf(&text, "# Written by `emailng up` for the state directory %s; `emailng down` removes it.\n"
                      "# Each host's rotation is rendered from templates/logrotate/emailng.conf.\n", state_dir);
    for (size_t i = 0; i < site->n_hosts; i++) {
        char *conf = xasprintf("%s/etc/%s/logrotate/emailng.conf", state_dir, site->hosts[i].name);
        if (fs_exists(conf))
            buf_printf(&text, "include %s\n", conf);
        free(conf);
    }
    char *path = installed_path(state_dir);
    /* logrotate skips files that group or others may write. */
    int rc = fs_write_file(path, text.data, text.len, 0644, err);
    free(path);
    buf_free(&text);
    return rc;
}

int logrotate_remove(const char *state_dir, buf *err)
{
    char *path = installed_path(state_dir);
    int rc = fs_remove_tree(path, err);
    free(path);
    return rc;
}
