/* relay_tables: export the relays' Postfix tables; see relay_tables.h. */
#include "relay_tables.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "process.h"

static const char *const header =
    "# exported by emailng from the directory (src/lib/relay_tables.c); do not edit.\n";

static int is_active(const char *status)
{
    return status == NULL || status[0] == '\0' || strcmp(status, "active") == 0;
}

/* A user without a service in emailngEnabledService (when it lists any)
 * does not get it: e.g. healthd's probe account (imap only) receives no
 * mail and sends none. */
static int has_service(const struct directory_user *u, const char *service)
{
    if (u->n_services == 0)
        return 1;
    for (size_t i = 0; i < u->n_services; i++)
        if (strcmp(u->services[i], service) == 0)
            return 1;
    return 0;
}

int relay_tables_build(struct directory *d, buf *recipients, buf *senders, buf *err)
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
    buf_append_str(recipients, header);
    buf_append_str(senders, header);
    for (size_t i = 0; i < n_users; i++) {
        const struct directory_user *u = &users[i];
        if (!is_active(u->status))
            continue;
        int receives = has_service(u, "lmtp"), sends = has_service(u, "smtp");
        if (receives)
            buf_printf(recipients, "%s OK\n", u->mail);
        if (sends)
            buf_printf(senders, "%s %s\n", u->mail, u->mail);
        for (size_t j = 0; j < u->n_alternate_addresses; j++) {
            if (receives)
                buf_printf(recipients, "%s OK\n", u->alternate_addresses[j]);
            if (sends)
                buf_printf(senders, "%s %s\n", u->alternate_addresses[j], u->mail);
        }
    }
    for (size_t i = 0; i < n_aliases; i++)
        if (is_active(aliases[i].status) && aliases[i].n_destinations > 0)
            buf_printf(recipients, "%s OK\n", aliases[i].mail);
    directory_user_list_free(users, n_users);
    directory_alias_list_free(aliases, n_aliases);
    return 0;
}

static char *table_path(const char *state_dir, const char *host, const char *name)
{
    return xasprintf("%s/data/%s/postfix/%s", state_dir, host, name);
}

int relay_tables_ensure(const char *state_dir, const char *host, buf *err)
{
    static const char *const names[] = {"relay-recipients", "sender-logins"};
    char *dir = xasprintf("%s/data/%s/postfix", state_dir, host);
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        char *path = table_path(state_dir, host, names[i]);
        if (!fs_exists(path))
            rc = fs_write_file(path, header, strlen(header), 0644, err);
        free(path);
    }
    free(dir);
    return rc;
}

/* Writes content to path unless the file holds exactly that already;
 * sets *changed when it wrote. */
static int write_if_changed(const char *path, buf *content, int *changed, buf *err)
{
    buf old = BUF_INIT, ignored = BUF_INIT;
    int same = fs_read_file(path, content->len + 1, &old, &ignored) == 0 && old.len == content->len
               && memcmp(buf_cstr(&old), buf_cstr(content), content->len) == 0;
    buf_free(&old);
    buf_free(&ignored);
    if (same)
        return 0;
    *changed = 1;
    return fs_write_file(path, content->data, content->len, 0644, err);
}

int relay_tables_export(const struct site *site, const char *state_dir, const char *ldap_uri, buf *err)
{
    struct directory *d = NULL;
    buf recipients = BUF_INIT, senders = BUF_INIT;
    int rc = 0, built = 0;
    for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (h->roles != ROLE_RELAY || site->n_hosts == 1)
            continue;
        if (!built) {
            rc = directory_open(&d, ldap_uri, site->ldap_base, err);
            if (rc == 0)
                rc = relay_tables_build(d, &recipients, &senders, err);
            built = 1;
        }
        if (rc == 0)
            rc = relay_tables_ensure(state_dir, h->name, err);
        char *r = table_path(state_dir, h->name, "relay-recipients");
        char *s = table_path(state_dir, h->name, "sender-logins");
        int changed = 0;
        if (rc == 0)
            rc = write_if_changed(r, &recipients, &changed, err);
        if (rc == 0)
            rc = write_if_changed(s, &senders, &changed, err);
        free(r);
        free(s);
        /* texthash is read when a Postfix process starts: SIGHUP makes the
         * master re-read its configuration and restart its processes (what
         * `postfix reload` does; that command refuses to run from another
         * network namespace than the master's, e.g. the test fabric's).
         * Only when a table changed: a reload while the relay is delivering
         * leaves those messages to the new queue manager, which skips them
         * ("still being delivered") and retries them minutes later (seen:
         * 5 minutes after every `emailng up`). */
        char *pidfile = xasprintf("%s/data/%s/postfix/queue/pid/master.pid", state_dir, h->name);
        pid_t pid = rc == 0 && changed ? pidfile_read(pidfile) : 0;
        if (pid > 0)
            kill(pid, SIGHUP);
        free(pidfile);
    }
    directory_close(d);
    buf_free(&recipients);
    buf_free(&senders);
    if (rc != 0)
        buf_printf(err, " (the relays' recipient tables were not updated)");
    return rc;
}
