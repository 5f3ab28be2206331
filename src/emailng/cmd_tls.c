/* cmd_tls: `emailng tls renew`; see cmd_tls.h. */
#include "cmd_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fabric.h"

#include "public_cert.h"
#include "public_names.h"
#include "site_cert_source.h"

static int usage(const char *why, const char *arg)
{
    fprintf(stderr, "emailng: tls: %s%s%s\nusage: emailng tls renew [--force]\n", why, arg ? ": " : "",
            arg ? arg : "");
    return EXIT_USAGE;
}

/* A site of several hosts on this machine (the test fabric): `tls renew
 * --host HOST` inside each relay's and proxy's namespace, proxies first
 * (the first one orders the certificate the others then take). On real
 * hosts each relay and proxy runs `tls renew --host ITSELF`. */
static int renew_fabric(const struct options *o, const struct site *site, int force)
{
    char *prefix = fabric_prefix(o->state_dir);
    if (!fabric_exists(prefix)) {
        fprintf(stderr, "emailng: tls renew: a site of several hosts renews host by host: run `emailng tls renew "
                "--host NAME` on each relay and proxy (the test fabric of %s is not up)\n", o->state_dir);
        free(prefix);
        return EXIT_FAILED;
    }
    char *self = realpath("/proc/self/exe", NULL);
    if (self == NULL) {
        fprintf(stderr, "emailng: tls renew: cannot find the emailng program: %s\n", strerror(errno));
        free(prefix);
        return EXIT_FAILED;
    }
    size_t *order = xcalloc(site->n_hosts, sizeof *order);
    fabric_start_order(site, order);
    int rc = EXIT_DONE;
    for (size_t k = 0; k < site->n_hosts; k++) {
        const struct site_host *h = &site->hosts[order[k]];
        buf names = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
        public_names_of_host(site, h, &names);
        if (names.len > 0) {
            const char *argv[] = {self, "--state", o->state_dir, "--host", h->name, "tls", "renew",
                                  force ? "--force" : NULL, NULL};
            printf("== %s (%s)\n", h->name, h->address);
            fflush(stdout);
            int status = fabric_run(prefix, h->name, argv, &out, &err);
            fputs(buf_cstr(&out), stdout);
            if (status != 0) {
                fprintf(stderr, "emailng: tls renew: host %s: %s(exit %d)\n", h->name, buf_cstr(&err), status);
                rc = EXIT_FAILED;
            }
        }
        buf_free(&names);
        buf_free(&out);
        buf_free(&err);
    }
    free(order);
    free(self);
    free(prefix);
    return rc;
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
    if (cli_check_host_option(o, &site) != 0) {
        site_free(&site);
        return EXIT_USAGE;
    }
    if (site.n_hosts > 1 && o->host == NULL) {
        rc = renew_fabric(o, &site, force);
        site_free(&site);
        return rc;
    }
    const struct site_host *only = NULL;
    for (size_t h = 0; o->host && h < site.n_hosts; h++)
        if (strcmp(site.hosts[h].name, o->host) == 0)
            only = &site.hosts[h];
    buf err = BUF_INIT, warning = BUF_INIT;
    int changed = 0;
    if (public_cert_ensure(&site, o->state_dir, only, force, &changed, &warning, &err) != 0) {
        cli_fail("tls renew", &err);
        rc = EXIT_FAILED;
    } else if (warning.len) {
        fprintf(stderr, "emailng: tls renew: %s\n", buf_cstr(&warning));
        rc = EXIT_FAILED;
    } else if (!changed) {
        printf("emailng: the public certificate (tls.source %s) is unchanged; nothing reloaded\n",
               site_cert_source_name(site.cert_source));
    } else if (public_cert_reload(&site, o->state_dir, only, &err) != 0) {
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
