/* cmd_backup: backup and restore of mail, directory and secrets; see
 * cmd_backup.h. */
#include "cmd_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "backup_generations.h"
#include "directory.h"
#include "directory_export.h"
#include "fabric.h"
#include "fsutil.h"
#include "process.h"
#include "render.h"
#include "services.h"

#define DOVEADM "/usr/bin/doveadm"
#define SLAPD_READY_WAIT_MS 30000
#define DSYNC_RETRIES 3

/* What every step needs. */
struct backup_ctx {
    const struct site *site;
    const char *state_dir;
    char *root;                 /* the backup folder */
    int lock_fd;
    char *ldap_uri;             /* the directory host's ldapi */
};

/* ---- small helpers -------------------------------------------------------- */

static int fail_msg(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail_msg(const char *command, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "emailng: %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILED;
}

/* DOMAIN/LOCAL of a normalised address (caller frees). */
static char *address_path(const char *address)
{
    const char *at = strchr(address, '@');
    return xasprintf("%s/%.*s", at + 1, (int)(at - address), address);
}

/* doveadm on a store with that store's configuration, inside its network
 * namespace when the state directory runs the test fabric. */
static int doveadm_on(const struct backup_ctx *c, const struct site_host *store, const char *const *args,
                      const char *input, buf *out, buf *err)
{
    /* The longest call here (import of a folder) has 15 words. */
    enum { MAX_WORDS = 24 };
    size_t n_args = 0;
    while (args[n_args])
        n_args++;
    if (n_args + 3 >= MAX_WORDS) {
        buf_printf(err, "doveadm: too many arguments (%zu)", n_args);
        return -1;
    }
    char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", c->state_dir, store->name);
    const char *argv[MAX_WORDS + 4] = {DOVEADM, "-c", conf};
    size_t n = 3;
    for (size_t i = 0; i < n_args; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int status;
    char *prefix = fabric_prefix(c->state_dir);
    if (input == NULL)
        status = fabric_doveadm(c->state_dir, store->name, args, out, err);
    else if (fabric_exists(prefix)) {
        /* fabric_run has no input: sieve put runs with the script on
         * standard input, so run it through ip netns exec ourselves. */
        char *ns = xasprintf("%s-%s", prefix, store->name);
        const char *full[MAX_WORDS + 8] = {"ip", "netns", "exec", ns};
        size_t k = 4;
        for (size_t i = 0; argv[i]; i++)
            full[k++] = argv[i];
        full[k] = NULL;
        status = process_run(full, input, out, err);
        free(ns);
    } else
        status = process_run(argv, input, out, err);
    free(prefix);
    free(conf);
    return status;
}

/* The stores that hold pair, the one the proxies send the pair to first
 * (the first proxy's pair table, DATA/PROXY/healthd/pairs.passwd, kept by
 * emailng-healthd), then the others in site-file order. On the small site:
 * its one store. Returns how many (at most max). */
static size_t pair_stores(const struct backup_ctx *c, const char *pair, const struct site_host **out, size_t max)
{
    const struct site *site = c->site;
    size_t n = 0;
    int any_named = 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        if ((site->hosts[i].roles & ROLE_STORE) && site->hosts[i].store_pair && pair && pair[0]
            && strcmp(site->hosts[i].store_pair, pair) == 0)
            any_named = 1;
    const char *active = NULL;
    buf table = BUF_INIT, err = BUF_INIT;
    const struct site_host *proxy = NULL;
    for (size_t i = 0; i < site->n_hosts && proxy == NULL; i++)
        if (site->hosts[i].roles == ROLE_PROXY)
            proxy = &site->hosts[i];
    if (proxy && any_named) {
        char *path = xasprintf("%s/data/%s/healthd/pairs.passwd", c->state_dir, proxy->name);
        if (fs_read_file(path, 1 << 20, &table, &err) == 0) {
            /* "PAIR:::::::host=ADDRESS nopassword" */
            size_t plen = strlen(pair);
            for (char *line = (char *)buf_cstr(&table); line && *line;) {
                char *next = strchr(line, '\n');
                if (next)
                    *next++ = '\0';
                char *host = strstr(line, "host=");
                if (strncmp(line, pair, plen) == 0 && line[plen] == ':' && host) {
                    host += 5;
                    host[strcspn(host, " \t")] = '\0';
                    active = host;
                }
                line = next;
            }
        }
        free(path);
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < site->n_hosts && n < max; i++) {
            const struct site_host *h = &site->hosts[i];
            if (!(h->roles & ROLE_STORE) || (any_named && (h->store_pair == NULL || strcmp(h->store_pair, pair) != 0)))
                continue;
            int is_active = active && strcmp(h->address, active) == 0;
            if ((pass == 0) == is_active)
                out[n++] = h;
        }
    buf_free(&table);
    buf_free(&err);
    return n;
}

/* nftw has no user argument: the walks below run one at a time. */
static struct {
    uid_t uid;
    gid_t gid;
    int private_modes;          /* folders 0700, files 0600 */
    unsigned long long bytes;
    int failed;
} walk;

static int walk_own(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    if (type == FTW_SL)
        return 0;
    if (lchown(path, walk.uid, walk.gid) != 0)
        walk.failed = errno;
    if (walk.private_modes && chmod(path, S_ISDIR(st->st_mode) ? 0700 : 0600) != 0)
        walk.failed = errno;
    return 0;
}

/* chown -R (and, when private, chmod folders 0700 and files 0600). */
static int own_tree(const char *path, const char *user, int private_modes, buf *err)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        buf_printf(err, "no user %s on this system", user);
        return -1;
    }
    walk.uid = pw->pw_uid;
    walk.gid = pw->pw_gid;
    walk.private_modes = private_modes;
    walk.failed = 0;
    if (nftw(path, walk_own, 16, FTW_PHYS) != 0 || walk.failed) {
        buf_printf(err, "cannot set the owner and modes under %s: %s", path,
                   strerror(walk.failed ? walk.failed : errno));
        return -1;
    }
    return 0;
}

static int walk_size(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)path, (void)f;
    if (type == FTW_F)
        walk.bytes += (unsigned long long)st->st_size;
    return 0;
}

static unsigned long long tree_bytes(const char *path)
{
    walk.bytes = 0;
    return nftw(path, walk_size, 16, FTW_PHYS) == 0 ? walk.bytes : 0;
}

static int run_tool(const char *const argv[], const char *what, buf *err)
{
    buf out = BUF_INIT;
    int status = process_run(argv, NULL, &out, err);
    if (status != 0 && status != -1)
        buf_printf(err, "%s failed (exit %d): %s", what, status, buf_cstr(&out));
    buf_free(&out);
    return status == 0 ? 0 : -1;
}

