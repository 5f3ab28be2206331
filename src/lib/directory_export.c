/* directory_export: one snapshot, every relay table; see directory_export.h. */
#include "directory_export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "directory.h"
#include "fsutil.h"
#include "policy_table.h"
#include "relay_tables.h"

int directory_export(const struct site *site, const char *state_dir, const char *ldap_uri, buf *err)
{
    char *dir = xasprintf("%s/run", state_dir);
    char *lock = xasprintf("%s/directory-export.lock", dir);
    int fd = -1;
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    if (rc == 0) {
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) != 0) {
            buf_printf(err, "cannot lock %s: %s", lock, strerror(errno));
            rc = -1;
        }
    }
    /* Read the directory under the lock: two exports at once (two admins'
     * `user add`) must not leave the older snapshot written last. */
    struct directory *d = NULL;
    struct directory_snapshot snapshot = {0};
    if (rc == 0)
        rc = directory_open(&d, ldap_uri, site->ldap_base, err);
    if (rc == 0)
        rc = directory_snapshot_load(d, &snapshot, err);
    if (rc == 0)
        rc = policy_table_export(site, state_dir, &snapshot, err);
    if (rc == 0)
        rc = relay_tables_export(site, state_dir, &snapshot, err);
    directory_snapshot_free(&snapshot);
    directory_close(d);
    if (fd >= 0)
        close(fd);              /* releases the lock */
    free(dir);
    free(lock);
    return rc;
}
