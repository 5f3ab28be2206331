/* cmd_user: user and alias administration commands; see cmd_user.h. */
#include "cmd_user.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "alias_rules.h"
#include "auth_cache.h"
#include "buf.h"
#include "cli.h"
#include "cmd_quota_list.h"
#include "cmd_spam.h"
#include "commands.h"
#include "directory.h"
#include "directory_export.h"
#include "mailbox_lifecycle.h"
#include "store_mailbox.h"
#include "password.h"
#include "render.h"
#include "user_move.h"
#include "user_pairs.h"

/* What one invocation is about, for messages. */
struct invocation {
    const char *command;        /* "user" or "alias" */
    const struct subcommand_help *sub;
    const struct directory_target *target;
};

static int fail(const struct invocation *inv, buf *err)
{
    fprintf(stderr, "emailng: %s %s: %s\n", inv->command, inv->sub->name,
            buf_cstr(err));
    return 1;
}

static int usage_error(const struct invocation *inv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct invocation *inv, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "emailng: %s %s: ", inv->command, inv->sub->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: emailng %s %s%s%s\n", inv->command,
            inv->sub->name, inv->sub->usage[0] ? " " : "", inv->sub->usage);
    return 2;
}

static int list_usage(const char *command, const struct subcommand_help *subs,
                      const char *problem, const char *word)
{
    if (word) {
        char *w = cli_quoted(word);
        fprintf(stderr, "emailng: %s: %s %s\n", command, problem, w);
        free(w);
    } else
        fprintf(stderr, "emailng: %s: %s\n", command, problem);
    fputs("usage:\n", stderr);
    for (const struct subcommand_help *s = subs; s->name; s++)
        fprintf(stderr, "  emailng %s %s%s%s\n", command, s->name,
                s->usage[0] ? " " : "", s->usage);
    return 2;
}

/* Options and positional words of one subcommand. */
struct arguments {
    const char *words[3];       /* the first positional words */
    int n_words;                /* all of them, may exceed 3 */
    char **rest;                /* positional words from the first on */
    const char *quota;
    const char *pair;           /* user add --pair NAME */
    int password_stdin;
    int purge;
};

/* Parse argv[1..] allowing --quota and --pair (when allow_quota: user
 * add), --password-stdin (when allow_stdin) and --purge (allow_purge);
 * "--" ends the options. */
static int parse_arguments(const struct invocation *inv, int argc, char **argv,
                           int allow_quota, int allow_stdin, int allow_purge,
                           struct arguments *a, char **positional)
{
    int options_done = 0;
    memset(a, 0, sizeof *a);
    a->rest = positional;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (!options_done && allow_stdin
                   && strcmp(arg, "--password-stdin") == 0) {
            a->password_stdin = 1;
        } else if (!options_done && allow_purge
                   && strcmp(arg, "--purge") == 0) {
            a->purge = 1;
        } else if (!options_done && allow_quota
                   && strcmp(arg, "--quota") == 0) {
            if (i + 1 >= argc)
                return usage_error(inv, "--quota needs a size");
            a->quota = argv[++i];
        } else if (!options_done && allow_quota
                   && strncmp(arg, "--quota=", 8) == 0) {
            a->quota = arg + 8;
        } else if (!options_done && allow_quota
                   && strcmp(arg, "--pair") == 0) {
            if (i + 1 >= argc)
                return usage_error(inv, "--pair needs a store pair's name");
            a->pair = argv[++i];
        } else if (!options_done && allow_quota
                   && strncmp(arg, "--pair=", 7) == 0) {
            a->pair = arg + 7;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            char *w = cli_quoted(arg);
            int rc = usage_error(inv, "unknown option %s", w);
            free(w);
            return rc;
        } else {
            if (a->n_words < 3)
                a->words[a->n_words] = arg;
            positional[a->n_words++] = argv[i];
        }
    }
    return 0;
}

static int normalize(const struct invocation *inv, const char *input,
                     buf *out)
{
    buf err = BUF_INIT;
    int rc = address_normalize(input, inv->target->primary_domain, out, &err);
    if (rc < 0)
        fail(inv, &err);
    buf_free(&err);
    return rc;
}

/* A user or alias of a domain the site does not serve could log in but
 * would never receive mail: refuse it. */