/* ---- the backup folder ------------------------------------------------------ */

static int ctx_open(struct backup_ctx *c, const struct site *site, const char *state_dir, int create, buf *err)
{
    memset(c, 0, sizeof *c);
    c->site = site;
    c->state_dir = state_dir;
    c->lock_fd = -1;
    c->root = site->backup.path ? xstrdup(site->backup.path) : xasprintf("%s/backup", state_dir);
    /* Dovecot reads "mdbox:PATH" as a location: a ':' would start its
     * parameters. */
    if (strchr(c->root, ':') != NULL) {
        buf_printf(err, "the backup folder %s has a ':' in its path, which Dovecot's mail location cannot take",
                   c->root);
        return -1;
    }
    const struct site_host *dir_host = site_host_with_role(site, ROLE_DIRECTORY);
    struct render_context rc = {0};
    if (dir_host && render_context_for_host(site, dir_host, state_dir, &rc, err) != 0) {
        render_context_free(&rc);
        return -1;
    }
    c->ldap_uri = dir_host ? xstrdup(render_context_get(&rc, "ldap_uri")) : NULL;
    render_context_free(&rc);
    if (!create && !fs_exists(c->root)) {
        buf_printf(err, "no backup folder %s (no backup was made yet)", c->root);
        return -1;
    }
    /* Group vmail may pass through (doveadm writes and reads the mail as
     * vmail), nobody else may enter. */
    if (fs_ensure_dir(c->root, "root", "vmail", 0710, err) != 0)
        return -1;
    char *lock = xasprintf("%s/.lock", c->root);
    c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c->lock_fd < 0)
        buf_printf(err, "cannot open %s: %s", lock, strerror(errno));
    else if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0)
        buf_printf(err, "another backup or restore is running on %s", c->root);
    free(lock);
    return err->len ? -1 : 0;
}

static void ctx_close(struct backup_ctx *c)
{
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    free(c->root);
    free(c->ldap_uri);
}

static char *gen_path(const struct backup_ctx *c, const char *gen, const char *rest)
{
    return rest ? xasprintf("%s/%s/%s", c->root, gen, rest) : xasprintf("%s/%s", c->root, gen);
}

/* 1 if the generation was a run for every user (its manifest says so). */
static int gen_is_full(const struct backup_ctx *c, const char *gen)
{
    char *manifest = gen_path(c, gen, "manifest");
    buf text = BUF_INIT, err = BUF_INIT;
    int full = fs_read_file(manifest, 1 << 24, &text, &err) == 0 && strstr(buf_cstr(&text), "\nscope all\n");
    buf_free(&text);
    buf_free(&err);
    free(manifest);
    return full;
}

/* The newest generation with GEN/rest, or NULL (caller frees). */
static char *newest_with(const struct backup_ctx *c, const char *rest, buf *err)
{
    char **names;
    size_t n;
    char *found = NULL;
    if (backup_generations_list(c->root, &names, &n, err) != 0)
        return NULL;
    for (size_t i = n; i-- > 0 && found == NULL;) {
        char *p = gen_path(c, names[i], rest);
        if (fs_exists(p))
            found = xstrdup(names[i]);
        free(p);
    }
    backup_generations_free(names, n);
    return found;
}

/* ---- backup ------------------------------------------------------------------ */

struct user_to_save {
    char *address;
    char *pair;
};

/* The users of the directory (or the one given), with their pairs. */
static int users_to_save(const struct backup_ctx *c, const char *only, struct user_to_save **users, size_t *n,
                         buf *err)
{
    *users = NULL;
    *n = 0;
    struct directory *d = NULL;
    if (c->ldap_uri == NULL || directory_open(&d, c->ldap_uri, c->site->ldap_base, err) != 0)
        return -1;
    int rc = 0;
    if (only) {
        struct directory_user u = {0};
        rc = directory_user_get(d, only, &u, err);
        if (rc == 0) {
            *users = xcalloc(1, sizeof **users);
            (*users)[0] = (struct user_to_save){xstrdup(u.mail), xstrdup(u.mail_host ? u.mail_host : "")};
            *n = 1;
        }
        directory_user_clear(&u);
    } else {
        struct directory_user *list;
        size_t count;
        rc = directory_user_list(d, &list, &count, err);
        if (rc == 0) {
            *users = xcalloc(count ? count : 1, sizeof **users);
            for (size_t i = 0; i < count; i++)
                (*users)[i] = (struct user_to_save){xstrdup(list[i].mail),
                                                    xstrdup(list[i].mail_host ? list[i].mail_host : "")};
            *n = count;
            directory_user_list_free(list, count);
        }
    }
    directory_close(d);
    return rc;
}

static void users_free(struct user_to_save *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(users[i].address);
        free(users[i].pair);
    }
    free(users);
}

/* The user's Sieve scripts into GEN/sieve/DOMAIN/LOCAL (only when there
 * are any): NAME.sieve each, and "active" naming the active one. */
static int save_sieve(const struct backup_ctx *c, const struct site_host *store, const char *address,
                      const char *partial, buf *err)
{
    const char *list_args[] = {"-f", "tab", "sieve", "list", "-u", address, NULL};
    buf listing = BUF_INIT;
    int status = doveadm_on(c, store, list_args, NULL, &listing, err);
    if (status != 0) {
        buf_printf(err, "doveadm sieve list failed (exit %d): %s", status, buf_cstr(&listing));
        buf_free(&listing);
        return -1;
    }
    char *rel = address_path(address);
    char *dir = xasprintf("%s/sieve/%s", partial, rel);
    int rc = 0;
    buf active = BUF_INIT;
    /* "script\tactive", then "NAME\tACTIVE" or "NAME\t" per script. */
    char *line = strchr(buf_cstr(&listing), '\n');
    line = line ? line + 1 : NULL;
    while (rc == 0 && line && *line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *tab = strrchr(line, '\t');
        int is_active = tab && strcmp(tab + 1, "ACTIVE") == 0;
        if (tab)
            *tab = '\0';
        /* A name that cannot be a file name here is reported, not guessed. */
        if (line[0] == '\0' || line[0] == '.' || strchr(line, '/')) {
            if (line[0])
                fprintf(stderr, "emailng: backup: %s: Sieve script %s not saved (its name is no file name)\n",
                        address, line);
        } else {
            const char *get_args[] = {"-f", "tab", "sieve", "get", "-u", address, line, NULL};
            buf script = BUF_INIT;
            status = doveadm_on(c, store, get_args, NULL, &script, err);
            char *file = xasprintf("%s/%s.sieve", dir, line);
            if (status != 0) {
                buf_printf(err, "doveadm sieve get %s failed (exit %d)", line, status);
                rc = -1;
            } else if ((rc = fs_ensure_dir(dir, "root", "root", 0700, err)) == 0) {
                /* The tab formatter: a "sieve script" header line, the
                 * script, and one newline of its own. */
                const char *body = strchr(buf_cstr(&script), '\n');
                body = body ? body + 1 : "";
                size_t len = strlen(body);
                if (len > 0 && body[len - 1] == '\n')
                    len--;
                rc = fs_write_file(file, body, len, 0600, err);
            }
            if (is_active)
                buf_printf(&active, "%s\n", line);
            free(file);
            buf_free(&script);
        }
        line = next;
    }
    if (rc == 0 && active.len) {
        char *file = xasprintf("%s/active", dir);
        rc = fs_write_file(file, active.data, active.len, 0600, err);
        free(file);
    }
    buf_free(&active);
    buf_free(&listing);
    free(dir);
    free(rel);
    return rc;
}

