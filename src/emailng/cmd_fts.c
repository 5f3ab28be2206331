/* cmd_fts: rescan and reindex of the stores' full-text indexes; see cmd_fts.h. */
#include "cmd_fts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "fabric.h"
#include "fsutil.h"

/* The doveadm commands of each action, run in this order; "-u USER" or
 * "-A" goes after the command words, then the arguments. */
struct fts_step {
    const char *words[3];       /* doveadm command words, NULL-terminated */
    const char *arg;            /* a trailing argument, or NULL */
};

struct fts_action {
    const char *name;
    const char *done;           /* what the report says happened */
    struct fts_step steps[2];
    size_t n_steps;
};

static const struct fts_action actions[] = {
    {"rescan", "index marked for a rescan (rebuilt at the next delivery or search)",
     {{{"fts", "rescan", NULL}, NULL}}, 1},
    {"reindex", "every folder indexed",
     {{{"fts", "rescan", NULL}, NULL}, {{"index", NULL, NULL}, "*"}}, 2},
    {"optimize", "expunged messages removed from the index, index compacted",
     {{{"fts", "optimize", NULL}, NULL}}, 1},
};

static const struct fts_action *find_action(const char *name)
{
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].name, name) == 0)
            return &actions[i];
    return NULL;
}

static int usage(const char *problem, const char *arg)
{
    if (problem) {
        char *q = arg ? cli_quoted(arg) : NULL;
        fprintf(stderr, "emailng: fts: %s%s%s\n", problem, q ? ": " : "", q ? q : "");
        free(q);
    }
    fputs("usage: emailng fts rescan|reindex|optimize USER|--all [--host STORE]\n", stderr);
    return EXIT_USAGE;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One action on one store; user NULL = every user of the store. */
static int run_on_store(const char *state_dir, const struct site_host *h, const struct fts_action *a,
                        const char *user)
{
    char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", state_dir, h->name);
    int rc = 0;
    double start = now_seconds();
    if (!fs_exists(conf)) {
        fprintf(stderr, "emailng: fts %s: %s: its configuration is not on this machine (%s); run the command "
                "there (--host %s)\n", a->name, h->name, conf, h->name);
        rc = -1;
    }
    for (size_t s = 0; rc == 0 && s < a->n_steps; s++) {
        const struct fts_step *st = &a->steps[s];
        const char *argv[12];
        size_t n = 0;
        argv[n++] = "/usr/bin/doveadm";
        argv[n++] = "-c";
        argv[n++] = conf;
        for (size_t w = 0; st->words[w]; w++)
            argv[n++] = st->words[w];
        if (user) {
            argv[n++] = "-u";
            argv[n++] = user;
        } else {
            argv[n++] = "-A";
        }
        if (st->arg)
            argv[n++] = st->arg;
        argv[n] = NULL;
        buf out = BUF_INIT, err = BUF_INIT;
        int status = fabric_run_on_host(state_dir, h->name, argv, &out, &err);
        if (status != 0) {
            fprintf(stderr, "emailng: fts %s: %s: doveadm %s %s failed (%s): %s%s\n", a->name, h->name,
                    st->words[0], st->words[1] ? st->words[1] : "",
                    status < 0 ? "could not run" : "non-zero exit", buf_cstr(&err), buf_cstr(&out));
            rc = -1;
        }
        buf_free(&out);
        buf_free(&err);
    }
    if (rc == 0)
        printf("%s: %s: %s (%.1f s)\n", h->name, user ? user : "every user", a->done, now_seconds() - start);
    free(conf);
    return rc;
}

/* Does host hold a mailbox of address (DATA/STORE/mail/DOMAIN/LOCALPART)? */
static int has_mailbox(const char *state_dir, const struct site_host *h, const char *address)
{
    const char *at = strchr(address, '@');
    char *path = xasprintf("%s/data/%s/mail/%s/%.*s", state_dir, h->name, at + 1, (int)(at - address), address);
    int yes = fs_exists(path);
    free(path);
    return yes;
}

static int run_action(const struct options *o, const struct site *site, const struct fts_action *a,
                      const char *user)
{
    if (!site->search.fts) {
        fprintf(stderr, "emailng: fts %s: search.fts is false in site %s: the stores keep no full-text index\n",
                a->name, site->name);
        return EXIT_FAILED;
    }
    int failed = 0, done = 0;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!(h->roles & ROLE_STORE) || !cli_host_selected(o, h))
            continue;
        if (user && !has_mailbox(o->state_dir, h, user))
            continue;
        if (run_on_store(o->state_dir, h, a, user) != 0)
            failed = 1;
        else
            done++;
    }
    if (done == 0 && !failed) {
        fprintf(stderr, "emailng: fts %s: %s\n", a->name,
                user ? "no store here holds a mailbox of this user (no mail delivered and no login yet?)"
                     : "no store selected (--host must name a store)");
        return EXIT_FAILED;
    }
    return failed ? EXIT_FAILED : EXIT_DONE;
}

int cmd_fts_run(const struct options *o, int argc, char **argv)
{
    if (argc < 1)
        return usage("rescan, reindex or optimize expected", NULL);
    const struct fts_action *a = find_action(argv[0]);
    if (a == NULL)
        return usage("unknown subcommand", argv[0]);
    const char *target = NULL;
    int all = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0 && !all && target == NULL)
            all = 1;
        else if (argv[i][0] != '-' && !all && target == NULL)
            target = argv[i];
        else
            return usage("expected one USER or --all", argv[i]);
    }
    if (!all && target == NULL)
        return usage("USER or --all expected", NULL);

    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    int rc = cli_check_host_option(o, &site) == 0 ? EXIT_DONE : EXIT_USAGE;
    buf user = BUF_INIT, err = BUF_INIT;
    if (rc == EXIT_DONE && target && address_normalize(target, site.domains[0], &user, &err) != 0) {
        char *q = cli_quoted(target);
        fprintf(stderr, "emailng: fts %s: %s: %s\n", a->name, q, buf_cstr(&err));
        free(q);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_DONE)
        rc = run_action(o, &site, a, target ? buf_cstr(&user) : NULL);
    buf_free(&user);
    buf_free(&err);
    site_free(&site);
    return rc;
}
