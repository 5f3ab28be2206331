/* auth_cache: flush the Dovecot auth caches of a site; see auth_cache.h. */
#include "auth_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fabric.h"
#include "host_kind.h"

/* The Dovecot templates that turn the auth cache on (auth_cache_size):
 * only hosts whose "dovecot" component comes from one of them are asked. */
static const char *const cached_templates[] = {"dovecot", NULL};

int auth_cache_on(const struct site_host *h)
{
    const struct host_kind *kind = host_kind_of(h->roles);
    if (kind == NULL)
        return 0;
    for (size_t i = 0; kind->components[i]; i++) {
        if (strcmp(kind->components[i], "dovecot") != 0)
            continue;
        for (const char *const *t = cached_templates; *t; t++)
            if (strcmp(kind->templates[i], *t) == 0)
                return 1;
    }
    return 0;
}

int auth_cache_flush(const struct site *site, const char *state_dir)
{
    int rc = 0;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!auth_cache_on(h))
            continue;
        char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", state_dir, h->name);
        const char *argv[] = {"/usr/bin/doveadm", "-c", conf, "auth", "cache", "flush", NULL};
        buf out = BUF_INIT, err = BUF_INIT;
        int status = fabric_run_on_host(state_dir, h->name, argv, &out, &err);
        if (status != 0) {
            fprintf(stderr, "emailng: %s: could not flush Dovecot's auth cache (%s); the change reaches "
                    "it within auth_cache_ttl\n", h->name, status < 0 ? buf_cstr(&err) : buf_cstr(&out));
            rc = -1;
        }
        buf_free(&out);
        buf_free(&err);
        free(conf);
    }
    return rc;
}
