/* policy_table: export the directory for emailng-policyd; see policy_table.h. */
#include "policy_table.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "process.h"

#define MEMBERS_PER_LINE 1000   /* the daemon accepts at most 4096 fields a line */

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

void policy_table_build(const struct directory_snapshot *snapshot, const struct site *site, const char *default_pair,
                        buf *out)
{
    const struct directory_user *users = snapshot->users;
    size_t n_users = snapshot->n_users;
    buf_append_str(out, "# emailng-policyd table, exported by emailng from the directory; do not edit.\n"
                        "emailng-policyd-table 1\n");
    for (size_t i = 0; i < n_users; i++) {
        const struct directory_user *u = &users[i];
        if (!directory_status_is_active(u->status))
            continue;
        buf_printf(out, "mailbox %s %s\n", u->mail, u->mail_host && u->mail_host[0] ? u->mail_host : default_pair);
    }
    for (size_t i = 0; i < n_users; i++) {
        const struct directory_user *u = &users[i];
        if (!directory_status_is_active(u->status))
            continue;
        for (size_t j = 0; j < u->n_alternate_addresses; j++)
            buf_printf(out, "alternate %s %s\n", u->alternate_addresses[j], u->mail);
    }
    for (size_t i = 0; i < snapshot->n_aliases; i++) {
        const struct directory_alias *a = &snapshot->aliases[i];
        if (!directory_status_is_active(a->status) || a->n_destinations == 0)
            continue;
        for (size_t j = 0; j < a->n_destinations; j++) {
            if (j % MEMBERS_PER_LINE == 0)
                buf_printf(out, "%salias %s", j ? "\n" : "", a->mail);
            buf_printf(out, " %s", a->destinations[j]);
        }
        buf_append_char(out, '\n');
    }
    /* Mailing lists (U4): who may post is decided at RCPT on the relays. */
    for (size_t i = 0; i < snapshot->n_aliases; i++) {
        const struct directory_alias *a = &snapshot->aliases[i];
        if (!a->is_list || !directory_status_is_active(a->status))
            continue;
        buf_printf(out, "list %s %s", a->mail, a->list_policy[0] ? a->list_policy : "internal");
        for (size_t j = 0; j < a->n_owners; j++)
            buf_printf(out, " %s", a->owners[j]);
        buf_append_char(out, '\n');
    }
    for (size_t i = 0; i < site->policy.n_overrides; i++)
        limit_line(out, &site->policy.overrides[i]);
}

char *policy_table_path(const char *state_dir, const char *host)
{
    return xasprintf("%s/data/%s/policyd/table", state_dir, host);
}

/* Writes one relay's table and signals its daemon. */
static int write_table(const char *state_dir, const char *host, const char *text, size_t len, buf *err)
{
    char *dir = xasprintf("%s/data/%s/policyd", state_dir, host);
    char *table = policy_table_path(state_dir, host);
    char *pidfile = xasprintf("%s/run/%s/policyd.pid", state_dir, host);
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    if (rc == 0)
        /* Every mailbox and alias: for emailng-policyd (which reads it after
         * dropping to its user), not for every local user. */
        rc = fs_write_file_group(table, text, len, 0640, "emailng-policyd", err);
    if (rc == 0) {
        pid_t pid = pidfile_read(pidfile);
        if (pid > 0)
            kill(pid, SIGHUP);    /* reload now; otherwise it sees the mtime soon */
    }
    free(dir);
    free(table);
    free(pidfile);
    return rc;
}

const char *policy_table_default_pair(const struct site *site)
{
    const struct site_host *store = site_host_with_role(site, ROLE_STORE);
    return store && store->store_pair ? store->store_pair : "pair1";
}

int policy_table_install(const char *state_dir, const char *host, const char *text, size_t len, int *changed,
                         buf *err)
{
    char *table = policy_table_path(state_dir, host);
    buf old = BUF_INIT, ignored = BUF_INIT;
    int same = fs_read_file(table, len + 1, &old, &ignored) == 0 && old.len == len
               && memcmp(buf_cstr(&old), text, len) == 0;
    buf_free(&old);
    buf_free(&ignored);
    free(table);
    *changed = !same;
    return same ? 0 : write_table(state_dir, host, text, len, err);
}

int policy_table_export(const struct site *site, const char *state_dir, const struct directory_snapshot *snapshot,
                        buf *err)
{
    const char *default_pair = policy_table_default_pair(site);
    buf text = BUF_INIT;
    int rc = 0, built = 0;
    for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
        if (!(site->hosts[i].roles & ROLE_RELAY))
            continue;
        if (!built) {
            policy_table_build(snapshot, site, default_pair, &text);
            built = 1;
        }
        rc = write_table(state_dir, site->hosts[i].name, buf_cstr(&text), text.len, err);
    }
    buf_free(&text);
    if (rc != 0)
        buf_printf(err, " (the policy table for emailng-policyd was not updated)");
    return rc;
}
