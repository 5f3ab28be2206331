/* cmd_share: shared folders and announcement folders; see cmd_share.h. */
#include "cmd_share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl_rights.h"
#include "address.h"
#include "buf.h"
#include "clock.h"
#include "directory.h"
#include "directory_export.h"
#include "fabric.h"
#include "password.h"
#include "render.h"
#include "site.h"
#include "store_pairs.h"

/* ---- rights ---------------------------------------------------------------- */

/* Announcement folders: everyone reads, writers post and tidy up. */
#define PUBLIC_READER_RIGHTS "lrs"
#define PUBLIC_WRITER_RIGHTS "lrswipte"

/* ---- what the command works on ---------------------------------------------- */

struct share_target {
    const char *command;            /* "share" or "public", for messages */
    struct site site;
    const char *state_dir;
    struct directory *d;
    char *ldap_uri;                 /* the directory's, for the relays' tables */
    /* public only. Site of several hosts: the one store pair and the
     * announcement folders' owner account (public-folders@PRIMARY); a
     * one-host site: "" and NULL (DATA/public has no owner). */
    const char *public_pair;
    char *public_owner;
};

static int target_open(const struct options *o, const char *command, struct share_target *t)
{
    memset(t, 0, sizeof *t);
    t->command = command;
    t->state_dir = o->state_dir;
    if (cli_load_site(o, &t->site, 1) != 0)
        return -1;
    buf err = BUF_INIT;
    struct render_context ctx = {0};
    const struct site_host *dir_host = site_host_with_role(&t->site, ROLE_DIRECTORY);
    int rc = render_context_for_host(&t->site, dir_host, o->state_dir, &ctx, &err);
    if (rc == 0) {
        t->ldap_uri = xstrdup(render_context_get(&ctx, "ldap_uri"));
        rc = directory_open(&t->d, t->ldap_uri, t->site.ldap_base, &err);
    }
    if (rc != 0)
        cli_fail(command, &err);
    render_context_free(&ctx);
    buf_free(&err);
    if (rc != 0) {
        site_free(&t->site);
        free(t->ldap_uri);
        t->d = NULL;
    }
    return rc;
}

static void target_close(struct share_target *t)
{
    free(t->public_owner);
    directory_close(t->d);
    free(t->ldap_uri);
    site_free(&t->site);
}

static int fail_msg(const struct share_target *t, const char *sub, const char *msg)
{
    fprintf(stderr, "emailng: %s %s: %s\n", t->command, sub, msg);
    return EXIT_FAILED;
}

/* An existing user's normalised address and store pair ("" = the site's
 * one pair). */
static int user_lookup(const struct share_target *t, const char *sub, const char *input, buf *address, buf *pair)
{
    buf err = BUF_INIT;
    struct directory_user u = {0};
    int rc = address_normalize(input, t->site.domains[0], address, &err);
    if (rc == 0)
        rc = directory_user_get(t->d, buf_cstr(address), &u, &err);
    if (rc == 0 && pair)
        buf_append_str(pair, u.mail_host ? u.mail_host : "");
    if (rc != 0)
        fail_msg(t, sub, buf_cstr(&err));
    directory_user_clear(&u);
    buf_free(&err);
    return rc;
}

static int folder_check(const struct share_target *t, const char *sub, const char *folder, int is_public)
{
    buf err = BUF_INIT;
    int rc = acl_folder_check(folder, !is_public, &err);
    if (rc != 0) {
        char *q = cli_quoted(folder);
        fprintf(stderr, "emailng: %s %s: folder %s: %s\n", t->command, sub, q, buf_cstr(&err));
        free(q);
    }
    buf_free(&err);
    return rc;
}

/* ---- doveadm on the stores ------------------------------------------------- */

static int store_holds_pair(const struct site_host *h, const char *pair)
{
    if (!(h->roles & ROLE_STORE))
        return 0;
    return pair[0] == '\0' || h->store_pair == NULL || strcmp(h->store_pair, pair) == 0;
}