static int require_served_domain(const struct invocation *inv, const char *address)
{
    const struct site *site = inv->target->site;
    if (alias_rules_domain_served(address, (const char *const *)site->domains, site->n_domains))
        return 0;
    buf err = BUF_INIT;
    buf_printf(&err, "%s is not in a domain this site serves (", address);
    for (size_t i = 0; i < site->n_domains; i++)
        buf_printf(&err, "%s%s", i ? ", " : "", site->domains[i]);
    buf_append_str(&err, "; the site file's domains)");
    fail(inv, &err);
    buf_free(&err);
    return 1;
}

/* "default", or a size other than 0; 0 on success, 1 or 2 on error. */
static int parse_quota(const struct invocation *inv, const char *text,
                       unsigned long long *bytes)
{
    if (strcmp(text, "default") == 0) {
        *bytes = 0;
        return 0;
    }
    buf err = BUF_INIT;
    int rc = 0;
    if (size_parse(text, bytes, &err) < 0) {
        rc = fail(inv, &err);
    } else if (*bytes == 0) {
        buf_reset(&err);
        buf_append_str(&err, "a quota of 0 is not allowed; give a size "
                             "such as 500M, or \"default\" for the site "
                             "default");
        rc = fail(inv, &err);
    } else if (quota_size_check(*bytes, &err) != 0) {
        rc = fail(inv, &err);
    }
    buf_free(&err);
    return rc;
}

static struct directory *open_directory(const struct invocation *inv)
{
    struct directory *d = NULL;
    buf err = BUF_INIT;
    if (directory_open(&d, inv->target->ldap_uri, inv->target->base, &err) < 0)
        fail(inv, &err);
    buf_free(&err);
    return d;
}

static void format_quota(buf *out, unsigned long long bytes)
{
    if (bytes == 0)
        buf_append_str(out, "default");
    else
        size_format(bytes, out);
}

/* Read (stdin or terminal) and hash a new password for address. */
static int new_password_hash(const struct invocation *inv, const char *address,
                             int from_stdin, buf *hash)
{
    buf plain = BUF_INIT, err = BUF_INIT, prompt = BUF_INIT;
    buf_printf(&prompt, "New password for %s: ", address);
    int rc = password_read(buf_cstr(&prompt), from_stdin, &plain, &err);
    if (rc == 0)
        rc = password_hash(buf_cstr(&plain), hash, &err);
    if (rc < 0)
        fail(inv, &err);
    password_wipe(&plain);
    buf_free(&err);
    buf_free(&prompt);
    return rc;
}

/* ---- user -------------------------------------------------------------- */

/* Report lines, indented under the command's own line. */
static void print_report(buf *report)
{
    const char *p = buf_cstr(report);
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        printf("  %.*s\n", (int)n, p);
        p += n + (end != NULL);
    }
}

