/* move_acl: see move_acl.h. */
#include "move_acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fabric.h"
#include "render.h"

/* Keys of Dovecot's acl_shared_dict (acl-lookup-dict.c): "user/READER/
 * OWNER", "anyone/OWNER", "group/NAME/OWNER" below this prefix. */
#define SHARED_BOXES "shared/shared-boxes/"

/* doveadm ARGS on store; its output in out, failing unless it exits 0. */
static int doveadm_ok(const char *state_dir, const struct site_host *store, const char *what,
                      const char *const *args, buf *out, buf *err)
{
    buf mine = BUF_INIT;
    int status = fabric_doveadm(state_dir, store->name, args, &mine, err);
    if (status > 0)
        buf_printf(err, "%s on %s failed (doveadm exit %d): %s", what, store->name, status, buf_cstr(&mine));
    if (out)
        buf_append_str(out, buf_cstr(&mine));
    buf_free(&mine);
    return status == 0 ? 0 : -1;
}

/* The next line of *p (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **p)
{
    if (**p == '\0')
        return NULL;
    char *line = *p, *eol = strchr(line, '\n');
    if (eol) {
        *eol = '\0';
        *p = eol + 1;
    } else {
        *p = line + strlen(line);
    }
    return line;
}

/* Folders of other users (Shared/...) and announcement folders are not the
 * user's own: their ACLs belong to their owners. */
static int own_folder(const char *folder)
{
    static const char *const not_own[] = {"Shared", "Public"};
    for (size_t i = 0; i < sizeof not_own / sizeof not_own[0]; i++) {
        size_t len = strlen(not_own[i]);
        if (strncmp(folder, not_own[i], len) == 0 && (folder[len] == '\0' || folder[len] == '/'))
            return 0;
    }
    return folder[0] != '\0';
}

static void add_entry(struct move_acls *a, const char *folder, const char *id, const char *rights)
{
    a->v = xrealloc(a->v, (a->n + 1) * sizeof *a->v);
    a->v[a->n++] = (struct move_acl_entry){xstrdup(folder), xstrdup(id), xstrdup(rights)};
}

int move_acl_collect(const char *state_dir, const struct site_host *store, const char *address,
                     struct move_acls *out, buf *err)
{
    memset(out, 0, sizeof *out);
    const char *list[] = {"mailbox", "list", "-u", address, NULL};
    buf folders = BUF_INIT;
    int rc = doveadm_ok(state_dir, store, "listing the folders", list, &folders, err);
    char *p = folders.data ? folders.data : (char *)"";
    for (char *folder; rc == 0 && (folder = next_line(&p)) != NULL;) {
        if (!own_folder(folder))
            continue;
        /* "id<TAB>global<TAB>rights", after a header line */
        const char *get[] = {"-f", "tab", "acl", "get", "-u", address, folder, NULL};
        buf text = BUF_INIT;
        rc = doveadm_ok(state_dir, store, "reading an ACL", get, &text, err);
        char *q = text.data ? text.data : (char *)"";
        int header = 1;
        for (char *line; rc == 0 && (line = next_line(&q)) != NULL;) {
            char *global = strchr(line, '\t');
            char *rights = global ? strchr(global + 1, '\t') : NULL;
            if (header || rights == NULL) {     /* the header, or a warning of doveadm's */
                header = 0;
                continue;
            }
            *global++ = '\0';
            *rights++ = '\0';
            /* Global ACLs come from the site's configuration, not the user's mailbox. */
            if (global[0] != '\0' && strcmp(global, "0") != 0)
                continue;
            add_entry(out, folder, line, rights);
        }
        buf_free(&text);
    }
    buf_free(&folders);
    if (rc != 0)
        move_acls_free(out);
    return rc;
}

void move_acls_free(struct move_acls *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].folder);
        free(a->v[i].id);
        free(a->v[i].rights);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

/* Whether user is on another pair than `to`, with where it is in where:
 * "pair P", or why it is not known. A user the directory does not answer
 * for (removed, or the directory failing) counts as parted: fail closed;
 * --split-shares goes past it. */
static int parted(struct directory *d, const char *user, const char *to, buf *where)
{
    struct directory_user u = {0};
    buf err = BUF_INIT;
    int rc = directory_user_get(d, user, &u, &err), out = 1;
    if (rc == 0) {
        const char *pair = u.mail_host ? u.mail_host : "";
        out = strcmp(pair, to) != 0;
        buf_printf(where, "pair %s", pair[0] ? pair : "(default)");
    } else {
        buf_printf(where, "not found in the directory: %s", buf_cstr(&err));
    }
    directory_user_clear(&u);
    buf_free(&err);
    return out;
}

/* The file dictionary of store (templates/dovecot-store/shared-folders.conf). */
static char *shared_dict(const struct site *site, const char *state_dir, const struct site_host *store, buf *err)
{
    struct render_context ctx = {0};
    char *uri = NULL;
    if (render_context_for_host(site, store, state_dir, &ctx, err) == 0)
        uri = xasprintf("file:%s/shared/shared-mailboxes.db", render_context_get(&ctx, "data_dir"));
    render_context_free(&ctx);
    return uri;
}