/* doveadm -c HOST's dovecot.conf ARGS... on host h; output in out. */
static int doveadm_on(const struct share_target *t, const struct site_host *h, const char *const *args, buf *out,
                      buf *err)
{
    buf run_err = BUF_INIT;
    int status = fabric_doveadm(t->state_dir, h->name, args, out, &run_err);
    if (status != 0) {
        buf_printf(err, "%s: doveadm %s %s failed: %s", h->name, args[0], args[1] ? args[1] : "",
                   status < 0 ? buf_cstr(&run_err) : buf_cstr(out));
        while (err->len && (err->data[err->len - 1] == '\n'))
            err->data[--err->len] = '\0';
    }
    buf_free(&run_err);
    return status == 0 ? 0 : -1;
}

/* args on every store of pair; each failure printed, -1 if any failed or
 * no store holds the pair. */
static int doveadm_on_pair(const struct share_target *t, const char *sub, const char *pair,
                           const char *const *args)
{
    int rc = 0, any = 0;
    for (size_t i = 0; i < t->site.n_hosts; i++) {
        const struct site_host *h = &t->site.hosts[i];
        if (!store_holds_pair(h, pair))
            continue;
        any = 1;
        buf out = BUF_INIT, err = BUF_INIT;
        if (doveadm_on(t, h, args, &out, &err) != 0) {
            fail_msg(t, sub, buf_cstr(&err));
            rc = -1;
        }
        buf_free(&out);
        buf_free(&err);
    }
    if (!any) {
        buf m = BUF_INIT;
        buf_printf(&m, "no store holds pair %s", pair);
        fail_msg(t, sub, buf_cstr(&m));
        buf_free(&m);
        return -1;
    }
    return rc;
}

/* output of args from the first store of pair that answers. */
static int doveadm_first_of_pair(const struct share_target *t, const char *sub, const char *pair,
                                 const char *const *args, buf *out)
{
    buf err = BUF_INIT;
    int rc = -1;
    for (size_t i = 0; rc != 0 && i < t->site.n_hosts; i++) {
        if (!store_holds_pair(&t->site.hosts[i], pair))
            continue;
        buf_reset(out);
        if (err.len)
            buf_append_str(&err, "; ");
        rc = doveadm_on(t, &t->site.hosts[i], args, out, &err);
    }
    if (rc != 0)
        fail_msg(t, sub, err.len ? buf_cstr(&err) : "no store answered");
    buf_free(&err);
    return rc;
}

/* How long a share waits for a new folder to reach the partner store. */
#define FOLDER_REPLICATION_WAIT_MS 30000

/* A folder the owner has just made may not be on the partner store yet
 * (replication is asynchronous), and an ACL set on one store only would
 * share it on one side of the pair. Waits until the folder is on every
 * store of the pair, asking the replicator to hurry once; fails, having
 * changed nothing, when it is on no store, when a store fails otherwise,
 * or when replication does not bring it within the wait. */
