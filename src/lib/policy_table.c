/* policy_table: export the directory for emailng-policyd; see policy_table.h. */
#include "policy_table.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

#define MEMBERS_PER_LINE 1000   /* the daemon accepts at most 4096 fields a line */

static int is_active(const char *status)
{
    return status != NULL && strcmp(status, "active") == 0;
}

static void limit_line(buf *out, const struct site_limit_override *o)
{
    static const char *const names[] = {"msgs_per_hour", "rcpts_per_msg", "rcpts_per_day"};
    const long values[] = {o->limits.msgs_per_hour, o->limits.rcpts_per_msg, o->limits.rcpts_per_day};
    buf line = BUF_INIT;
    for (size_t i = 0; i < 3; i++)
        if (values[i] >= 0)
            buf_printf(&line, " %s=%ld", names[i], values[i]);
    if (line.len)               /* nothing overridden: no line */
        buf_printf(out, "limit %s%s\n", o->address, buf_cstr(&line));
    buf_free(&line);
}

int policy_table_build(struct directory *d, const struct site *site, const char *default_pair,
                       buf *out, buf *err)
{
    struct directory_user *users = NULL;
    struct directory_alias *aliases = NULL;
    size_t n_users = 0, n_aliases = 0;
    if (directory_user_list(d, &users, &n_users, err) != 0)
        return -1;
    if (directory_alias_list(d, &aliases, &n_aliases, err) != 0) {
        directory_user_list_free(users, n_users);
        return -1;
    }
    buf_append_str(out, "# emailng-policyd table, exported by emailng from the directory; do not edit.\n"
                        "emailng-policyd-table 1\n");
    for (size_t i = 0; i < n_users; i++) {
        const struct directory_user *u = &users[i];
        if (!is_active(u->status))
            continue;
        buf_printf(out, "mailbox %s %s\n", u->mail, u->mail_host && u->mail_host[0] ? u->mail_host : default_pair);
    }
    for (size_t i = 0; i < n_users; i++) {
        const struct directory_user *u = &users[i];
        if (!is_active(u->status))
            continue;
        for (size_t j = 0; j < u->n_alternate_addresses; j++)
            buf_printf(out, "alternate %s %s\n", u->alternate_addresses[j], u->mail);
    }
    for (size_t i = 0; i < n_aliases; i++) {
        const struct directory_alias *a = &aliases[i];
        if (!is_active(a->status) || a->n_destinations == 0)
            continue;
        for (size_t j = 0; j < a->n_destinations; j++) {
            if (j % MEMBERS_PER_LINE == 0)
                buf_printf(out, "%salias %s", j ? "\n" : "", a->mail);
            buf_printf(out, " %s", a->destinations[j]);
        }
        buf_append_char(out, '\n');
    }
    for (size_t i = 0; i < site->policy.n_overrides; i++)
        limit_line(out, &site->policy.overrides[i]);
    directory_user_list_free(users, n_users);
    directory_alias_list_free(aliases, n_aliases);
    return 0;
}

char *policy_table_path(const char *state_dir, const char *host)
{
    return xasprintf("%s/data/%s/policyd/table", state_dir, host);
}

/* Writes one relay's table under its lock and signals its daemon. */
static int write_table(const char *state_dir, const struct site_host *host, const struct site *site,
                       struct directory *d, const char *default_pair, buf *err)
{
    char *dir = xasprintf("%s/data/%s/policyd", state_dir, host->name);
    char *lock = xasprintf("%s/table.lock", dir);
    char *table = policy_table_path(state_dir, host->name);
    char *pidfile = xasprintf("%s/run/%s/policyd.pid", state_dir, host->name);
    buf text = BUF_INIT;
    int fd = -1;
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    if (rc == 0) {
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) != 0) {
            buf_printf(err, "cannot lock %s: %s", lock, strerror(errno));
            rc = -1;
        }
    }
    /* Read the directory under the lock: the last writer has the newest data. */
    if (rc == 0)
        rc = policy_table_build(d, site, default_pair, &text, err);
    if (rc == 0)
        /* Every mailbox and alias: for emailng-policyd (which reads it after
         * dropping to its user), not for every local user. */
        rc = fs_write_file_group(table, text.data, text.len, 0640, "emailng-policyd", err);
    if (rc == 0) {
        pid_t pid = pidfile_read(pidfile);
        if (pid > 0)
            kill(pid, SIGHUP);    /* reload now; otherwise it sees the mtime soon */
    }
    if (fd >= 0)
        close(fd);               /* releases the lock */
    buf_free(&text);
    free(dir);
    free(lock);
    free(table);
    free(pidfile);
    return rc;
}

int policy_table_export(const struct site *site, const char *state_dir, const char *ldap_uri, buf *err)
{
    const struct site_host *store = site_host_with_role(site, ROLE_STORE);
    const char *default_pair = store && store->store_pair ? store->store_pair : "pair1";
    struct directory *d = NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
        if (!(site->hosts[i].roles & ROLE_RELAY))
            continue;
        if (d == NULL && directory_open(&d, ldap_uri, site->ldap_base, err) != 0)
            return -1;
        rc = write_table(state_dir, &site->hosts[i], site, d, default_pair, err);
    }
    directory_close(d);
    if (rc != 0)
        buf_printf(err, " (the policy table for emailng-policyd was not updated)");
    return rc;
}