/* One user's mail into the generation being built. report gets a line. */
static int save_user(const struct backup_ctx *c, const struct user_to_save *u, const char *partial,
                     buf *manifest)
{
    buf err = BUF_INIT;
    char *rel = address_path(u->address);
    char *dest = xasprintf("%s/mail/%s", partial, rel);
    char *dest_domain = xstrdup(dest);
    *strrchr(dest_domain, '/') = '\0';
    const struct site_host *stores[8];
    size_t n_stores = pair_stores(c, u->pair, stores, 8);
    long long started = clock_ms();
    int rc = -1, here = 0;
    for (size_t i = 0; i < n_stores; i++) {
        char *data = xasprintf("%s/data/%s", c->state_dir, stores[i]->name);
        here |= fs_exists(data);
        free(data);
    }
    /* A user who never received mail nor logged in has no mailbox: nothing
     * to save (doveadm would create an empty one on the store). */
    int has_mailbox = 0;
    for (size_t i = 0; i < n_stores; i++) {
        char *home = xasprintf("%s/data/%s/mail/%s", c->state_dir, stores[i]->name, rel);
        has_mailbox |= fs_exists(home);
        free(home);
    }
    if (n_stores == 0 || !here) {
        buf_printf(&err, "the data of its store pair %s is not on this machine; run `emailng backup` on a store "
                   "of that pair", u->pair[0] ? u->pair : "(none)");
    } else if (!has_mailbox) {
        printf("  %-36s no mailbox yet (never received mail nor logged in)\n", u->address);
        rc = 0;
        goto done;
    } else if (fs_ensure_dir(dest_domain, "vmail", "vmail", 0700, &err) == 0) {
        /* Start from the newest generation holding the user: dsync then
         * moves only what changed since. A real copy, not links (see the
         * header); --reflink=auto shares the blocks where the file system
         * can (btrfs, xfs) and copies them elsewhere. */
        char *mail_rel = xasprintf("mail/%s", rel);
        char *prev = newest_with(c, mail_rel, &err);
        free(mail_rel);
        char *prev_path = prev ? gen_path(c, prev, NULL) : NULL;
        char *prev_mail = prev ? xasprintf("%s/mail/%s", prev_path, rel) : NULL;
        const char *cp_argv[] = {"cp", "-a", "--reflink=auto", "--", prev_mail, dest, NULL};
        if (prev_mail == NULL || run_tool(cp_argv, "cp", &err) == 0) {
            char *location = xasprintf("mdbox:%s", dest);
            for (size_t i = 0; i < n_stores && rc != 0; i++) {
                /* No fsync per message (a full copy of 10,000 messages:
                 * 40 s with, 10 s without): the generation is not used
                 * before the run ends, and then syncfs() writes it all at
                 * once before it is renamed complete. */
                const char *args[] = {"-o", "mail_fsync=never", "backup", "-u", u->address, location, NULL};
                buf out = BUF_INIT;
                buf_reset(&err);
                int status = doveadm_on(c, stores[i], args, NULL, &out, &err);
                /* dsync exits 2 when a folder changed under it (mail
                 * arrived): what it wrote is consistent, but not complete
                 * for that folder; running it again takes the rest. */
                for (int again = 0; status == 2 && again < DSYNC_RETRIES; again++) {
                    buf_reset(&out);
                    status = doveadm_on(c, stores[i], args, NULL, &out, &err);
                }
                if (status == 0) {
                    rc = save_sieve(c, stores[i], u->address, partial, &err);
                    if (rc == 0) {
                        double secs = (double)(clock_ms() - started) / 1000;
                        unsigned long long bytes = tree_bytes(dest);
                        printf("  %-36s saved from %s (%s%s), %llu bytes, %.1f s\n", u->address, stores[i]->name,
                               prev ? "changes since " : "full copy", prev ? prev : "", bytes, secs);
                        buf_printf(manifest, "user %s store %s bytes %llu\n", u->address, stores[i]->name, bytes);
                    }
                } else {
                    buf_printf(&err, "doveadm backup on %s failed (exit %d): %s", stores[i]->name, status,
                               buf_cstr(&out));
                }
                buf_free(&out);
            }
            free(location);
        }
        free(prev);
        free(prev_path);
        free(prev_mail);
    }
    if (rc != 0) {
        /* A half-written copy must not be taken for this user's backup:
         * restores use an older generation instead. */
        buf ignored = BUF_INIT;
        (void)fs_remove_tree(dest, &ignored);
        buf_free(&ignored);
        fprintf(stderr, "emailng: backup: %s: %s\n", u->address, buf_cstr(&err));
        buf_printf(manifest, "failed %s\n", u->address);
    }
done:
    free(dest_domain);
    free(dest);
    free(rel);
    buf_free(&err);
    return rc;
}

/* Every entry of the directory (slapcat reads the database files; with
 * back-mdb that is safe while slapd runs). */
static int save_directory(const struct backup_ctx *c, const char *partial, buf *manifest, buf *err)
{
    const struct site_host *h = site_host_with_role(c->site, ROLE_DIRECTORY);
    char *data = h ? xasprintf("%s/data/%s/ldap", c->state_dir, h->name) : NULL;
    int rc = 0;
    if (data == NULL || !fs_exists(data)) {
        buf_printf(err, "the directory's database is not on this machine; run `emailng backup` on host %s",
                   h ? h->name : "(none)");
        rc = -1;
    } else {
        char *conf = xasprintf("%s/etc/%s/slapd/slapd.conf", c->state_dir, h->name);
        char *ldif = xasprintf("%s/directory.ldif", partial);
        const char *argv[] = {"/usr/sbin/slapcat", "-f", conf, "-b", c->site->ldap_base, "-l", ldif, NULL};
        rc = run_tool(argv, "slapcat", err);
        if (rc == 0 && chmod(ldif, 0600) != 0) {
            buf_printf(err, "chmod %s: %s", ldif, strerror(errno));
            rc = -1;
        }
        if (rc == 0) {
            printf("  directory: %llu bytes of LDIF (slapcat)\n", tree_bytes(ldif));
            buf_printf(manifest, "directory %s\n", h->name);
        }
        free(conf);
        free(ldif);
    }
    free(data);
    return rc;
}