/* The keys below prefix in store's dictionary, one a line in keys. */
static int dict_keys(const struct site *site, const char *state_dir, const struct site_host *store,
                     const char *prefix, buf *keys, buf *err)
{
    char *uri = shared_dict(site, state_dir, store, err);
    if (uri == NULL)
        return -1;
    const char *iter[] = {"-f", "tab", "dict", "iter", "-R", uri, prefix, NULL};
    buf text = BUF_INIT;
    int rc = doveadm_ok(state_dir, store, "reading the shared-mailbox dictionary", iter, &text, err);
    char *p = text.data ? text.data : (char *)"";
    int header = 1;
    for (char *line; rc == 0 && (line = next_line(&p)) != NULL;) {
        char *tab = strchr(line, '\t');
        if (header || tab == NULL || strncmp(line, prefix, strlen(prefix)) != 0) {
            header = 0;
            continue;
        }
        buf_printf(keys, "%.*s\n", (int)(tab - line), line);
    }
    buf_free(&text);
    free(uri);
    return rc;
}

int move_acl_crossing(const struct site *site, const char *state_dir, const struct site_host *store,
                      struct directory *d, const char *address, const char *to, const struct move_acls *acls,
                      buf *out, buf *err)
{
    int n = 0;
    for (size_t i = 0; i < acls->n; i++) {
        const char *id = acls->v[i].id;
        buf where = BUF_INIT;
        if (strncmp(id, "user=", 5) == 0 && strcmp(id + 5, address) != 0 && parted(d, id + 5, to, &where)) {
            buf_printf(out, "shares %s with %s (%s)\n", acls->v[i].folder, id + 5, buf_cstr(&where));
            n++;
        }
        buf_free(&where);
    }
    char *prefix = xasprintf(SHARED_BOXES "user/%s/", address);
    buf keys = BUF_INIT;
    int rc = dict_keys(site, state_dir, store, prefix, &keys, err);
    char *p = keys.data ? keys.data : (char *)"";
    for (char *key; rc == 0 && (key = next_line(&p)) != NULL;) {
        const char *owner = key + strlen(prefix);
        buf where = BUF_INIT;
        if (parted(d, owner, to, &where)) {
            buf_printf(out, "reads the shares of %s (%s)\n", owner, buf_cstr(&where));
            n++;
        }
        buf_free(&where);
    }
    buf_free(&keys);
    free(prefix);
    return rc == 0 ? n : -1;
}

int move_acl_apply(const char *state_dir, const struct site_host *store, const char *address,
                   const struct move_acls *acls, buf *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < acls->n; i++) {
        const struct move_acl_entry *e = &acls->v[i];
        /* rights: doveadm acl get's names, one argument each for acl set */
        char *rights = xstrdup(e->rights);
        const char *args[64] = {"acl", "set", "-u", address, e->folder, e->id};
        size_t n = 6;
        char *save = NULL;
        for (char *r = strtok_r(rights, " ", &save); r && n < sizeof args / sizeof args[0] - 1;
             r = strtok_r(NULL, " ", &save))
            args[n++] = r;
        args[n] = NULL;
        if (n > 6)      /* an entry without rights is nothing to set */
            rc = doveadm_ok(state_dir, store, "setting an ACL", args, NULL, err);
        free(rights);
    }
    const char *recalc[] = {"acl", "recalc", "-u", address, NULL};
    if (rc == 0 && acls->n)
        rc = doveadm_ok(state_dir, store, "recalculating the shared-mailbox dictionary", recalc, NULL, err);
    return rc;
}

int move_acl_forget_owner(const struct site *site, const char *state_dir, const struct site_host *store,
                          const char *address, buf *err)
{
    buf keys = BUF_INIT;
    int rc = dict_keys(site, state_dir, store, SHARED_BOXES, &keys, err);
    char *uri = rc == 0 ? shared_dict(site, state_dir, store, err) : NULL;
    if (rc == 0 && uri == NULL)
        rc = -1;
    /* doveadm dict runs as root and the file dictionary is rewritten
     * through a new file: vmail's ownership is given back after. */
    struct stat before;
    const char *path = uri ? uri + strlen("file:") : NULL;
    int had = path && stat(path, &before) == 0;
    int changed = 0;
    size_t alen = strlen(address);
    char *p = keys.data ? keys.data : (char *)"";
    for (char *key; rc == 0 && (key = next_line(&p)) != NULL;) {
        size_t klen = strlen(key);
        /* the owner is the key's last component */
        if (klen <= alen || key[klen - alen - 1] != '/' || strcmp(key + klen - alen, address) != 0)
            continue;
        const char *unset[] = {"dict", "unset", uri, key, NULL};
        rc = doveadm_ok(state_dir, store, "updating the shared-mailbox dictionary", unset, NULL, err);
        changed = 1;
    }
    struct stat after;
    if (changed && had && stat(path, &after) == 0 && (after.st_uid != before.st_uid || after.st_gid != before.st_gid
                                                        || (after.st_mode & 07777) != (before.st_mode & 07777))) {
        if (chown(path, before.st_uid, before.st_gid) != 0 || chmod(path, before.st_mode & 07777) != 0) {
            buf_printf(err, "%s: cannot give its owner back", path);
            rc = -1;
        }
    }
    free(uri);
    buf_free(&keys);
    return rc;
}
