/* cmd_user: user and alias administration commands; see cmd_user.h. */
#include "cmd_user.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "buf.h"
#include "cmd_spam.h"
#include "directory.h"
#include "password.h"

struct subcommand {
    const char *name;
    const char *usage;          /* arguments after the subcommand */
};

static const struct subcommand user_subcommands[] = {
    {"add", "ADDRESS [--quota SIZE] [--password-stdin]"},
    {"del", "ADDRESS"},
    {"passwd", "ADDRESS [--password-stdin]"},
    {"quota", "ADDRESS SIZE|default"},
    {"show", "ADDRESS"},
    {"list", ""},
    {"spam", "ADDRESS [--threshold N|default] [--allow|--deny|--unallow|--undeny SENDER]..."},
    {NULL, NULL},
};

static const struct subcommand alias_subcommands[] = {
    {"add", "ALIAS DEST [DEST...]"},
    {"del", "ALIAS"},
    {"list", ""},
    {NULL, NULL},
};

/* What one invocation is about, for messages. */
struct invocation {
    const char *command;        /* "user" or "alias" */
    const struct subcommand *sub;
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

static int list_usage(const char *command, const struct subcommand *subs,
                      const char *problem, const char *word)
{
    if (word)
        fprintf(stderr, "emailng: %s: %s \"%s\"\n", command, problem, word);
    else
        fprintf(stderr, "emailng: %s: %s\n", command, problem);
    fputs("usage:\n", stderr);
    for (const struct subcommand *s = subs; s->name; s++)
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
    int password_stdin;
};

/* Parse argv[1..] allowing --quota (when allow_quota) and
 * --password-stdin (when allow_stdin); "--" ends the options. */
static int parse_arguments(const struct invocation *inv, int argc, char **argv,
                           int allow_quota, int allow_stdin,
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
        } else if (!options_done && allow_quota
                   && strcmp(arg, "--quota") == 0) {
            if (i + 1 >= argc)
                return usage_error(inv, "--quota needs a size");
            a->quota = argv[++i];
        } else if (!options_done && allow_quota
                   && strncmp(arg, "--quota=", 8) == 0) {
            a->quota = arg + 8;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            return usage_error(inv, "unknown option \"%s\"", arg);
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

static int user_add(const struct invocation *inv, struct directory *d,
                    const char *address, unsigned long long quota,
                    int from_stdin)
{
    buf hash = BUF_INIT, err = BUF_INIT, shown = BUF_INIT;
    int rc = 1;
    if (new_password_hash(inv, address, from_stdin, &hash) < 0)
        goto out;
    if (directory_user_add(d, address, buf_cstr(&hash), quota,
                           inv->target->default_mail_host, &err) < 0) {
        fail(inv, &err);
        goto out;
    }
    format_quota(&shown, quota);
    printf("user %s added (quota %s)\n", address, buf_cstr(&shown));
    rc = 0;
out:
    password_wipe(&hash);
    buf_free(&err);
    buf_free(&shown);
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
    printf("mail_host: %s\n", u.mail_host[0] ? u.mail_host : "(not set)");
    print_list("alternate_addresses", u.alternate_addresses,
               u.n_alternate_addresses);
    directory_user_clear(&u);
    buf_free(&err);
    buf_free(&quota);
    return 0;
}

static int user_list(const struct invocation *inv, struct directory *d)
{
    struct directory_user *users;
    size_t n;
    buf err = BUF_INIT, quota = BUF_INIT;
    if (directory_user_list(d, &users, &n, &err) < 0) {
        fail(inv, &err);
        buf_free(&err);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        buf_reset(&quota);
        format_quota(&quota, users[i].quota_bytes);
        printf("%s %s\n", users[i].mail, buf_cstr(&quota));
    }
    directory_user_list_free(users, n);
    buf_free(&err);
    buf_free(&quota);
    return 0;
}

static const struct subcommand *find_subcommand(const struct subcommand *subs,
                                                const char *name)
{
    for (const struct subcommand *s = subs; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

int cmd_user(int argc, char **argv, const struct directory_target *t)
{
    /* libldap may write to a socket whose slapd has gone away */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 1 || argv[0] == NULL)
        return list_usage("user", user_subcommands, "missing subcommand",
                          NULL);
    const struct subcommand *sub = find_subcommand(user_subcommands, argv[0]);
    if (sub == NULL)
        return list_usage("user", user_subcommands, "unknown subcommand",
                          argv[0]);
    if (strcmp(sub->name, "spam") == 0)     /* cmd_spam.c */
        return cmd_user_spam(argc, argv, t);
    struct invocation inv = {"user", sub, t};
    const char *name = sub->name;
    int is_add = strcmp(name, "add") == 0;
    int is_passwd = strcmp(name, "passwd") == 0;
    int is_quota = strcmp(name, "quota") == 0;
    int is_list = strcmp(name, "list") == 0;

    struct arguments a;
    char **positional = xcalloc((size_t)argc + 1, sizeof *positional);
    int rc = parse_arguments(&inv, argc, argv, is_add, is_add || is_passwd,
                             &a, positional);
    int want_words = is_list ? 0 : is_quota ? 2 : 1;
    if (rc == 0 && a.n_words != want_words) {
        rc = a.n_words < want_words
            ? usage_error(&inv, "missing %s",
                          a.n_words == 0 && !is_quota ? "ADDRESS"
                          : a.n_words == 0 ? "ADDRESS and SIZE" : "SIZE")
            : usage_error(&inv, "unexpected argument \"%s\"",
                          positional[want_words]);
    }
    free(positional);
    if (rc != 0)
        return rc;

    buf address = BUF_INIT;
    unsigned long long quota = 0;
    if (!is_list && normalize(&inv, a.words[0], &address) < 0)
        rc = 1;
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
        rc = user_add(&inv, d, addr, quota, a.password_stdin);
    } else if (strcmp(name, "del") == 0) {
        rc = directory_user_del(d, addr, &err) < 0 ? fail(&inv, &err) : 0;
        if (rc == 0)
            printf("user %s deleted\n", addr);
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

static int alias_list(const struct invocation *inv, struct directory *d)
{
    struct directory_alias *aliases;
    size_t n;
    buf err = BUF_INIT;
    if (directory_alias_list(d, &aliases, &n, &err) < 0) {
        fail(inv, &err);
        buf_free(&err);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%s ->", aliases[i].mail);
        for (size_t j = 0; j < aliases[i].n_destinations; j++)
            printf("%s%s", j ? ", " : " ", aliases[i].destinations[j]);
        printf("\n");
    }
    directory_alias_list_free(aliases, n);
    buf_free(&err);
    return 0;
}

int cmd_alias(int argc, char **argv, const struct directory_target *t)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 1 || argv[0] == NULL)
        return list_usage("alias", alias_subcommands, "missing subcommand",
                          NULL);
    const struct subcommand *sub = find_subcommand(alias_subcommands, argv[0]);
    if (sub == NULL)
        return list_usage("alias", alias_subcommands, "unknown subcommand",
                          argv[0]);
    struct invocation inv = {"alias", sub, t};
    int is_add = strcmp(sub->name, "add") == 0;
    int is_del = strcmp(sub->name, "del") == 0;

    struct arguments a;
    char **positional = xcalloc((size_t)argc + 1, sizeof *positional);
    int rc = parse_arguments(&inv, argc, argv, 0, 0, &a, positional);
    if (rc == 0) {
        if (is_add && a.n_words < 2)
            rc = usage_error(&inv, "missing %s",
                             a.n_words == 0 ? "ALIAS and DEST" : "DEST");
        else if (is_del && a.n_words != 1)
            rc = a.n_words == 0
                ? usage_error(&inv, "missing ALIAS")
                : usage_error(&inv, "unexpected argument \"%s\"", positional[1]);
        else if (!is_add && !is_del && a.n_words != 0)
            rc = usage_error(&inv, "unexpected argument \"%s\"", positional[0]);
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
        rc = directory_alias_add(d, dests[0], dests + 1, n_addresses - 1, &err)
            < 0 ? fail(&inv, &err) : 0;
        if (rc == 0) {
            printf("alias %s ->", dests[0]);
            for (size_t i = 1; i < n_addresses; i++)
                printf("%s%s", i > 1 ? ", " : " ", dests[i]);
            printf(" added\n");
        }
    } else if (rc == 0 && is_del) {
        rc = directory_alias_del(d, dests[0], &err) < 0 ? fail(&inv, &err) : 0;
        if (rc == 0)
            printf("alias %s deleted\n", dests[0]);
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