/* The site file copy, the certificates with the CA key, and STATE/secrets. */
static int save_secrets(const struct backup_ctx *c, const char *partial, buf *manifest, buf *err)
{
    char *dir = xasprintf("%s/secrets", partial);
    static const char *const items[] = {"site.yaml", "tls", "secrets"};
    int rc = fs_ensure_dir(dir, "root", "root", 0700, err);
    buf saved = BUF_INIT;
    for (size_t i = 0; rc == 0 && i < sizeof items / sizeof items[0]; i++) {
        char *from = xasprintf("%s/%s", c->state_dir, items[i]);
        if (fs_exists(from)) {
            const char *argv[] = {"cp", "-a", "--", from, dir, NULL};
            rc = run_tool(argv, "cp", err);
            buf_printf(&saved, "%s%s", saved.len ? ", " : "", items[i]);
        }
        free(from);
    }
    if (rc == 0)
        rc = own_tree(dir, "root", 1, err);
    if (rc == 0) {
        printf("  secrets: %s (root only)\n", saved.len ? buf_cstr(&saved) : "none found");
        buf_printf(manifest, "secrets %s\n", buf_cstr(&saved));
    }
    buf_free(&saved);
    free(dir);
    return rc;
}

/* Retention, and what an interrupted run left (the lock is ours). */
static void prune(const struct backup_ctx *c, int keep)
{
    char **names;
    size_t n;
    buf err = BUF_INIT;
    if (backup_generations_list(c->root, &names, &n, &err) != 0) {
        fprintf(stderr, "emailng: backup: retention: %s\n", buf_cstr(&err));
        buf_free(&err);
        return;
    }
    int *full = xcalloc(n ? n : 1, sizeof *full), *remove = xcalloc(n ? n : 1, sizeof *remove);
    for (size_t i = 0; i < n; i++)
        full[i] = gen_is_full(c, names[i]);
    backup_generations_retain(names, full, n, keep, remove);
    for (size_t i = 0; i < n; i++) {
        if (!remove[i])
            continue;
        char *p = gen_path(c, names[i], NULL);
        buf_reset(&err);
        if (fs_remove_tree(p, &err) == 0)
            printf("  removed generation %s (backup.keep %d)\n", names[i], keep);
        else
            fprintf(stderr, "emailng: backup: retention: %s\n", buf_cstr(&err));
        free(p);
    }
    free(full);
    free(remove);
    backup_generations_free(names, n);
    buf_free(&err);
}

static void remove_partials(const struct backup_ctx *c)
{
    DIR *d = opendir(c->root);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 8 && strcmp(e->d_name + len - 8, ".partial") == 0) {
            char *p = gen_path(c, e->d_name, NULL);
            buf err = BUF_INIT;
            if (fs_remove_tree(p, &err) == 0)
                printf("  removed %s (left by an interrupted run)\n", e->d_name);
            buf_free(&err);
            free(p);
        }
    }
    if (d)
        closedir(d);
}

static int list_generations(const struct backup_ctx *c)
{
    char **names;
    size_t n;
    buf err = BUF_INIT;
    if (backup_generations_list(c->root, &names, &n, &err) != 0) {
        int rc = fail_msg("backup --list", "%s", buf_cstr(&err));
        buf_free(&err);
        return rc;
    }
    printf("%-20s %-5s %-6s %-9s %-8s %s\n", "GENERATION", "SCOPE", "USERS", "DIRECTORY", "SECRETS", "BYTES");
    for (size_t i = 0; i < n; i++) {
        char *manifest = gen_path(c, names[i], "manifest");
        buf text = BUF_INIT;
        buf_reset(&err);
        (void)fs_read_file(manifest, 1 << 24, &text, &err);
        size_t users = 0;
        for (const char *p = buf_cstr(&text); (p = strstr(p, "\nuser ")) != NULL; p++)
            users++;
        char *dir = gen_path(c, names[i], NULL);
        printf("%-20s %-5s %-6zu %-9s %-8s %llu\n", names[i], strstr(buf_cstr(&text), "\nscope all\n") ? "all" : "user",
               users, strstr(buf_cstr(&text), "\ndirectory ") ? "yes" : "no",
               strstr(buf_cstr(&text), "\nsecrets ") ? "yes" : "no", tree_bytes(dir));
        free(dir);
        free(manifest);
        buf_free(&text);
    }
    printf("%zu generation(s) in %s (backup.keep %d)\n", n, c->root, c->site->backup.keep);
    backup_generations_free(names, n);
    buf_free(&err);
    return EXIT_DONE;
}

static int backup_usage(const char *problem)
{
    if (problem)
        fprintf(stderr, "emailng: backup: %s\n", problem);
    fputs("usage: emailng backup [--user ADDRESS]\n       emailng backup --list\n", stderr);
    return EXIT_USAGE;
}

