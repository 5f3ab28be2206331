/* relay_tables: export the relays' Postfix tables; see relay_tables.h. */
#include "relay_tables.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "address.h"
#include "fsutil.h"
#include "process.h"

/* The tables list every address: readable by root and Postfix only. */
#define TABLE_GROUP "postfix"

static const char *const header =
    "# exported by emailng from the directory (src/lib/relay_tables.c); do not edit.\n";

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

void relay_tables_build(const struct directory_snapshot *snapshot, buf *recipients, buf *senders)
{
    buf_append_str(recipients, header);
    buf_append_str(senders, header);
    for (size_t i = 0; i < snapshot->n_users; i++) {
        const struct directory_user *u = &snapshot->users[i];
        if (!directory_status_is_active(u->status))
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
    for (size_t i = 0; i < snapshot->n_aliases; i++) {
        const struct directory_alias *a = &snapshot->aliases[i];
        /* a mailing list exists even without members (U4) */
        if (directory_status_is_active(a->status) && (a->n_destinations > 0 || a->is_list))
            buf_printf(recipients, "%s OK\n", a->mail);
    }
}

static char *table_path(const char *state_dir, const char *host, const char *name)
{
    return xasprintf("%s/data/%s/postfix/%s", state_dir, host, name);
}

/* 1 if path.lmdb is missing or older than the text it is built from. */
static int database_stale(const char *path)
{
    char *db = xasprintf("%s.lmdb", path);
    struct stat text, built;
    int stale = stat(db, &built) != 0 || stat(path, &text) != 0 || built.st_mtim.tv_sec < text.st_mtim.tv_sec
                || (built.st_mtim.tv_sec == text.st_mtim.tv_sec && built.st_mtim.tv_nsec < text.st_mtim.tv_nsec);
    free(db);
    return stale;
}

/* postmap lmdb:path. LMDB is updated in one transaction that running
 * smtpd processes see at their next lookup: no reload. postmap gets a
 * configuration of its own with nothing in it: it checks the main.cf it
 * reads, and the relay's names addresses of the relay's host (another
 * network namespace on the test fabric); /etc/postfix may have none. */
static int database_build(const char *state_dir, const char *host, const char *path, buf *err)
{
    static const char main_cf_text[] =
        "# emailng: the configuration postmap reads when it builds this relay's\n"
        "# tables (src/lib/relay_tables.c); Postfix's defaults are all it needs.\n";
    char *conf = xasprintf("%s/data/%s/postfix/postmap", state_dir, host);
    char *main_cf = xasprintf("%s/main.cf", conf);
    char *map = xasprintf("lmdb:%s", path);
    int rc = fs_ensure_dir(conf, NULL, NULL, 0755, err);
    if (rc == 0 && !fs_exists(main_cf))
        rc = fs_write_file(main_cf, main_cf_text, strlen(main_cf_text), 0644, err);
    if (rc == 0) {
        const char *argv[] = {"/usr/sbin/postmap", "-c", conf, map, NULL};
        buf output = BUF_INIT;
        int status = process_run(argv, NULL, &output, err);
        if (status != 0) {
            if (status > 0)
                buf_printf(err, "postmap %s failed (exit %d): %s", map, status, buf_cstr(&output));
            rc = -1;
        }
        buf_free(&output);
    }
    /* postmap makes the database 0644; like its source it lists every
     * address: Postfix's (smtpd as user postfix) only. */
    char *db = xasprintf("%s.lmdb", path);
    if (rc == 0)
        rc = fs_ensure_file(db, NULL, TABLE_GROUP, 0640, err);
    free(db);
    free(conf);
    free(main_cf);
    free(map);
    return rc;
}

static const char *const table_names[] = {"relay-recipients", "sender-logins"};

int relay_tables_ensure(const char *state_dir, const char *host, buf *err)
{
    char *dir = xasprintf("%s/data/%s/postfix", state_dir, host);
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        char *path = table_path(state_dir, host, table_names[i]);
        if (!fs_exists(path))
            rc = fs_write_file_group(path, header, strlen(header), 0640, TABLE_GROUP, err);
        if (rc == 0 && database_stale(path))
            rc = database_build(state_dir, host, path, err);
        free(path);
    }
    free(dir);
    return rc;
}

/* Writes content to path unless the file holds exactly that already, and
 * builds its database when it wrote (file times are coarse: a rewrite in
 * the same clock tick as the last build would not look newer) or when the
 * database is missing or older. */
