/* commands: the table of emailng's commands. Each entry names a command,
 * its usage, a one-line summary, its subcommands, and the function that
 * runs it; `emailng help`, `emailng COMMAND [SUBCOMMAND] --help`, the
 * dispatch in main.c and the bash completion (`emailng help --words`) all
 * read it, so a command exists in one place. */
#ifndef EMAILNG_COMMANDS_H
#define EMAILNG_COMMANDS_H

#include <stdio.h>

#include "cli.h"

struct subcommand_help {
    const char *name;
    const char *usage;          /* the words after "COMMAND SUBCOMMAND" */
    const char *summary;
};

struct command {
    const char *name;
    const char *usage;          /* the words after the name (commands without subcommands) */
    const char *summary;        /* one line */
    const char *details;        /* a few lines more for `--help`, or NULL */
    const struct subcommand_help *subcommands;  /* NULL-terminated, or NULL */
    int takes_words;            /* 0: the command alone (its options are global) */
    /* argv[0] is the first word after the command name; returns EXIT_*. */
    int (*run)(const struct options *o, int argc, char **argv);
};

extern const struct command commands[];     /* ends with a NULL name */

const struct command *command_find(const char *name);
const struct subcommand_help *command_find_subcommand(const struct command *c, const char *name);

/* The whole usage (every command), or one command's, or one subcommand's. */
void commands_print_usage(FILE *f);
void command_print_help(FILE *f, const struct command *c, const struct subcommand_help *sub);
/* Command and subcommand names, one "COMMAND SUB..." line each (bash completion). */
void commands_print_words(FILE *f);

#endif