static int do_backup(struct backup_ctx *c, const char *only)
{
    buf err = BUF_INIT, manifest = BUF_INIT, name = BUF_INIT;
    struct user_to_save *users = NULL;
    size_t n_users = 0;
    long long started = clock_ms();
    int rc = EXIT_DONE;
    remove_partials(c);
    if (users_to_save(c, only, &users, &n_users, &err) != 0) {
        rc = fail_msg("backup", "%s", buf_cstr(&err));
        goto out;
    }
    buf stamp = BUF_INIT;
    backup_generation_stamp(time(NULL), &stamp);
    char **existing = NULL;
    size_t n_existing = 0;
    if (backup_generations_list(c->root, &existing, &n_existing, &err) != 0) {
        buf_free(&stamp);
        rc = fail_msg("backup", "%s", buf_cstr(&err));
        goto out;
    }
    backup_generation_new_name(buf_cstr(&stamp), existing, n_existing, &name);
    backup_generations_free(existing, n_existing);
    buf_free(&stamp);
    char *final = gen_path(c, buf_cstr(&name), NULL);
    if (fs_exists(final)) {     /* not a generation's name, yet there */
        rc = fail_msg("backup", "%s exists already", final);
        free(final);
        goto out;
    }
    char *partial = xasprintf("%s.partial", final);
    char *mail = xasprintf("%s/mail", partial);
    printf("emailng: backup %s of site %s into %s\n", buf_cstr(&name), c->site->name, final);
    buf_printf(&manifest, "generation %s\nsite %s\nscope %s\n", buf_cstr(&name), c->site->name,
               only ? "user" : "all");
    if (fs_ensure_dir(partial, "root", "vmail", 0710, &err) != 0 || fs_ensure_dir(mail, "vmail", "vmail", 0700, &err) != 0)
        rc = fail_msg("backup", "%s", buf_cstr(&err));
    size_t failed = 0;
    for (size_t i = 0; rc == EXIT_DONE && i < n_users; i++) {
        buf norm = BUF_INIT;
        buf_reset(&err);
        /* Addresses become file names: only what address_normalize accepts. */
        if (address_normalize(users[i].address, c->site->domains[0], &norm, &err) != 0
            || strcmp(buf_cstr(&norm), users[i].address) != 0) {
            fprintf(stderr, "emailng: backup: user %s skipped: not a plain address\n", users[i].address);
            failed++;
        } else if (save_user(c, &users[i], partial, &manifest) != 0) {
            failed++;
        }
        buf_free(&norm);
    }
    if (rc == EXIT_DONE) {
        buf_reset(&err);
        if (save_directory(c, partial, &manifest, &err) != 0 || save_secrets(c, partial, &manifest, &err) != 0)
            rc = fail_msg("backup", "%s", buf_cstr(&err));
    }
    if (rc == EXIT_DONE) {
        char *path = xasprintf("%s/manifest", partial);
        buf_reset(&err);
        int fd = -1;
        if (fs_write_file(path, manifest.data, manifest.len, 0600, &err) != 0)
            rc = fail_msg("backup", "%s", buf_cstr(&err));
        else if ((fd = open(partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || syncfs(fd) != 0)
            rc = fail_msg("backup", "cannot write %s to disk (syncfs): %s", partial, strerror(errno));
        else if (rename(partial, final) != 0)
            rc = fail_msg("backup", "cannot rename %s to %s: %s", partial, final, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
    }
    if (rc == EXIT_DONE) {
        printf("emailng: backup %s done in %.1f s: %zu user(s)%s, directory, secrets\n", buf_cstr(&name),
               (double)(clock_ms() - started) / 1000, n_users - failed, failed ? " (some FAILED, see above)" : "");
        if (!only)
            prune(c, c->site->backup.keep);
        if (failed)
            rc = EXIT_FAILED;
    } else {
        buf ignored = BUF_INIT;
        (void)fs_remove_tree(partial, &ignored);
        buf_free(&ignored);
    }
    free(mail);
    free(partial);
    free(final);
out:
    users_free(users, n_users);
    buf_free(&err);
    buf_free(&manifest);
    buf_free(&name);
    return rc;
}

int cmd_backup_run(const struct options *o, int argc, char **argv)
{
    const char *user = NULL;
    int list = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            user = argv[++i];
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else {
            char *w = cli_quoted(argv[i]);
            buf problem = BUF_INIT;
            buf_printf(&problem, "unexpected argument %s", w);
            int rc = backup_usage(buf_cstr(&problem));
            buf_free(&problem);
            free(w);
            return rc;
        }
    }
    if (list && user)
        return backup_usage("--list takes no --user");
    if (geteuid() != 0)
        return fail_msg("backup", "must run as root (it reads every mailbox and the site's secrets)");
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    umask(077);
    buf err = BUF_INIT, norm = BUF_INIT;
    struct backup_ctx c = {.lock_fd = -1};
    int rc;
    if (user && address_normalize(user, site.domains[0], &norm, &err) != 0)
        rc = fail_msg("backup", "%s", buf_cstr(&err));
    else if (ctx_open(&c, &site, o->state_dir, !list, &err) != 0)
        rc = fail_msg("backup", "%s", buf_cstr(&err));
    else
        rc = list ? list_generations(&c) : do_backup(&c, user ? buf_cstr(&norm) : NULL);
    ctx_close(&c);
    buf_free(&err);
    buf_free(&norm);
    site_free(&site);
    return rc;
}

/* ---- restore ------------------------------------------------------------------ */

struct restore_args {
    const char *user;
    const char *folder;
    const char *generation;
    const char *into;
    int replace;
    int directory;
    int force;
};

static int restore_usage(const char *problem)
{
    if (problem)
        fprintf(stderr, "emailng: restore: %s\n", problem);
    fputs("usage: emailng restore --user ADDRESS [--folder NAME] [--generation G] [--into FOLDER]\n"
          "       emailng restore --user ADDRESS --replace [--generation G] [--force]\n"
          "       emailng restore --directory [--generation G] [--force]\n", stderr);
    return EXIT_USAGE;
}

/* Messages in the user's folders matching pattern (doveadm mailbox status);
 * -1 if doveadm fails. */
static long count_messages_in(const struct backup_ctx *c, const struct site_host *store, const char *address,
                              const char *pattern, long *folders)
{
    const char *args[] = {"mailbox", "status", "-u", address, "messages", pattern, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int status = doveadm_on(c, store, args, NULL, &out, &err);
    long total = 0;
    /* "NAME messages=N" per folder (a pattern matching nothing: exit 0 or
     * 68, no line). */
    for (const char *p = buf_cstr(&out); (p = strstr(p, "messages=")) != NULL; p += 9) {
        total += strtol(p + 9, NULL, 10);
        if (folders)
            ++*folders;
    }
    buf_free(&out);
    buf_free(&err);
    return status == 0 || status == 68 ? total : -1;
}

static long count_messages(const struct backup_ctx *c, const struct site_host *store, const char *address,
                           const char *pattern)
{
    return count_messages_in(c, store, address, pattern, NULL);
}

/* 1 if the user has the folder, 0 if not, -1 if doveadm fails. */
static int folder_exists(const struct backup_ctx *c, const struct site_host *store, const char *address,
                         const char *folder)
{
    const char *args[] = {"mailbox", "status", "-u", address, "messages", folder, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int status = doveadm_on(c, store, args, NULL, &out, &err);
    buf_free(&out);
    buf_free(&err);
    /* 68: EX_NOUSER, here "Mailbox doesn't exist". */
    return status == 0 ? 1 : status == 68 ? 0 : -1;
}

/* Sieve scripts back (--replace): each NAME.sieve put, the active one
 * activated. */
static int restore_sieve(const struct backup_ctx *c, const struct site_host *store, const char *address,
                         const char *gen_dir, buf *err)
{
    char *rel = address_path(address);
    char *dir = xasprintf("%s/sieve/%s", gen_dir, rel);
    char *active_file = xasprintf("%s/active", dir);
    buf active = BUF_INIT;
    int rc = 0, n = 0;
    if (fs_exists(active_file))
        (void)fs_read_file(active_file, 4096, &active, err);
    buf_reset(err);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 6 || e->d_name[0] == '.' || strcmp(e->d_name + len - 6, ".sieve") != 0)
            continue;
        char *name = xstrndup(e->d_name, len - 6);
        char *file = xasprintf("%s/%s", dir, e->d_name);
        char *want_active = xasprintf("%s\n", name);
        buf script = BUF_INIT, out = BUF_INIT;
        int is_active = strcmp(buf_cstr(&active), want_active) == 0;
        const char *args[] = {"sieve", "put", "-u", address, is_active ? "-a" : name, is_active ? name : NULL, NULL};
        if ((rc = fs_read_file(file, 1 << 24, &script, err)) == 0) {
            int status = doveadm_on(c, store, args, buf_cstr(&script), &out, err);
            if (status != 0) {
                buf_printf(err, "doveadm sieve put %s failed (exit %d): %s", name, status, buf_cstr(&out));
                rc = -1;
            }
            n++;
        }
        buf_free(&script);
        buf_free(&out);
        free(want_active);
        free(file);
        free(name);
    }
    if (d)
        closedir(d);
    if (rc == 0 && n)
        printf("  %d Sieve script(s) put back%s\n", n, active.len ? " (the active one active again)" : "");
    buf_free(&active);
    free(active_file);
    free(dir);
    free(rel);
    return rc;
}

/* A restore on one store of a pair: its replicator is asked to sync the
 * user with the partner now. Saved messages would be noticed anyway, but
 * the expunges of `doveadm backup -R` are not (2.3.19's replication
 * plugin misses doveadm's expunges) and would wait for the next full sync. */
static void ask_replication(const struct backup_ctx *c, const struct site_host *store, const char *address)
{
    const struct site_host *partner = site_store_partner(c->site, store);
    if (partner == NULL)
        return;
    const char *args[] = {"replicator", "replicate", "-p", "high", address, NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int status = doveadm_on(c, store, args, NULL, &out, &err);
    if (status == 0)
        printf("  %s syncs it to %s now (replicator)\n", store->name, partner->name);
    else
        fprintf(stderr, "emailng: restore: could not ask %s's replicator to sync %s (%s); the next full sync "
                "brings the restore to %s\n", store->name, address, status < 0 ? buf_cstr(&err) : buf_cstr(&out),
                partner->name);
    buf_free(&out);
    buf_free(&err);
}

static int restore_user(const struct backup_ctx *c, const struct restore_args *a)
{
    buf err = BUF_INIT, addr = BUF_INIT, into = BUF_INIT;
    char *gen = NULL, *rel = NULL, *gen_dir = NULL, *source = NULL, *location = NULL, *mail_rel = NULL;
    struct directory *d = NULL;
    struct directory_user u = {0};
    int rc = EXIT_FAILED;
    if (address_normalize(a->user, c->site->domains[0], &addr, &err) != 0) {
        fail_msg("restore", "%s", buf_cstr(&err));
        goto out;
    }
    /* doveadm finds the mailbox through the userdb: the user must exist
     * (a deleted user is added again first, `emailng user add`). */
    if (c->ldap_uri == NULL || directory_open(&d, c->ldap_uri, c->site->ldap_base, &err) != 0
        || directory_user_get(d, buf_cstr(&addr), &u, &err) != 0) {
        fail_msg("restore", "%s (a deleted user must be added again first: emailng user add)", buf_cstr(&err));
        goto out;
    }
    rel = address_path(buf_cstr(&addr));
    mail_rel = xasprintf("mail/%s", rel);
    if (a->generation) {
        gen = xstrdup(a->generation);
        char *p = gen_path(c, gen, mail_rel);
        int there = backup_generation_name_valid(gen) && fs_exists(p);
        free(p);
        if (!there) {
            fail_msg("restore", "generation %s holds no mail of %s (`emailng backup --list`)", gen, buf_cstr(&addr));
            goto out;
        }
    } else if ((gen = newest_with(c, mail_rel, &err)) == NULL) {
        fail_msg("restore", "no generation in %s holds mail of %s%s%s", c->root, buf_cstr(&addr),
                 err.len ? ": " : "", buf_cstr(&err));
        goto out;
    }
    gen_dir = gen_path(c, gen, NULL);
    source = gen_path(c, gen, mail_rel);
    location = xasprintf("mdbox:%s", source);
    const struct site_host *stores[8];
    size_t n_stores = pair_stores(c, u.mail_host ? u.mail_host : "", stores, 8);
    long long started = clock_ms();
    for (size_t i = 0; i < n_stores; i++) {
        const struct site_host *store = stores[i];
        buf out = BUF_INIT;
        buf_reset(&err);
        if (a->replace) {
            long now = count_messages(c, store, buf_cstr(&addr), "*");
            if (now < 0) {
                buf_printf(&err, "doveadm mailbox status on %s failed", store->name);
                buf_free(&out);
                continue;
            }
            if (now > 0 && !a->force) {
                fail_msg("restore", "%s has %ld message(s) now; --replace would drop them. Restore into a folder "
                         "(without --replace), or give --force", buf_cstr(&addr), now);
                rc = EXIT_FAILED;
                buf_free(&out);
                goto out;
            }
            /* The mailbox made exactly what the backup holds: folders,
             * flags, keywords, UIDs and UIDVALIDITY, subscriptions. */
            const char *args[] = {"backup", "-R", "-u", buf_cstr(&addr), location, NULL};
            int status = doveadm_on(c, store, args, NULL, &out, &err);
            if (status != 0) {
                buf_printf(&err, "doveadm backup -R on %s failed (exit %d): %s", store->name, status, buf_cstr(&out));
            } else if (restore_sieve(c, store, buf_cstr(&addr), gen_dir, &err) == 0) {
                long total = count_messages(c, store, buf_cstr(&addr), "*");
                printf("emailng: restore: mailbox of %s replaced from generation %s on %s: %ld message(s), %.1f s\n",
                       buf_cstr(&addr), gen, store->name, total, (double)(clock_ms() - started) / 1000);
                rc = EXIT_DONE;
            }
        } else {
            buf_reset(&into);
            if (a->into)
                buf_append_str(&into, a->into);
            else
                buf_printf(&into, "Restored/%s", gen);
            char *into_all = xasprintf("%s/*", buf_cstr(&into));
            /* The folder, or folders below it (a parent made by an
             * earlier import need not exist itself). */
            long below_into = 0;
            int exists = folder_exists(c, store, buf_cstr(&addr), buf_cstr(&into));
            if (exists == 0 && count_messages_in(c, store, buf_cstr(&addr), into_all, &below_into) >= 0)
                exists = below_into > 0;
            if (exists < 0) {
                buf_printf(&err, "doveadm mailbox status on %s failed", store->name);
                free(into_all);
                buf_free(&out);
                continue;
            }
            if (exists) {
                fail_msg("restore", "%s already has a folder %s; name another with --into", buf_cstr(&addr),
                         buf_cstr(&into));
                free(into_all);
                buf_free(&out);
                goto out;
            }
            /* The folder and every folder below it (separator "/"). */
            char *below = a->folder ? xasprintf("%s/*", a->folder) : NULL;
            const char *args_all[] = {"import", "-s", "-u", buf_cstr(&addr), location, buf_cstr(&into), "ALL", NULL};
            const char *args_folder[] = {"import", "-s", "-u", buf_cstr(&addr), location, buf_cstr(&into),
                                         "(", "mailbox", a->folder, "OR", "mailbox", below, ")", NULL};
            int status = doveadm_on(c, store, a->folder ? args_folder : args_all, NULL, &out, &err);
            if (status != 0) {
                buf_printf(&err, "doveadm import on %s failed (exit %d): %s", store->name, status, buf_cstr(&out));
            } else {
                long total = count_messages(c, store, buf_cstr(&addr), into_all);
                if (total <= 0 && a->folder) {
                    fail_msg("restore", "generation %s has no message in folder %s of %s", gen, a->folder,
                             buf_cstr(&addr));
                    free(below);
                    free(into_all);
                    buf_free(&out);
                    goto out;
                }
                printf("emailng: restore: %s%s of %s from generation %s restored under \"%s\" on %s: "
                       "%ld message(s), %.1f s\n", a->folder ? "folder " : "mail", a->folder ? a->folder : "",
                       buf_cstr(&addr), gen, buf_cstr(&into), store->name, total,
                       (double)(clock_ms() - started) / 1000);
                rc = EXIT_DONE;
            }
            free(below);
            free(into_all);
        }
        buf_free(&out);
        if (rc == EXIT_DONE) {
            ask_replication(c, store, buf_cstr(&addr));
            break;
        }
    }
    if (rc != EXIT_DONE && err.len)
        fail_msg("restore", "%s", buf_cstr(&err));
    else if (rc != EXIT_DONE && n_stores == 0)
        fail_msg("restore", "no store holds pair %s of %s", u.mail_host ? u.mail_host : "", buf_cstr(&addr));
out:
    directory_user_clear(&u);
    directory_close(d);
    free(gen);
    free(rel);
    free(mail_rel);
    free(gen_dir);
    free(source);
    free(location);
    buf_free(&err);
    buf_free(&addr);
    buf_free(&into);
    return rc;
}

/* Users in the directory's database, by slapcat (slapd stopped): -1 on error. */
static long count_users_offline(const char *conf, const char *base, buf *err)
{
    const char *argv[] = {"/usr/sbin/slapcat", "-f", conf, "-b", base, "-a", "(objectClass=emailngMailUser)", NULL};
    buf out = BUF_INIT;
    int status = process_run(argv, NULL, &out, err);
    long n = 0;
    const char *text = buf_cstr(&out);
    for (const char *p = text; (p = strstr(p, "dn:")) != NULL; p += 3)
        n += p == text || p[-1] == '\n';
    /* An empty database: slapcat prints nothing. */
    if (status != 0) {
        buf_printf(err, "slapcat failed (exit %d): %s", status, text);
        n = -1;
    }
    buf_free(&out);
    return n;
}

static const struct service *slapd_service(void)
{
    for (size_t i = 0; i < n_services; i++)
        if (strcmp(services[i].name, "slapd") == 0)
            return &services[i];
    return NULL;
}

static int start_slapd(const struct service *svc, const struct service_env *env, buf *err)
{
    if (svc->prepare(env, err) != 0 || svc->start(env, err) != 0)
        return -1;
    long long deadline = clock_ms() + SLAPD_READY_WAIT_MS;
    buf detail = BUF_INIT;
    int rc = -1;
    while (clock_ms() < deadline) {
        buf_reset(&detail);
        if (svc->ready(env, &detail) == 0) {
            rc = 0;
            break;
        }
        usleep(100 * 1000);
    }
    if (rc != 0)
        buf_printf(err, "slapd did not answer within %d s: %s", SLAPD_READY_WAIT_MS / 1000, buf_cstr(&detail));
    buf_free(&detail);
    /* The base entries, demo users and the relays' tables, as `up` does
     * (idempotent: what the LDIF brought is kept). */
    if (rc == 0 && svc->after_start)
        rc = svc->after_start(env, err);
    return rc;
}

/* slapd runs in the directory host's namespace in the test fabric: it is
 * stopped and started there, by this same command run there. Returns its
 * exit status, or -1 when the restore is to run here. */
static int directory_elsewhere(const struct options *o, const struct site *site, const struct restore_args *a)
{
    const struct site_host *h = site_host_with_role(site, ROLE_DIRECTORY);
    if (h == NULL || site->n_hosts <= 1 || o->host != NULL)
        return -1;
    char *prefix = fabric_prefix(o->state_dir);
    if (!fabric_exists(prefix)) {
        free(prefix);
        return fail_msg("restore", "run it on the directory host: emailng restore --directory --host %s", h->name);
    }
    char *self = realpath("/proc/self/exe", NULL);
    if (self == NULL) {
        free(prefix);
        return fail_msg("restore", "cannot find the emailng program: %s", strerror(errno));
    }
    const char *argv[] = {self, "--state", o->state_dir, "--host", h->name, "restore", "--directory",
                          a->generation ? "--generation" : NULL, a->generation, NULL, NULL};
    if (a->force)
        argv[a->generation ? 9 : 7] = "--force";
    buf out = BUF_INIT, err = BUF_INIT;
    int status = fabric_run(prefix, h->name, argv, &out, &err);
    fputs(buf_cstr(&out), stdout);
    if (status < 0)
        fail_msg("restore", "%s", buf_cstr(&err));
    buf_free(&out);
    buf_free(&err);
    free(self);
    free(prefix);
    return status == 0 ? EXIT_DONE : EXIT_FAILED;
}

static int restore_directory(const struct options *o, const struct backup_ctx *c, const struct restore_args *a)
{
    const struct site *site = c->site;
    const struct site_host *h = site_host_with_role(site, ROLE_DIRECTORY);
    if (h == NULL)
        return fail_msg("restore", "the site has no directory host");
    if (o->host && strcmp(o->host, h->name) != 0)
        return fail_msg("restore", "--directory runs on the directory host %s, not %s", h->name, o->host);
    buf err = BUF_INIT;
    char *gen = a->generation ? xstrdup(a->generation) : newest_with(c, "directory.ldif", &err);
    char *ldif = gen ? gen_path(c, gen, "directory.ldif") : NULL;
    if (gen == NULL || !backup_generation_name_valid(gen) || !fs_exists(ldif)) {
        int rc = fail_msg("restore", "%s%s", gen ? "no directory.ldif in generation " : "no generation holds the directory",
                          gen ? gen : "");
        free(gen);
        free(ldif);
        buf_free(&err);
        return rc;
    }
    char *conf = xasprintf("%s/etc/%s/slapd/slapd.conf", c->state_dir, h->name);
    char *db = xasprintf("%s/data/%s/ldap", c->state_dir, h->name);
    const struct service *svc = slapd_service();
    struct service_env env;
    int rc = EXIT_FAILED;
    if (service_env_init(&env, site, h, c->state_dir, &err) != 0) {
        fail_msg("restore", "%s", buf_cstr(&err));
        goto out_noenv;
    }
    /* OpenLDAP: slapadd only while slapd is stopped. */
    if (svc->stop(&env, &err) != 0) {
        fail_msg("restore", "%s", buf_cstr(&err));
        goto out;
    }
    /* No database file: a fresh directory (slapcat cannot open it). */
    char *db_file = xasprintf("%s/data.mdb", db);
    int have_db = fs_exists(db_file);
    long users = have_db ? count_users_offline(conf, site->ldap_base, &err) : 0;
    free(db_file);
    if (users < 0 || (users > 0 && !a->force)) {
        if (users > 0)
            fail_msg("restore", "the directory holds %ld user(s): restore onto an empty directory, or give --force "
                     "(the present database is then kept beside it)", users);
        else
            fail_msg("restore", "%s", buf_cstr(&err));
        buf_reset(&err);
        if (start_slapd(svc, &env, &err) != 0)
            fail_msg("restore", "slapd: %s", buf_cstr(&err));
        goto out;
    }
    /* The database it replaces (base entries made by `up`, or what --force
     * overrides) is moved aside, not deleted. */
    buf aside = BUF_INIT;
    if (have_db) {
        buf_printf(&aside, "%s.replaced-", db);
        backup_generation_stamp(time(NULL), &aside);
        if (rename(db, buf_cstr(&aside)) != 0) {
            fail_msg("restore", "cannot move %s aside: %s", db, strerror(errno));
            buf_free(&aside);
            goto out;
        }
    }
    const char *add_argv[] = {"/usr/sbin/slapadd", "-f", conf, "-b", site->ldap_base, "-l", ldif, NULL};
    if (svc->prepare(&env, &err) != 0 || run_tool(add_argv, "slapadd", &err) != 0
        || own_tree(db, "openldap", 0, &err) != 0) {
        fail_msg("restore", "%s", buf_cstr(&err));
    } else if (buf_reset(&err), start_slapd(svc, &env, &err) != 0) {
        fail_msg("restore", "the directory is restored but slapd: %s", buf_cstr(&err));
    } else {
        printf("emailng: restore: directory restored from generation %s (%ld user(s) were in it before)%s%s\n", gen,
               users, aside.len ? "; the database it replaced is in " : "", buf_cstr(&aside));
        rc = EXIT_DONE;
    }
    buf_free(&aside);
out:
    service_env_free(&env);
out_noenv:
    free(conf);
    free(db);
    free(gen);
    free(ldif);
    buf_free(&err);
    return rc;
}

int cmd_restore_run(const struct options *o, int argc, char **argv)
{
    struct restore_args a = {0};
    static const struct {
        const char *name;
        size_t offset;
    } valued[] = {
        {"--user", offsetof(struct restore_args, user)},
        {"--folder", offsetof(struct restore_args, folder)},
        {"--generation", offsetof(struct restore_args, generation)},
        {"--into", offsetof(struct restore_args, into)},
    };
    static const struct {
        const char *name;
        size_t offset;
    } flags[] = {
        {"--replace", offsetof(struct restore_args, replace)},
        {"--directory", offsetof(struct restore_args, directory)},
        {"--force", offsetof(struct restore_args, force)},
    };
    for (int i = 0; i < argc; i++) {
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (strcmp(argv[i], valued[k].name) == 0) {
                if (i + 1 >= argc || argv[i + 1][0] == '\0')
                    return restore_usage("an option needs a value");
                *(const char **)((char *)&a + valued[k].offset) = argv[++i];
                known = 1;
            }
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
            if (strcmp(argv[i], flags[k].name) == 0) {
                *(int *)((char *)&a + flags[k].offset) = 1;
                known = 1;
            }
        if (!known) {
            char *w = cli_quoted(argv[i]);
            buf problem = BUF_INIT;
            buf_printf(&problem, "unexpected argument %s", w);
            int rc = restore_usage(buf_cstr(&problem));
            buf_free(&problem);
            free(w);
            return rc;
        }
    }
    if (a.directory == (a.user != NULL))
        return restore_usage("give --user ADDRESS or --directory");
    if (a.directory && (a.folder || a.into || a.replace))
        return restore_usage("--directory takes only --generation and --force");
    if (a.replace && (a.folder || a.into))
        return restore_usage("--replace restores the whole mailbox: no --folder, no --into");
    if (a.force && !a.replace && !a.directory)
        return restore_usage("--force goes with --replace or --directory");
    /* Folder names are IMAP names: '*' and '%' would be patterns to doveadm. */
    if ((a.folder && (a.folder[strcspn(a.folder, "*%")] || a.folder[0] == '/'))
        || (a.into && (a.into[strcspn(a.into, "*%")] || a.into[0] == '/')))
        return restore_usage("a folder name must not contain '*' or '%' nor start with '/'");
    if (geteuid() != 0)
        return fail_msg("restore", "must run as root");
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    umask(077);
    buf err = BUF_INIT;
    struct backup_ctx c = {.lock_fd = -1};
    int rc;
    if (a.directory && (rc = directory_elsewhere(o, &site, &a)) >= 0)
        ;   /* run on the directory host, in its namespace */
    else if (ctx_open(&c, &site, o->state_dir, 0, &err) != 0)
        rc = fail_msg("restore", "%s", buf_cstr(&err));
    else
        rc = a.directory ? restore_directory(o, &c, &a) : restore_user(&c, &a);
    ctx_close(&c);
    buf_free(&err);
    site_free(&site);
    return rc;
}