static int user_add(const struct invocation *inv, struct directory *d,
                    const char *address, unsigned long long quota,
                    const char *requested_pair, int from_stdin)
{
    buf hash = BUF_INIT, err = BUF_INIT, shown = BUF_INIT, report = BUF_INIT;
    enum directory_address_use use = DIRECTORY_ADDRESS_FREE;
    char *pair = NULL;
    int rc = 1;
    /* The pair first: a wrong --pair is refused before the password is asked. */
    if (user_pair_for_new_user(inv->target->site, d, requested_pair, &pair, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    if (new_password_hash(inv, address, from_stdin, &hash) < 0)
        goto out;
    if (directory_address_use(d, address, &use, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    /* A free address may still have a mailbox on disk (a user deleted by
     * an older emailng, a restore): a new person must not get it. When the
     * address is taken, directory_user_add says so and nothing moves. */
    if (use == DIRECTORY_ADDRESS_FREE
        && mailbox_clear_leftover(inv->target->site, inv->target->state_dir, address, pair, &report, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    if (directory_user_add(d, address, buf_cstr(&hash), quota, pair, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    format_quota(&shown, quota);
    printf("user %s added (quota %s, store pair %s)\n", address, buf_cstr(&shown), pair);
    if (report.len) {
        printf("  an old mailbox of %s was found and put away; the new user starts empty:\n", address);
        print_report(&report);
    }
    buf_reset(&report);
    mailbox_create_folders(inv->target->site, inv->target->state_dir, address, &report);
    print_report(&report);
    rc = 0;
out:
    password_wipe(&hash);
    free(pair);
    buf_free(&err);
    buf_free(&shown);
    buf_free(&report);
    return rc;
}

/* Take address (and the user's other addresses) out of every alias; an
 * alias left with no member is deleted. One line per alias in report. */
static int remove_from_aliases(struct directory *d, const struct directory_user *u, buf *report, buf *err)
{
    struct directory_snapshot snapshot;
    if (directory_snapshot_load(d, &snapshot, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < snapshot.n_aliases; i++) {
        const struct directory_alias *a = &snapshot.aliases[i];
        const char **gone = xcalloc(a->n_destinations + 1, sizeof *gone);
        size_t n_gone = 0;
        for (size_t j = 0; j < a->n_destinations; j++) {
            int hit = strcasecmp(a->destinations[j], u->mail) == 0;
            for (size_t k = 0; !hit && k < u->n_alternate_addresses; k++)
                hit = strcasecmp(a->destinations[j], u->alternate_addresses[k]) == 0;
            if (hit)
                gone[n_gone++] = a->destinations[j];
        }
        int deleted = 0;
        if (n_gone > 0) {
            rc = directory_alias_remove_members(d, a->mail, gone, n_gone, &deleted, err);
            if (rc == 0 && deleted)
                buf_printf(report, "alias %s deleted (%s was its only member)\n", a->mail, u->mail);
            else if (rc == 0)
                buf_printf(report, "removed from alias %s\n", a->mail);
        }
        free(gone);
    }
    directory_snapshot_free(&snapshot);
    return rc;
}

static void print_archive_note(int purge)
{
    if (!purge)
        printf("  the archive is outside every login path; remove it when no longer needed "
               "(`emailng user del --purge` removes the mailbox instead of archiving it)\n");
}

/* user del where a store's data is not on this machine (see user_del). */
static int user_del_remote(const struct invocation *inv, struct directory *d, const struct directory_user *u,
                           int purge)
{
    buf err = BUF_INIT, report = BUF_INIT;
    int rc = 1;
    if (directory_user_set_status(d, u->mail, DIRECTORY_STATUS_DELETING, &err) < 0
        || remove_from_aliases(d, u, &report, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    printf("user %s: status %s (no mail, no login); its mailbox is put away by the stores\n", u->mail,
           DIRECTORY_STATUS_DELETING);
    print_report(&report);
    buf_reset(&report);
    int moved = mailbox_retire(inv->target->site, inv->target->state_dir, u->mail, u->mail_host, purge, &report, &err);
    print_report(&report);
    if (moved < 0) {
        buf_printf(&err, " (the entry of %s stays, status %s: no mail, no login; run `emailng user del %s` "
                   "again when the store answers)", u->mail, DIRECTORY_STATUS_DELETING, u->mail);
        fail(inv, &err);
        goto out;
    }
    if (directory_user_del(d, u->mail, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    printf("user %s deleted\n", u->mail);
    print_archive_note(purge);
    rc = 0;
out:
    buf_free(&err);
    buf_free(&report);
    return rc;
}

static int user_del(const struct invocation *inv, struct directory *d, const char *address, int purge)
{
    struct directory_user u;
    buf err = BUF_INIT, report = BUF_INIT;
    if (directory_user_get(d, address, &u, &err) < 0) {
        fail(inv, &err);
        buf_free(&err);
        return 1;
    }
    int rc = 1;
    /* Stores whose disks are elsewhere (the directory host of a deployed
     * site) put the mailbox away through their doveadm server, which may
     * not answer: the entry stays, no longer active (no mail, no login),
     * until every store has done it, so that `user del` can be run again. */
    if (store_mailbox_any_remote(inv->target->site, inv->target->state_dir, u.mail_host)) {
        rc = user_del_remote(inv, d, &u, purge);
        goto out;
    }
    if (remove_from_aliases(d, &u, &report, &err) < 0 || directory_user_del(d, address, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    printf("user %s deleted\n", address);
    print_report(&report);
    buf_reset(&report);
    /* The entry is gone: nothing logs in or delivers while the mailbox moves. */
    int moved = mailbox_retire(inv->target->site, inv->target->state_dir, address, u.mail_host, purge, &report, &err);
    print_report(&report);
    if (moved < 0) {
        buf_printf(&err, " (the user is deleted; the mailbox is where it was)");
        fail(inv, &err);
        goto out;
    }
    print_archive_note(purge);
    rc = 0;
out:
    directory_user_clear(&u);
    buf_free(&err);
    buf_free(&report);
    return rc;
}

static int user_passwd(const struct invocation *inv, struct directory *d,
                       const char *address, int from_stdin)
{
    buf hash = BUF_INIT, err = BUF_INIT;
    struct directory_user user;
    int rc = 1;
    /* fail before prompting if there is no such user */
    if (directory_user_get(d, address, &user, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    directory_user_clear(&user);
    if (new_password_hash(inv, address, from_stdin, &hash) < 0)
        goto out;
    if (directory_user_set_password(d, address, buf_cstr(&hash), &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    printf("password of %s changed\n", address);
    rc = 0;
out:
    password_wipe(&hash);
    buf_free(&err);
    return rc;
}

static void print_list(const char *key, char **values, size_t n)
{
    printf("%s:", key);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : " ", values[i]);
    printf("%s\n", n ? "" : " none");
}

static int user_show(const struct invocation *inv, struct directory *d,
                     const char *address)
{
    struct directory_user u;
    buf err = BUF_INIT, quota = BUF_INIT;
    if (directory_user_get(d, address, &u, &err) < 0) {
        fail(inv, &err);
        buf_free(&err);
        return 1;
    }
    format_quota(&quota, u.quota_bytes);
    printf("mail: %s\n", u.mail);
    if (u.quota_bytes)
        printf("quota: %s (%llu bytes)\n", buf_cstr(&quota), u.quota_bytes);
    else
        printf("quota: default\n");
    printf("status: %s\n", u.status[0] ? u.status : "(not set)");
    printf("services:");
    for (size_t i = 0; i < u.n_services; i++)
        printf(" %s", u.services[i]);
    printf("%s\n", u.n_services ? "" : " none");
    /* emailngMailHost by the site file's word for it. */
    printf("store_pair: %s\n", u.mail_host[0] ? u.mail_host : "(not set)");
    print_list("alternate_addresses", u.alternate_addresses,
               u.n_alternate_addresses);
    directory_user_clear(&u);
    buf_free(&err);
    buf_free(&quota);
    return 0;
}

/* "ADDRESS QUOTA" lines, or {"users":[{"address","quota_bytes" (null:
 * the site default),"status","mail_host"}]} with --json. */
static int user_list(const struct invocation *inv, struct directory *d)
{
    struct directory_user *users;
    size_t n;
    buf err = BUF_INIT, quota = BUF_INIT, json = BUF_INIT;
    if (directory_user_list(d, &users, &n, &err) < 0) {
        fail(inv, &err);
        buf_free(&err);
        return 1;
    }
    buf_append_str(&json, "{\"users\":[");
    for (size_t i = 0; i < n; i++) {
        buf_reset(&quota);
        format_quota(&quota, users[i].quota_bytes);
        if (!inv->target->json) {
            printf("%s %s\n", users[i].mail, buf_cstr(&quota));
            continue;
        }
        buf_printf(&json, "%s{\"address\":", i ? "," : "");
        cli_json_string(&json, users[i].mail);
        if (users[i].quota_bytes)
            buf_printf(&json, ",\"quota_bytes\":%llu", users[i].quota_bytes);
        else
            buf_append_str(&json, ",\"quota_bytes\":null");
        buf_append_str(&json, ",\"status\":");
        cli_json_string(&json, users[i].status);
        buf_append_str(&json, ",\"mail_host\":");
        cli_json_string(&json, users[i].mail_host);
        buf_append_char(&json, '}');
    }
    buf_append_str(&json, "]}");
    if (inv->target->json)
        puts(buf_cstr(&json));
    directory_user_list_free(users, n);
    buf_free(&err);
    buf_free(&quota);
    buf_free(&json);
    return 0;
}


static int user_command(int argc, char **argv, const struct directory_target *t)
{
    /* libldap may write to a socket whose slapd has gone away */
    signal(SIGPIPE, SIG_IGN);
    const struct command *user = command_find("user");
    if (argc < 1 || argv[0] == NULL)
        return list_usage("user", user->subcommands, "missing subcommand",
                          NULL);
    const struct subcommand_help *sub = command_find_subcommand(user, argv[0]);
    if (sub == NULL)
        return list_usage("user", user->subcommands, "unknown subcommand",
                          argv[0]);
    if (strcmp(sub->name, "spam") == 0)     /* cmd_spam.c */
        return cmd_user_spam(argc, argv, t);
    if (strcmp(sub->name, "list") == 0 && cmd_quota_list_wanted(argc, argv))   /* cmd_quota_list.c */
        return cmd_quota_list(argc, argv, t);
    if (strcmp(sub->name, "move") == 0)     /* user_move.c */
        return cmd_user_move(argc, argv, t);
    struct invocation inv = {"user", sub, t};
    const char *name = sub->name;
    int is_add = strcmp(name, "add") == 0;
    int is_passwd = strcmp(name, "passwd") == 0;
    int is_quota = strcmp(name, "quota") == 0;
    int is_list = strcmp(name, "list") == 0;

    struct arguments a;
    char **positional = xcalloc((size_t)argc + 1, sizeof *positional);
    int is_del = strcmp(name, "del") == 0;
    int rc = parse_arguments(&inv, argc, argv, is_add, is_add || is_passwd, is_del,
                             &a, positional);
    int want_words = is_list ? 0 : is_quota ? 2 : 1;
    if (rc == 0 && a.n_words != want_words) {
        char *w = a.n_words < want_words ? NULL : cli_quoted(positional[want_words]);
        rc = a.n_words < want_words
            ? usage_error(&inv, "missing %s",
                          a.n_words == 0 && !is_quota ? "ADDRESS"
                          : a.n_words == 0 ? "ADDRESS and SIZE" : "SIZE")
            : usage_error(&inv, "unexpected argument %s", w);
        free(w);
    }
    free(positional);
    if (rc != 0)
        return rc;

    buf address = BUF_INIT;
    unsigned long long quota = 0;
    if (!is_list && normalize(&inv, a.words[0], &address) < 0)
        rc = 1;
    if (rc == 0 && is_add)
        rc = require_served_domain(&inv, buf_cstr(&address));
    if (rc == 0 && is_add && a.quota)
        rc = parse_quota(&inv, a.quota, &quota);
    if (rc == 0 && is_quota)
        rc = parse_quota(&inv, a.words[1], &quota);
    if (rc != 0) {
        buf_free(&address);
        return rc;
    }

    struct directory *d = open_directory(&inv);
    if (d == NULL) {
        buf_free(&address);
        return 1;
    }
    const char *addr = buf_cstr(&address);
    buf err = BUF_INIT, shown = BUF_INIT;
    if (is_add) {
        rc = user_add(&inv, d, addr, quota, a.pair, a.password_stdin);
    } else if (is_del) {
        rc = user_del(&inv, d, addr, a.purge);
    } else if (is_passwd) {
        rc = user_passwd(&inv, d, addr, a.password_stdin);
    } else if (is_quota) {
        rc = directory_user_set_quota(d, addr, quota, &err) < 0
            ? fail(&inv, &err) : 0;
        format_quota(&shown, quota);
        if (rc == 0)
            printf("quota of %s set to %s\n", addr, buf_cstr(&shown));
    } else if (strcmp(name, "show") == 0) {
        rc = user_show(&inv, d, addr);
    } else {
        rc = user_list(&inv, d);
    }
    directory_close(d);
    buf_free(&err);
    buf_free(&shown);
    buf_free(&address);
    return rc;
}

/* ---- alias ------------------------------------------------------------- */

/* "ALIAS -> MEMBER, MEMBER" lines, or {"aliases":[{"address","members",
 * "status"}]} with --json. */
static int alias_list(const struct invocation *inv, struct directory *d)
{
    struct directory_alias *aliases;
    size_t n;
    buf err = BUF_INIT, json = BUF_INIT;
    if (directory_alias_list(d, &aliases, &n, &err) < 0) {
        fail(inv, &err);
        buf_free(&err);
        return 1;
    }
    buf_append_str(&json, "{\"aliases\":[");
    for (size_t i = 0; i < n; i++) {
        if (!inv->target->json) {
            printf("%s ->", aliases[i].mail);
            for (size_t j = 0; j < aliases[i].n_destinations; j++)
                printf("%s%s", j ? ", " : " ", aliases[i].destinations[j]);
            printf("\n");
            continue;
        }
        buf_printf(&json, "%s{\"address\":", i ? "," : "");
        cli_json_string(&json, aliases[i].mail);
        buf_append_str(&json, ",\"members\":[");
        for (size_t j = 0; j < aliases[i].n_destinations; j++) {
            if (j)
                buf_append_char(&json, ',');
            cli_json_string(&json, aliases[i].destinations[j]);
        }
        buf_append_str(&json, "],\"status\":");
        cli_json_string(&json, aliases[i].status);
        buf_append_char(&json, '}');
    }
    buf_append_str(&json, "]}");
    if (inv->target->json)
        puts(buf_cstr(&json));
    directory_alias_list_free(aliases, n);
    buf_free(&err);
    buf_free(&json);
    return 0;
}

/* alias add: the alias in a served domain, members that exist and make no
 * loop (alias_rules.h), then one line per member already there. */
static int alias_add(const struct invocation *inv, struct directory *d, const char *alias,
                     const char *const *members, size_t n_members)
{
    buf err = BUF_INIT;
    struct directory_snapshot snapshot;
    int rc = require_served_domain(inv, alias);
    if (rc == 0 && directory_snapshot_load(d, &snapshot, &err) < 0)
        rc = fail(inv, &err);
    else if (rc == 0) {
        const struct site *site = inv->target->site;
        if (alias_rules_check(&snapshot, (const char *const *)site->domains, site->n_domains, alias, members,
                              n_members, &err) < 0)
            rc = fail(inv, &err);
        directory_snapshot_free(&snapshot);
    }
    int *was_member = xcalloc(n_members + 1, sizeof *was_member);
    if (rc == 0 && directory_alias_add(d, alias, members, n_members, was_member, &err) < 0)
        rc = fail(inv, &err);
    size_t n_added = 0;
    for (size_t i = 0; rc == 0 && i < n_members; i++)
        n_added += !was_member[i];
    if (rc == 0 && n_added > 0) {
        printf("alias %s:", alias);
        for (size_t i = 0, shown = 0; i < n_members; i++)
            if (!was_member[i])
                printf("%s%s", shown++ ? ", " : " ", members[i]);
        printf(" added\n");
    }
    for (size_t i = 0; rc == 0 && i < n_members; i++)
        if (was_member[i])
            printf("alias %s: %s is already a member\n", alias, members[i]);
    free(was_member);
    buf_free(&err);
    return rc;
}

static int alias_del(const struct invocation *inv, struct directory *d, const char *alias,
                     const char *const *members, size_t n_members)
{
    buf err = BUF_INIT;
    int rc = 0, deleted = 1;
    if (n_members == 0)
        rc = directory_alias_del(d, alias, &err) < 0 ? fail(inv, &err) : 0;
    else
        rc = directory_alias_remove_members(d, alias, members, n_members, &deleted, &err) < 0 ? fail(inv, &err) : 0;
    if (rc == 0 && n_members > 0) {
        printf("alias %s:", alias);
        for (size_t i = 0; i < n_members; i++)
            printf("%s%s", i ? ", " : " ", members[i]);
        printf(" removed\n");
    }
    if (rc == 0 && deleted)
        printf("alias %s deleted%s\n", alias, n_members ? " (it has no member left)" : "");
    buf_free(&err);
    return rc;
}

static int alias_command(int argc, char **argv, const struct directory_target *t)
{
    signal(SIGPIPE, SIG_IGN);
    const struct command *alias = command_find("alias");
    if (argc < 1 || argv[0] == NULL)
        return list_usage("alias", alias->subcommands, "missing subcommand",
                          NULL);
    const struct subcommand_help *sub = command_find_subcommand(alias, argv[0]);
    if (sub == NULL)
        return list_usage("alias", alias->subcommands, "unknown subcommand",
                          argv[0]);
    struct invocation inv = {"alias", sub, t};
    int is_add = strcmp(sub->name, "add") == 0;
    int is_del = strcmp(sub->name, "del") == 0;

    struct arguments a;
    char **positional = xcalloc((size_t)argc + 1, sizeof *positional);
    int rc = parse_arguments(&inv, argc, argv, 0, 0, 0, &a, positional);
    if (rc == 0) {
        if (is_add && a.n_words < 2)
            rc = usage_error(&inv, "missing %s",
                             a.n_words == 0 ? "ALIAS and DEST" : "DEST");
        else if (is_del && a.n_words == 0)
            rc = usage_error(&inv, "missing ALIAS");
        else if (!is_add && !is_del && a.n_words != 0)
        {
            char *w = cli_quoted(positional[0]);
            rc = usage_error(&inv, "unexpected argument %s", w);
            free(w);
        }
    }

    /* normalised alias and destinations */
    size_t n_addresses = rc == 0 && (is_add || is_del) ? (size_t)a.n_words : 0;
    buf *addresses = xcalloc(n_addresses + 1, sizeof *addresses);
    const char **dests = xcalloc(n_addresses + 1, sizeof *dests);
    for (size_t i = 0; rc == 0 && i < n_addresses; i++) {
        if (normalize(&inv, positional[i], &addresses[i]) < 0)
            rc = 1;
        dests[i] = buf_cstr(&addresses[i]);
    }
    free(positional);

    struct directory *d = rc == 0 ? open_directory(&inv) : NULL;
    if (rc == 0 && d == NULL)
        rc = 1;
    buf err = BUF_INIT;
    if (rc == 0 && is_add) {
        rc = alias_add(&inv, d, dests[0], dests + 1, n_addresses - 1);
    } else if (rc == 0 && is_del) {
        rc = alias_del(&inv, d, dests[0], dests + 1, n_addresses - 1);
    } else if (rc == 0) {
        rc = alias_list(&inv, d);
    }
    directory_close(d);
    for (size_t i = 0; i < n_addresses; i++)
        buf_free(&addresses[i]);
    free(addresses);
    free(dests);
    buf_free(&err);
    return rc;
}

/* ---- the commands: the directory of the site this state runs ---------- */

/* User subcommands that change nothing in the directory. */
static const char *const read_only_subcommands[] = {"show", "list", NULL};

static int is_read_only(const char *subcommand)
{
    for (const char *const *s = read_only_subcommands; *s; s++)
        if (strcmp(*s, subcommand) == 0)
            return 1;
    return 0;
}

static int cmd_directory(const struct options *o, int argc, char **argv, int is_user)
{
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return 1;
    buf err = BUF_INIT;
    const struct site_host *dir_host = site_host_with_role(&site, ROLE_DIRECTORY);
    struct render_context ctx = {0};
    int rc;
    if (render_context_for_host(&site, dir_host, o->state_dir, &ctx, &err) != 0) {
        cli_fail(is_user ? "user" : "alias", &err);
        rc = 1;
    } else {
        struct directory_target t = {
            .site = &site,
            .state_dir = o->state_dir,
            .json = o->json,
            .ldap_uri = render_context_get(&ctx, "ldap_uri"),
            .base = site.ldap_base,
            .primary_domain = site.domains[0],
        };
        rc = is_user ? user_command(argc, argv, &t) : alias_command(argc, argv, &t);
        /* A new or removed user or alias changes what the relays' policy
         * server expands and checks: export its table again. */
        if (rc == 0 && argc > 0 && (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0)
            && directory_export(&site, o->state_dir, t.ldap_uri, &err) != 0) {
            fprintf(stderr, "emailng: %s %s: the change is made, but %s; run `emailng up` to export it again\n",
                    is_user ? "user" : "alias", argv[0], buf_cstr(&err));
            rc = 1;
        }
        /* Dovecot caches the entries it read (auth_cache.h): a changed
         * user must not wait for the cache to expire. */
        if (rc == 0 && is_user && argc > 0 && !is_read_only(argv[0]))
            auth_cache_flush(&site, o->state_dir);
    }
    render_context_free(&ctx);
    buf_free(&err);
    site_free(&site);
    return rc;
}

int cmd_user_run(const struct options *o, int argc, char **argv)
{
    return cmd_directory(o, argc, argv, 1);
}

int cmd_alias_run(const struct options *o, int argc, char **argv)
{
    return cmd_directory(o, argc, argv, 0);
}
