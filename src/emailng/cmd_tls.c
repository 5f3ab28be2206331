/* cmd_tls: `emailng tls renew`; see cmd_tls.h. */
#include "cmd_tls.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "public_cert.h"
#include "site_cert_source.h"

static int usage(const char *why, const char *arg)
{
    fprintf(stderr, "emailng: tls: %s%s%s\nusage: emailng tls renew [--force]\n", why, arg ? ": " : "",
            arg ? arg : "");
    return EXIT_USAGE;
}

int cmd_tls_run(const struct options *o, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "renew") != 0)
        return usage(argc < 1 ? "a subcommand is needed" : "unknown subcommand", argc < 1 ? NULL : argv[0]);
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0 && !force)
            force = 1;
        else
            return usage("unexpected argument", argv[i]);
    }
    if (geteuid() != 0) {
        fputs("emailng: tls renew: must run as root (lego answers ACME on port 80; the daemons reload)\n", stderr);
        return EXIT_FAILED;
    }
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    int rc = EXIT_DONE;
    if (site.cert_source == CERT_SOURCE_SITE_CA) {
        printf("emailng: tls.source is site-ca: `emailng up` renews the site CA's certificates (%d days before "
               "expiry); nothing to do here\n", PUBLIC_CERT_RENEW_DAYS);
        site_free(&site);
        return EXIT_DONE;
    }
    buf err = BUF_INIT, warning = BUF_INIT;
    int changed = 0;
    if (public_cert_ensure(&site, o->state_dir, force, &changed, &warning, &err) != 0) {
        cli_fail("tls renew", &err);
        rc = EXIT_FAILED;
    } else if (warning.len) {
        fprintf(stderr, "emailng: tls renew: %s\n", buf_cstr(&warning));
        rc = EXIT_FAILED;
    } else if (!changed) {
        printf("emailng: the public certificate (tls.source %s) is unchanged; nothing reloaded\n",
               site_cert_source_name(site.cert_source));
    } else if (public_cert_reload(&site, o->state_dir, &err) != 0) {
        cli_fail("tls renew", &err);
        rc = EXIT_FAILED;
    } else {
        printf("emailng: new public certificate installed in %s/tls/public\n", o->state_dir);
    }
    buf_free(&err);
    buf_free(&warning);
    site_free(&site);
    return rc;
}
