/* cmd_site: `emailng check` and `emailng render`; see cmd_site.h. */
#include "cmd_site.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "public_cert.h"
#include "render.h"

int cmd_check(const struct options *o)
{
    if (o->site_file == NULL) {
        fputs("emailng: check: --site FILE is required\n", stderr);
        return 2;
    }
    struct site site;
    buf err = BUF_INIT;
    int rc = site_load(o->site_file, &site, &err);
    if (rc != 0) {
        fputs(buf_cstr(&err), stderr);
    } else if ((rc = public_cert_check_site(&site, &err)) != 0) {
        fprintf(stderr, "emailng: check: %s\n", buf_cstr(&err));
    } else {
        printf("%s: ok (site %s, %zu domain(s), %zu host(s))\n", o->site_file, site.name,
               site.n_domains, site.n_hosts);
    }
    buf_free(&err);
    site_free(&site);
    return rc == 0 ? 0 : 1;
}

int cmd_render(const struct options *o)
{
    if (o->site_file == NULL || o->out_dir == NULL) {
        fputs("emailng: render: --site FILE and --out DIR are required\n", stderr);
        return 2;
    }
    struct site site;
    if (cli_load_site(o, &site, 0) != 0)
        return 1;
    buf err = BUF_INIT;
    char *templates = xasprintf("%s/templates", cli_datadir());
    int rc = render_site(&site, templates, o->state_dir, o->out_dir, &err);
    if (rc != 0)
        cli_fail("render", &err);
    else
        printf("rendered %zu host(s) of site %s into %s\n", site.n_hosts, site.name, o->out_dir);
    free(templates);
    buf_free(&err);
    site_free(&site);
    return rc == 0 ? 0 : 1;
}
