/* cli: what every emailng command shares: the global options, where the
 * data files are, loading the site a state directory runs, one way to
 * print an error, and the exit codes (0 done, 1 failed, 2 usage). A
 * command is a struct command (commands.h) whose run() gets these options
 * and its own words. */
#ifndef EMAILNG_CLI_H
#define EMAILNG_CLI_H

#include "buf.h"
#include "site.h"

#define EXIT_DONE 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

#define DEFAULT_STATE "/var/lib/emailng"

struct options {
    const char *state_dir;
    const char *site_file;
    const char *out_dir;
    const char *host;          /* --host NAME: only this host of the site */
    int json;
    int config_changed;        /* --config-changed: set by a fabric `up` for its hosts */
    int tls_changed;           /* --tls-changed: set by `emailng deploy` when it pushed certificates */
    /* --changed-components C1,C2: set by a fabric `up` for a host whose
     * rendered components C1, C2 changed (only their daemons restart) */
    const char *changed_components;
    /* --secrets-changed S1,S2: set by `emailng deploy` for a host whose
     * secrets S1, S2 (STATE/secrets/NAME) it replaced: a rotation */
    const char *secrets_changed;
};

/* templates/, schema/, examples/ and scripts/: $EMAILNG_DATADIR or the
 * installed share folder. */
const char *cli_datadir(void);

/* "emailng: WHAT: ERR" on stderr, once. */
void cli_fail(const char *what, buf *err);

/* The site a state directory was started with (STATE/site.yaml), --site
 * FILE, or the built-in small site; errors are printed. */
int cli_load_site(const struct options *o, struct site *site, int from_state);

/* --host NAME must name a host of the site (printed if not). */
int cli_check_host_option(const struct options *o, const struct site *site);
int cli_host_selected(const struct options *o, const struct site_host *h);

/* A JSON string literal of s. */
void cli_json_string(buf *out, const char *s);

/* Something the user typed, for a message: quoted, control characters
 * and non-ASCII escaped, and cut after 80 bytes ("..." and the length),
 * so hostile input is never echoed in full (address_quote_cut). */
void cli_quote(buf *out, const char *text);
/* The same as a new string (caller frees), for messages built with printf. */
char *cli_quoted(const char *text);

#endif
