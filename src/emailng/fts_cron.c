/* fts_cron: the cron line of the daily index optimize; see fts_cron.h. */
#include "fts_cron.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fabric.h"
#include "fsutil.h"

#define CRON_DIR "/etc/cron.d"

static char *cron_path(const char *state_dir)
{
    if (strcmp(state_dir, DEFAULT_STATE) == 0)
        return xasprintf("%s/emailng-fts", CRON_DIR);
    char *prefix = fabric_prefix(state_dir);
    char *path = xasprintf("%s/emailng-fts-%s", CRON_DIR, prefix);
    free(prefix);
    return path;
}

/* The path of the running program (/proc/self/exe), however long. */
static char *self_path(buf *err)
{
    for (size_t size = 256; size <= 65536; size *= 2) {
        char *path = xmalloc(size);
        ssize_t n = readlink("/proc/self/exe", path, size);
        if (n < 0) {
            buf_printf(err, "cannot find the emailng program (/proc/self/exe): %s", strerror(errno));
            free(path);
            return NULL;
        }
        if ((size_t)n < size) {
            path[n] = '\0';
            return path;
        }
        free(path);
    }
    buf_printf(err, "cannot find the emailng program (/proc/self/exe): path too long");
    return NULL;
}

int fts_cron_remove(const char *state_dir, buf *err)
{
    char *path = cron_path(state_dir);
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT) {
        buf_printf(err, "cannot remove %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

int fts_cron_install(const struct site *site, const char *state_dir, const char *host, buf *err)
{
    int store_here = 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        if ((site->hosts[i].roles & ROLE_STORE) && (host == NULL || strcmp(host, site->hosts[i].name) == 0))
            store_here = 1;
    if (!store_here || !site->search.fts)
        return fts_cron_remove(state_dir, err);
    if (!fs_exists(CRON_DIR)) {
        printf("  cron is not installed (%s missing): run `emailng fts optimize --all` daily yourself\n", CRON_DIR);
        return 0;
    }
    /* The program that runs now is the one cron should run. */
    char *self = self_path(err);
    if (self == NULL)
        return -1;
    buf text = BUF_INIT;
    /* 04:43: away from the hour and from the ALT move (03:17). */
    buf_printf(&text, "# Written by `emailng up` for the state directory %s; `emailng down` removes it.\n"
                      "# Expunged messages leave the stores' full-text indexes, which are compacted.\n"
                      "43 4 * * * root %s --state %s fts optimize --all%s%s >>%s/log/fts-optimize.log 2>&1\n",
               state_dir, self, state_dir, host ? " --host " : "", host ? host : "", state_dir);
    char *path = cron_path(state_dir);
    int rc = fs_write_file(path, text.data, text.len, 0644, err);
    free(path);
    buf_free(&text);
    free(self);
    return rc;
}
