/* emailng: render, start, stop and check an EmailNG site, and manage its
 * users. Every daemon runs with its configuration and state under the state
 * directory (default /var/lib/emailng); see docs/admin-manual.md and
 * emailng(8). This file reads the global options and hands the rest to
 * the command named in the table (commands.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "cli.h"
#include "commands.h"
#include "version.h"

/* The global options may stand anywhere; the other words are the command's. */
struct invocation {
    struct options options;
    char **words;
    int n_words;
    int help;                  /* -h or --help somewhere */
    int version;
};

static int read_options(int argc, char **argv, struct invocation *inv)
{
    static const struct {
        const char *name;
        size_t offset;
    } valued[] = {
        {"--state", offsetof(struct options, state_dir)},
        {"--site", offsetof(struct options, site_file)},
        {"--out", offsetof(struct options, out_dir)},
        {"--host", offsetof(struct options, host)},
        {"--changed-components", offsetof(struct options, changed_components)},
        {"--secrets-changed", offsetof(struct options, secrets_changed)},
    };
    const char *env_state = getenv("EMAILNG_STATE");
    inv->options.state_dir = env_state && *env_state ? env_state : DEFAULT_STATE;
    inv->words = xcalloc((size_t)argc + 1, sizeof *inv->words);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (strcmp(a, valued[k].name) == 0)
                slot = (const char **)((char *)&inv->options + valued[k].offset);
        if (slot) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                fprintf(stderr, "emailng: %s needs a value\n", a);
                return -1;
            }
            *slot = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            inv->options.json = 1;
        } else if (strcmp(a, "--config-changed") == 0) {
            inv->options.config_changed = 1;
        } else if (strcmp(a, "--tls-changed") == 0) {
            inv->options.tls_changed = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            inv->help = 1;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            inv->version = 1;
        } else {
            inv->words[inv->n_words++] = argv[i];
        }
    }
    return 0;
}

/* `emailng help [COMMAND [SUBCOMMAND]]`, `emailng COMMAND [SUB] --help`. */
static int print_help(char **words, int n)
{
    if (n >= 1 && strcmp(words[0], "--words") == 0) {
        commands_print_words(stdout);
        return EXIT_DONE;
    }
    const struct command *c = n >= 1 ? command_find(words[0]) : NULL;
    if (n >= 1 && c == NULL) {
        buf shown = BUF_INIT;
        cli_quote(&shown, words[0]);
        fprintf(stderr, "emailng: help: no command %s (`emailng help` lists them)\n", buf_cstr(&shown));
        buf_free(&shown);
        return EXIT_USAGE;
    }
    if (c == NULL) {
        commands_print_usage(stdout);
        return EXIT_DONE;
    }
    command_print_help(stdout, c, n >= 2 ? command_find_subcommand(c, words[1]) : NULL);
    return EXIT_DONE;
}

static int run(struct invocation *inv)
{
    if (inv->version) {
        printf("emailng %s\n", EMAILNG_VERSION);
        return EXIT_DONE;
    }
    if (inv->n_words == 0 && inv->help)
        return print_help(NULL, 0);
    if (inv->n_words == 0) {
        commands_print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(inv->words[0], "help") == 0)
        return print_help(inv->words + 1, inv->n_words - 1);
    if (inv->help)
        return print_help(inv->words, inv->n_words);
    const struct command *c = command_find(inv->words[0]);
    if (c == NULL) {
        buf shown = BUF_INIT;
        cli_quote(&shown, inv->words[0]);
        fprintf(stderr, "emailng: unknown command %s (`emailng help` lists the commands)\n", buf_cstr(&shown));
        buf_free(&shown);
        return EXIT_USAGE;
    }
    if (inv->options.state_dir[0] != '/') {
        fprintf(stderr, "emailng: --state %s: expected an absolute path\n", inv->options.state_dir);
        return EXIT_USAGE;
    }
    if (!c->takes_words && inv->n_words > 1) {
        buf shown = BUF_INIT;
        cli_quote(&shown, inv->words[1]);
        fprintf(stderr, "emailng: %s: unexpected argument %s\nusage: emailng %s %s\n", c->name, buf_cstr(&shown),
                c->name, c->usage);
        buf_free(&shown);
        return EXIT_USAGE;
    }
    return c->run(&inv->options, inv->n_words - 1, inv->words + 1);
}

int main(int argc, char **argv)
{
    /* libldap writes to its socket without MSG_NOSIGNAL; a vanished slapd
     * must give an error, not kill the tool. */
    signal(SIGPIPE, SIG_IGN);
    struct invocation inv = {0};
    int rc = read_options(argc, argv, &inv) == 0 ? run(&inv) : EXIT_USAGE;
    free(inv.words);
    return rc;
}