static int folder_on_every_store(const struct share_target *t, const char *sub, const char *pair,
                                 const char *owner, const char *folder)
{
    const char *status_args[] = {"mailbox", "status", "-u", owner, "messages", folder, NULL};
    const char *hurry_args[] = {"replicator", "replicate", "-p", "high", owner, NULL};
    long long deadline = clock_ms() + FOLDER_REPLICATION_WAIT_MS;
    int hurried = 0;
    for (;;) {
        size_t present = 0, absent = 0;
        const char *missing_on = NULL;
        for (size_t i = 0; i < t->site.n_hosts; i++) {
            const struct site_host *h = &t->site.hosts[i];
            if (!store_holds_pair(h, pair))
                continue;
            buf out = BUF_INIT, err = BUF_INIT;
            int rc = doveadm_on(t, h, status_args, &out, &err);
            if (rc == 0) {
                present++;
            } else if (strstr(buf_cstr(&err), "doesn't exist")) {
                absent++;
                missing_on = h->name;
            } else {
                fail_msg(t, sub, buf_cstr(&err));
                buf_free(&out);
                buf_free(&err);
                return -1;
            }
            buf_free(&out);
            buf_free(&err);
        }
        if (absent == 0)
            return present ? 0 : fail_msg(t, sub, "no store holds the owner's pair");
        buf msg = BUF_INIT;
        char *q = cli_quoted(folder);
        if (present == 0)
            buf_printf(&msg, "%s has no folder %s", owner, q);
        else if (clock_ms() >= deadline)
            buf_printf(&msg, "folder %s of %s is not yet on %s after %d s: replication is behind (see emailng "
                             "status); nothing changed", q, owner, missing_on, FOLDER_REPLICATION_WAIT_MS / 1000);
        free(q);
        if (msg.len) {
            fail_msg(t, sub, buf_cstr(&msg));
            buf_free(&msg);
            return -1;
        }
        buf_free(&msg);
        if (!hurried) {
            /* on the stores of the pair; a store without the replicator
             * (one store) just says no, and the wait goes on. */
            for (size_t i = 0; i < t->site.n_hosts; i++) {
                buf out = BUF_INIT, err = BUF_INIT;
                if (store_holds_pair(&t->site.hosts[i], pair))
                    (void)doveadm_on(t, &t->site.hosts[i], hurry_args, &out, &err);
                buf_free(&out);
                buf_free(&err);
            }
            hurried = 1;
        }
        struct timespec pause = {0, 250 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* doveadm acl set -u OWNER FOLDER ID RIGHT... (replaces ID's rights), or
 * delete when names is NULL, then recalc of the shared-mailbox
 * dictionary; on every store of the pair. */
static int acl_change(const struct share_target *t, const char *sub, const char *pair, const char *owner,
                      const char *folder, const char *id, const char *const *names, size_t n_names)
{
    const char **args = calloc(n_names + 8, sizeof *args);
    if (args == NULL)
        return fail_msg(t, sub, "out of memory");
    size_t n = 0;
    args[n++] = "acl";
    args[n++] = names ? "set" : "delete";
    args[n++] = "-u";
    args[n++] = owner;
    args[n++] = folder;
    args[n++] = id;
    for (size_t i = 0; names && i < n_names; i++)
        args[n++] = names[i];
    int rc = doveadm_on_pair(t, sub, pair, args);
    free(args);
    const char *recalc[] = {"acl", "recalc", "-u", owner, NULL};
    if (rc == 0)
        rc = doveadm_on_pair(t, sub, pair, recalc);
    return rc;
}

/* "FOLDER<TAB>ID<TAB>RIGHTS" lines of a folder's ACL (doveadm -f tab acl
 * get: a header line, then id, global, rights). */
static int acl_print(const struct share_target *t, const char *sub, const char *pair, const char *user,
                     const char *folder, const char *shown_as)
{
    const char *args[] = {"-f", "tab", "acl", "get", "-u", user, folder, NULL};
    buf out = BUF_INIT;
    int rc = doveadm_first_of_pair(t, sub, pair, args, &out);
    char *save = NULL;
    int header = 1;
    for (char *line = rc == 0 ? strtok_r(out.data, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        if (header) {
            header = 0;
            continue;
        }
        char *global = strchr(line, '\t');
        char *rights = global ? strchr(global + 1, '\t') : NULL;
        if (rights == NULL)
            continue;
        *global = '\0';
        printf("%s\t%s\t%s\n", shown_as, line, rights + 1);
    }
    buf_free(&out);
    return rc;
}

/* The folders of user (pattern: doveadm mailbox list's mask, or NULL),
 * one per line in out. */
static int folders_of(const struct share_target *t, const char *sub, const char *pair, const char *user,
                      const char *pattern, int acl_off, buf *out)
{
    const char *args[] = {"-o", "plugin/acl=", "mailbox", "list", "-u", user, pattern, NULL};
    return doveadm_first_of_pair(t, sub, pair, acl_off ? args : args + 2, out);
}

/* ---- share ------------------------------------------------------------------ */

static int share_usage(const char *msg)
{
    fprintf(stderr, "emailng: share: %s\n"
                    "usage: emailng share grant OWNER FOLDER USER [--rights read|write|LETTERS]\n"
                    "       emailng share revoke OWNER FOLDER USER\n"
                    "       emailng share list OWNER [FOLDER]\n"
                    "       emailng share mailbox ADDRESS\n", msg);
    return EXIT_USAGE;
}

/* Owner and reader: both users, different, on the same store pair. */
static int share_parties(const struct share_target *t, const char *sub, const char *owner_in, const char *user_in,
                         buf *owner, buf *user, buf *pair)
{
    buf user_pair = BUF_INIT;
    int rc = user_lookup(t, sub, owner_in, owner, pair);
    if (rc == 0)
        rc = user_lookup(t, sub, user_in, user, &user_pair);
    if (rc == 0 && strcmp(buf_cstr(owner), buf_cstr(user)) == 0)
    {
        fail_msg(t, sub, "owner and user are the same; an owner has every right on their own folders");
        rc = -1;
    }
    if (rc == 0 && strcmp(buf_cstr(pair), buf_cstr(&user_pair)) != 0) {
        fprintf(stderr, "emailng: %s %s: %s is on store pair %s and %s on %s: a folder can be shared only "
                        "between users of the same store pair (move one of them first)\n", t->command, sub,
                buf_cstr(owner), pair->len ? buf_cstr(pair) : "(default)", buf_cstr(user),
                user_pair.len ? buf_cstr(&user_pair) : "(default)");
        rc = -1;
    }
    buf_free(&user_pair);
    return rc;
}

static int share_grant_or_revoke(struct share_target *t, int grant, int argc, char **argv)
{
    const char *sub = grant ? "grant" : "revoke";
    const char *rights = "read";
    const char *words[3];
    int n_words = 0;
    for (int i = 1; i < argc; i++) {
        if (grant && strcmp(argv[i], "--rights") == 0 && i + 1 < argc)
            rights = argv[++i];
        else if (argv[i][0] == '-' || n_words == 3)
            return share_usage("unexpected argument");
        else
            words[n_words++] = argv[i];
    }
    if (n_words != 3)
        return share_usage("expected OWNER FOLDER USER");
    const char *names[ACL_RIGHTS_MAX];
    size_t n_names = 0;
    buf err = BUF_INIT;
    if (grant && acl_rights_parse(rights, names, &n_names, &err) != 0) {
        fail_msg(t, sub, buf_cstr(&err));
        buf_free(&err);
        return EXIT_USAGE;
    }
    buf_free(&err);
    if (folder_check(t, sub, words[1], 0) != 0)
        return EXIT_USAGE;
    buf owner = BUF_INIT, user = BUF_INIT, pair = BUF_INIT, id = BUF_INIT;
    int rc = share_parties(t, sub, words[0], words[2], &owner, &user, &pair);
    buf_printf(&id, "user=%s", buf_cstr(&user));
    if (rc == 0)
        rc = folder_on_every_store(t, sub, buf_cstr(&pair), buf_cstr(&owner), words[1]);
    if (rc == 0)
        rc = acl_change(t, sub, buf_cstr(&pair), buf_cstr(&owner), words[1], buf_cstr(&id),
                        grant ? names : NULL, n_names);
    if (rc == 0 && grant) {
        printf("%s may now", buf_cstr(&user));
        for (size_t i = 0; i < n_names; i++)
            printf(" %s", names[i]);
        printf(" in %s's %s (seen as Shared/%s/%s)\n", buf_cstr(&owner), words[1], buf_cstr(&owner), words[1]);
    } else if (rc == 0) {
        printf("%s no longer has access to %s's %s\n", buf_cstr(&user), buf_cstr(&owner), words[1]);
    }
    buf_free(&owner);
    buf_free(&user);
    buf_free(&pair);
    buf_free(&id);
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}

static int share_list(struct share_target *t, int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return share_usage("expected OWNER [FOLDER]");
    if (argc == 3 && folder_check(t, "list", argv[2], 0) != 0)
        return EXIT_USAGE;
    buf owner = BUF_INIT, pair = BUF_INIT, folders = BUF_INIT;
    int rc = user_lookup(t, "list", argv[1], &owner, &pair);
    if (rc == 0 && argc == 3)
        buf_append_str(&folders, argv[2]);
    else if (rc == 0)   /* the owner's own folders only: not Shared/ or Public/ */
        rc = folders_of(t, "list", buf_cstr(&pair), buf_cstr(&owner), NULL, 0, &folders);
    if (rc == 0)
        printf("FOLDER\tID\tRIGHTS\n");
    char *save = NULL;
    for (char *f = rc == 0 && folders.len ? strtok_r(folders.data, "\n", &save) : NULL; f;
         f = strtok_r(NULL, "\n", &save)) {
        if (strncmp(f, "Shared/", 7) == 0 || strncmp(f, "Public/", 7) == 0 || strcmp(f, "Shared") == 0
            || strcmp(f, "Public") == 0)
            continue;
        if (acl_print(t, "list", buf_cstr(&pair), buf_cstr(&owner), f, f) != 0)
            rc = -1;
    }
    buf_free(&owner);
    buf_free(&pair);
    buf_free(&folders);
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}

/* A shared mailbox (office@): a user entry whose only service is LMTP
 * delivery, so nobody logs in as it (the passdb filter checks
 * emailngEnabledService) while mail to it is delivered as to anyone. */
static int share_mailbox(struct share_target *t, int argc, char **argv)
{
    if (argc != 2)
        return share_usage("expected ADDRESS");
    buf address = BUF_INIT, err = BUF_INIT;
    static const char *const services[] = {"lmtp"};
    int rc = user_lookup(t, "mailbox", argv[1], &address, NULL);
    if (rc == 0 && directory_user_set_services(t->d, buf_cstr(&address), services, 1, &err) != 0) {
        fail_msg(t, "mailbox", buf_cstr(&err));
        rc = -1;
    }
    /* The relays' tables say who may send: a shared mailbox no longer does. */
    if (rc == 0 && directory_export(&t->site, t->state_dir, t->ldap_uri, &err) != 0) {
        fprintf(stderr, "emailng: share mailbox: the change is made, but %s; run `emailng up` to export it "
                        "again\n", buf_cstr(&err));
        rc = -1;
    }
    if (rc == 0)
        printf("%s is a shared mailbox: mail is delivered to it, nobody logs in as it; "
               "give access with `emailng share grant %s INBOX USER --rights write`\n",
               buf_cstr(&address), buf_cstr(&address));
    buf_free(&address);
    buf_free(&err);
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}

/* ---- public ----------------------------------------------------------------- */

static int public_usage(const char *msg)
{
    fprintf(stderr, "emailng: public: %s\n"
                    "usage: emailng public create FOLDER WRITER [WRITER...]\n"
                    "       emailng public grant FOLDER WRITER\n"
                    "       emailng public revoke FOLDER WRITER\n"
                    "       emailng public list [FOLDER]\n", msg);
    return EXIT_USAGE;
}

/* Set writer's rights (or remove them: names NULL) on Public/FOLDER. */
static int public_writer(struct share_target *t, const char *sub, const char *folder, const char *writer_in,
                         int grant)
{
    const char *names[ACL_RIGHTS_MAX];
    size_t n_names = 0;
    buf writer = BUF_INIT, id = BUF_INIT, err = BUF_INIT;
    int rc = acl_rights_parse(PUBLIC_WRITER_RIGHTS, names, &n_names, &err);
    if (rc == 0)
        rc = user_lookup(t, sub, writer_in, &writer, NULL);
    buf_printf(&id, "user=%s", buf_cstr(&writer));
    char *mailbox = xasprintf("Public/%s", folder);
    if (rc == 0)
        rc = acl_change(t, sub, t->public_pair, buf_cstr(&writer), mailbox, buf_cstr(&id), grant ? names : NULL,
                        n_names);
    if (rc == 0)
        printf(grant ? "%s may post to %s\n" : "%s may no longer post to %s\n", buf_cstr(&writer), mailbox);
    free(mailbox);
    buf_free(&writer);
    buf_free(&id);
    buf_free(&err);
    return rc;
}

/* Site of several hosts: the owner account of the announcement folders
 * exists (made here the first time: a random password nobody knows, LMTP
 * only, so nobody logs in as it, on the site's one store pair). */
static int public_owner_ensure(struct share_target *t)
{
    struct directory_user u = {0};
    buf err = BUF_INIT, password = BUF_INIT, hash = BUF_INIT;
    int rc = 0;
    if (directory_user_get(t->d, t->public_owner, &u, &err) == 0) {
        directory_user_clear(&u);
    } else {
        buf_reset(&err);
        static const char *const lmtp_only[] = {"lmtp"};
        if (password_generate(&password) != 0) {
            buf_append_str(&err, "no randomness for the owner account's password");
            rc = -1;
        }
        if (rc == 0)
            rc = password_hash(buf_cstr(&password), &hash, &err);
        if (rc == 0)
            rc = directory_user_add(t->d, t->public_owner, buf_cstr(&hash), 0, t->public_pair, &err);
        if (rc == 0)
            rc = directory_user_set_services(t->d, t->public_owner, lmtp_only, 1, &err);
        if (rc == 0)
            printf("%s: the owner account of the announcement folders (nobody logs in as it)\n", t->public_owner);
    }
    if (rc != 0)
        fail_msg(t, "create", buf_cstr(&err));
    password_wipe(&password);
    buf_free(&hash);
    buf_free(&err);
    return rc;
}

/* Site of several hosts: FOLDER made in the owner's own mailbox on the
 * pair's first store and synced to its partner by the owner's dsync before
 * its ACL is set on both (made on each store apart, the two would be two
 * mailboxes of the same name that replication would have to tell apart). */
static int public_folder_make(struct share_target *t, const char *folder)
{
    const struct site_host *first = store_pairs_first_store(&t->site, t->public_pair);
    const char *create[] = {"mailbox", "create", "-u", t->public_owner, folder, NULL};
    const char *sync[] = {"sync", "-u", t->public_owner, "-d", "-l", "30", "-U", "-T", "30", NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int rc = first ? doveadm_on(t, first, create, &out, &err) : -1;
    if (rc == 0)
        rc = doveadm_on(t, first, sync, &out, &err);
    if (rc != 0)
        fail_msg(t, "create", first ? buf_cstr(&err) : "no store holds the pair");
    buf_free(&out);
    buf_free(&err);
    return rc;
}

static int public_create(struct share_target *t, int argc, char **argv)
{
    if (argc < 3)
        return public_usage("expected FOLDER WRITER [WRITER...]");
    if (folder_check(t, "create", argv[1], 1) != 0)
        return EXIT_USAGE;
    buf first = BUF_INIT, err = BUF_INIT;
    const char *names[ACL_RIGHTS_MAX];
    size_t n_names = 0;
    char *mailbox = xasprintf("Public/%s", argv[1]);
    int rc = user_lookup(t, "create", argv[2], &first, NULL);
    if (rc == 0)
        rc = acl_rights_parse(PUBLIC_READER_RIGHTS, names, &n_names, &err);
    /* One host: the folder has no owner who could create it under the
     * ACLs: it is made with the ACL plugin off for this one doveadm run.
     * Several: it is a folder of the owner account. The ACLs are set by
     * a writer through Public/ either way: a `doveadm acl` run as the
     * owner would put its "anyone" right in the shared-mailbox dictionary,
     * and every user would see the folder a second time under Shared/
     * (for the owner's other sessions, its replication, the stores'
     * userdb gives it a dictionary of its own). */
    const char *create[] = {"-o", "plugin/acl=", "mailbox", "create", "-u", buf_cstr(&first), mailbox, NULL};
    if (rc == 0 && t->public_owner)
        rc = public_owner_ensure(t);
    if (rc == 0)
        rc = t->public_owner ? public_folder_make(t, argv[1]) : doveadm_on_pair(t, "create", "", create);
    if (rc == 0)
        rc = acl_change(t, "create", t->public_pair, buf_cstr(&first), mailbox, "anyone", names, n_names);
    for (int i = 2; rc == 0 && i < argc; i++)
        rc = public_writer(t, "create", argv[1], argv[i], 1);
    if (rc == 0)
        printf("%s: readable by everyone\n", mailbox);
    free(mailbox);
    buf_free(&first);
    buf_free(&err);
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}

/* Some user for doveadm -u: the public namespace looks the same to all. */
static int any_user(struct share_target *t, buf *user)
{
    struct directory_user *users = NULL;
    size_t n = 0;
    buf err = BUF_INIT;
    int rc = directory_user_list(t->d, &users, &n, &err);
    /* Not the owner account (see public_create), and one with a mailbox on
     * the pair (not the health monitor's probe account). */
    for (size_t i = 0; rc == 0 && i < n && user->len == 0; i++)
        if (directory_status_is_active(users[i].status)
            && (t->public_owner == NULL
                || (strcmp(users[i].mail, t->public_owner) != 0 && users[i].mail_host
                    && strcmp(users[i].mail_host, t->public_pair) == 0)))
            buf_append_str(user, users[i].mail);
    if (rc != 0)
        fail_msg(t, "list", buf_cstr(&err));
    else if (user->len == 0) {
        fail_msg(t, "list", "the directory has no active user");
        rc = -1;
    }
    directory_user_list_free(users, n);
    buf_free(&err);
    return rc;
}

static int public_list(struct share_target *t, int argc, char **argv)
{
    if (argc > 2)
        return public_usage("expected [FOLDER]");
    if (argc == 2 && folder_check(t, "list", argv[1], 1) != 0)
        return EXIT_USAGE;
    buf user = BUF_INIT, folders = BUF_INIT;
    int rc = any_user(t, &user);
    if (rc == 0 && argc == 2)
        buf_printf(&folders, "Public/%s", argv[1]);
    else if (rc == 0)
        rc = folders_of(t, "list", t->public_pair, buf_cstr(&user), "Public/*", 1, &folders);
    if (rc == 0)
        printf("FOLDER\tID\tRIGHTS\n");
    char *save = NULL;
    for (char *f = rc == 0 && folders.len ? strtok_r(folders.data, "\n", &save) : NULL; f;
         f = strtok_r(NULL, "\n", &save))
        if (acl_print(t, "list", t->public_pair, buf_cstr(&user), f, f + strlen("Public/")) != 0)
            rc = -1;
    buf_free(&user);
    buf_free(&folders);
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}

/* ---- dispatch --------------------------------------------------------------- */

struct action {
    const char *name;
    int (*run)(struct share_target *t, int argc, char **argv);
};

static int run_share_grant(struct share_target *t, int argc, char **argv)
{
    return share_grant_or_revoke(t, 1, argc, argv);
}

static int run_share_revoke(struct share_target *t, int argc, char **argv)
{
    return share_grant_or_revoke(t, 0, argc, argv);
}

static int run_public_grant_or_revoke(struct share_target *t, int argc, char **argv)
{
    int grant = strcmp(argv[0], "grant") == 0;
    if (argc != 3)
        return public_usage("expected FOLDER WRITER");
    if (folder_check(t, argv[0], argv[1], 1) != 0)
        return EXIT_USAGE;
    return public_writer(t, argv[0], argv[1], argv[2], grant) == 0 ? EXIT_DONE : EXIT_FAILED;
}

static const struct action share_actions[] = {
    {"grant", run_share_grant},
    {"revoke", run_share_revoke},
    {"list", share_list},
    {"mailbox", share_mailbox},
    {NULL, NULL},
};

static const struct action public_actions[] = {
    {"create", public_create},
    {"grant", run_public_grant_or_revoke},
    {"revoke", run_public_grant_or_revoke},
    {"list", public_list},
    {NULL, NULL},
};

static int dispatch(const struct options *o, const char *command, const struct action *actions,
                    int (*usage)(const char *), int argc, char **argv)
{
    const struct action *a = NULL;
    for (const struct action *p = actions; argc >= 1 && p->name; p++)
        if (strcmp(p->name, argv[0]) == 0)
            a = p;
    if (a == NULL)
        return usage(argc < 1 ? "which action?" : "unknown action");
    struct share_target t;
    if (target_open(o, command, &t) != 0)
        return EXIT_FAILED;
    int rc = EXIT_DONE;
    const char **pairs = NULL;
    t.public_pair = "";
    if (actions == public_actions && t.site.n_hosts > 1) {
        /* Every reader must be on the owner's pair: one pair only. */
        if (store_pairs_list(&t.site, &pairs) != 1) {
            fprintf(stderr, "emailng: public: announcement folders exist on a site of one store pair only: "
                            "they are the folders of one owner account, and only the users of its pair "
                            "could read them\n");
            rc = EXIT_FAILED;
        } else {
            t.public_pair = pairs[0];
            t.public_owner = xasprintf("%s@%s", ACL_PUBLIC_OWNER_LOCALPART, t.site.domains[0]);
        }
    }
    if (rc == EXIT_DONE)
        rc = a->run(&t, argc, argv);
    free(pairs);
    target_close(&t);
    return rc;
}

int cmd_share_run(const struct options *o, int argc, char **argv)
{
    return dispatch(o, "share", share_actions, share_usage, argc, argv);
}

int cmd_public_run(const struct options *o, int argc, char **argv)
{
    return dispatch(o, "public", public_actions, public_usage, argc, argv);
}
