/* cli: the global options and helpers every command shares; see cli.h. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "fsutil.h"

#ifndef EMAILNG_DATADIR
#define EMAILNG_DATADIR "/usr/local/share/emailng"
#endif

const char *cli_datadir(void)
{
    const char *d = getenv("EMAILNG_DATADIR");
    return d && *d ? d : EMAILNG_DATADIR;
}

void cli_fail(const char *what, buf *err)
{
    fprintf(stderr, "emailng: %s: %s\n", what, buf_cstr(err));
}

/* The site a state directory was started with, or the built-in small site. */
int cli_load_site(const struct options *o, struct site *site, int from_state)
{
    buf err = BUF_INIT;
    const char *file = o->site_file;
    char *saved = xasprintf("%s/site.yaml", o->state_dir);
    if (file == NULL && from_state && fs_exists(saved))
        file = saved;
    int rc = 0;
    if (file == NULL) {
        site_default(site);
    } else if (site_load(file, site, &err) != 0) {
        fputs(buf_cstr(&err), stderr);
        fprintf(stderr, "emailng: the site file %s has errors (listed above)\n", file);
        rc = -1;
    }
    buf_free(&err);
    free(saved);
    return rc;
}

/* --host NAME must name a host of the site. */
int cli_check_host_option(const struct options *o, const struct site *site)
{
    if (o->host == NULL)
        return 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        if (strcmp(site->hosts[i].name, o->host) == 0)
            return 0;
    buf names = BUF_INIT;
    for (size_t i = 0; i < site->n_hosts; i++)
        buf_printf(&names, "%s%s", i ? ", " : "", site->hosts[i].name);
    fprintf(stderr, "emailng: --host %s: the site %s has no such host; its hosts are %s\n", o->host, site->name,
            buf_cstr(&names));
    buf_free(&names);
    return -1;
}

int cli_host_selected(const struct options *o, const struct site_host *h)
{
    return o->host == NULL || strcmp(o->host, h->name) == 0;
}

void cli_json_string(buf *out, const char *s)
{
    buf_append_char(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_printf(out, "\\%c", *p);
        else if (*p < 0x20)
            buf_printf(out, "\\u%04x", *p);
        else
            buf_append_char(out, (char)*p);
    }
    buf_append_char(out, '"');
}

void cli_quote(buf *out, const char *text)
{
    address_quote_cut(out, text);
}

char *cli_quoted(const char *text)
{
    buf b = BUF_INIT;
    cli_quote(&b, text);
    return buf_steal(&b);
}