static int write_if_changed(const char *state_dir, const char *host, const char *path, const char *text, size_t len,
                            int *changed, buf *err)
{
    buf old = BUF_INIT, ignored = BUF_INIT;
    int same = fs_read_file(path, len + 1, &old, &ignored) == 0 && old.len == len
               && memcmp(buf_cstr(&old), text, len) == 0;
    buf_free(&old);
    buf_free(&ignored);
    int rc = same ? 0 : fs_write_file_group(path, text, len, 0640, TABLE_GROUP, err);
    if (rc == 0 && (!same || database_stale(path)))
        rc = database_build(state_dir, host, path, err);
    if (rc == 0 && changed)
        *changed = !same;
    return rc;
}

int relay_tables_export(const struct site *site, const char *state_dir, const struct directory_snapshot *snapshot,
                        buf *err)
{
    buf tables[2] = {BUF_INIT, BUF_INIT};
    int rc = 0, built = 0;
    for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (h->roles != ROLE_RELAY || site->n_hosts == 1)
            continue;
        if (!built) {
            relay_tables_build(snapshot, &tables[0], &tables[1]);
            built = 1;
        }
        /* write_if_changed() creates a missing table and builds its
         * database, so only the folder must exist. */
        char *dir = xasprintf("%s/data/%s/postfix", state_dir, h->name);
        rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
        free(dir);
        for (size_t t = 0; rc == 0 && t < 2; t++) {
            char *path = table_path(state_dir, h->name, table_names[t]);
            rc = write_if_changed(state_dir, h->name, path, buf_cstr(&tables[t]), tables[t].len, NULL, err);
            free(path);
        }
    }
    buf_free(&tables[0]);
    buf_free(&tables[1]);
    if (rc != 0)
        buf_printf(err, " (the relays' recipient tables were not updated)");
    return rc;
}

static int table_index(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(name, table_names[i]) == 0)
            return i;
    return -1;
}

/* One "KEY VALUE" line: KEY an address; VALUE "OK" (recipients) or the
 * login's address (senders). Postfix would take more (its own parser is
 * postmap); what the export writes is all a relay may install. */
static int check_line(int table, const char *line, size_t lineno, buf *err)
{
    const char *sp = strchr(line, ' ');
    buf norm = BUF_INIT, why = BUF_INIT;
    int rc = -1;
    if (sp == NULL || sp == line || strchr(sp + 1, ' ') || sp[1] == '\0' || strchr(line, '\t')) {
        buf_printf(err, "%s:%zu: expected \"ADDRESS %s\"", table_names[table], lineno, table == 0 ? "OK" : "LOGIN");
        goto out;
    }
    char *key = xstrndup(line, (size_t)(sp - line));
    int bad = address_normalize(key, NULL, &norm, &why) != 0 || !strchr(key, '@');
    free(key);
    if (bad) {
        buf_printf(err, "%s:%zu: %s", table_names[table], lineno, why.len ? buf_cstr(&why) : "an address needs a domain");
        goto out;
    }
    buf_reset(&norm);
    buf_reset(&why);
    if (table == 0 ? strcmp(sp + 1, "OK") != 0
                   : (address_normalize(sp + 1, NULL, &norm, &why) != 0 || !strchr(sp + 1, '@'))) {
        buf_printf(err, "%s:%zu: expected %s after the address", table_names[table], lineno,
                   table == 0 ? "OK" : "the login's address");
        goto out;
    }
    rc = 0;
out:
    buf_free(&norm);
    buf_free(&why);
    return rc;
}

int relay_table_check(const char *name, const char *text, size_t len, buf *err)
{
    int table = table_index(name);
    if (table < 0) {
        buf_printf(err, "no relay table is called %s", name);
        return -1;
    }
    if (len == 0 || (len > 0 && text[len - 1] != '\n') || memchr(text, '\0', len)) {
        buf_printf(err, "%s: %s", name, len == 0 ? "empty (the export writes a header at least)"
                                                 : "not text lines (a NUL byte or no final newline)");
        return -1;
    }
    buf line = BUF_INIT;
    size_t lineno = 0;
    int rc = 0;
    for (const char *p = text, *end = text + len; rc == 0 && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        lineno++;
        buf_reset(&line);
        buf_append(&line, p, (size_t)(nl - p));
        p = nl + 1;
        if (line.len == 0 || buf_cstr(&line)[0] == '#')
            continue;
        rc = check_line(table, buf_cstr(&line), lineno, err);
    }
    buf_free(&line);
    return rc;
}

int relay_tables_install(const char *state_dir, const char *host, const char *name, const char *text, size_t len,
                         int *changed, buf *err)
{
    *changed = 0;
    if (relay_table_check(name, text, len, err) != 0)
        return -1;
    char *dir = xasprintf("%s/data/%s/postfix", state_dir, host);
    char *path = table_path(state_dir, host, name);
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    if (rc == 0)
        rc = write_if_changed(state_dir, host, path, text, len, changed, err);
    free(dir);
    free(path);
    return rc;
}
