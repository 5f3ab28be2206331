/* directory_setup: base entries, demo users, probe account, exports; see directory_setup.h. */
#include "directory_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "directory.h"
#include "directory_export.h"
#include "fsutil.h"
#include "healthd_service.h"
#include "password.h"

static const char *const demo_users[] = {"alice", "bob"};

/* Creates the demo users that do not exist yet; prints their passwords once
 * and appends them to STATE/secrets/demo-passwords (root only). */
static int ensure_demo_users(const struct site *site, const struct service_env *env, const char *state, buf *err)
{
    struct directory *d = NULL;
    if (directory_open(&d, render_context_get(&env->ctx, "ldap_uri"), site->ldap_base, err) != 0)
        return -1;
    int rc = directory_init_base(d, (const char *const *)site->domains, site->n_domains, err);
    char *secrets = xasprintf("%s/secrets", state);
    char *file = xasprintf("%s/demo-passwords", secrets);
    if (rc == 0 && site->demo_users)
        rc = fs_ensure_dir(secrets, NULL, NULL, 0700, err);
    for (size_t i = 0; rc == 0 && site->demo_users && i < sizeof demo_users / sizeof demo_users[0]; i++) {
        buf address = BUF_INIT, password = BUF_INIT, hash = BUF_INIT, lookup = BUF_INIT;
        rc = address_normalize(demo_users[i], site->domains[0], &address, err);
        struct directory_user user;
        int exists = rc == 0 && directory_user_get(d, buf_cstr(&address), &user, &lookup) == 0;
        if (exists)
            directory_user_clear(&user);
        if (rc == 0 && !exists) {
            if (password_generate(&password) != 0) {
                buf_append_str(err, "no randomness for a demo password");
                rc = -1;
            }
            if (rc == 0)
                rc = password_hash(buf_cstr(&password), &hash, err);
            if (rc == 0)
                rc = directory_user_add(d, buf_cstr(&address), buf_cstr(&hash), 0,
                                        env->host->store_pair ? env->host->store_pair : "pair1", err);
            if (rc == 0) {
                buf line = BUF_INIT, old = BUF_INIT, ignored = BUF_INIT;
                fs_read_file(file, 1 << 20, &old, &ignored);
                buf_printf(&line, "%s%s %s\n", buf_cstr(&old), buf_cstr(&address), buf_cstr(&password));
                rc = fs_write_file(file, buf_cstr(&line), line.len, 0600, err);
                printf("  demo user %-24s password %s\n", buf_cstr(&address), buf_cstr(&password));
                password_wipe(&line);
                buf_free(&old);
                buf_free(&ignored);
            }
        }
        buf_free(&address);
        password_wipe(&password);
        buf_free(&hash);
        buf_free(&lookup);
    }
    free(secrets);
    free(file);
    directory_close(d);
    return rc;
}

/* postmaster@ and abuse@ of every domain (RFC 5321 4.5.1, RFC 2142): an
 * alias to the site's admin_address where the address is free; an alias,
 * user or other address the administrator made of it is kept as it is.
 * An admin address in one of our domains must exist (the relays would
 * accept mail for the aliases that could never be delivered): until it
 * does, a warning, and the next `up` creates them. */
static int ensure_role_aliases(const struct site *site, const char *ldap_uri, buf *err)
{
    static const char *const locals[] = {"postmaster", "abuse"};
    const char *admin = site->admin_address;
    if (admin == NULL)
        return 0;
    struct directory *d = NULL;
    if (directory_open(&d, ldap_uri, site->ldap_base, err) != 0)
        return -1;
    int rc = 0;
    const char *at = strrchr(admin, '@');
    for (size_t i = 0; at != NULL && i < site->n_domains; i++) {
        if (strcmp(at + 1, site->domains[i]) != 0)
            continue;
        enum directory_address_use use = DIRECTORY_ADDRESS_FREE;
        rc = directory_address_use(d, admin, &use, err);
        if (rc == 0 && (use == DIRECTORY_ADDRESS_FREE || use == DIRECTORY_ADDRESS_OTHER)) {
            fprintf(stderr, "emailng: warning: admin_address %s is no user or alias yet: postmaster@ and abuse@ "
                            "are created by the next `emailng up` once it is (emailng user add %s)\n", admin, admin);
            directory_close(d);
            return 0;
        }
        break;
    }
    for (size_t i = 0; rc == 0 && i < site->n_domains; i++)
        for (size_t j = 0; rc == 0 && j < sizeof locals / sizeof locals[0]; j++) {
            char *alias = xasprintf("%s@%s", locals[j], site->domains[i]);
            enum directory_address_use use = DIRECTORY_ADDRESS_FREE;
            rc = directory_address_use(d, alias, &use, err);
            if (rc == 0 && use == DIRECTORY_ADDRESS_FREE) {
                const char *dests[] = {admin};
                rc = directory_alias_add(d, alias, dests, 1, NULL, err);
                if (rc == 0)
                    printf("  alias %-28s -> %s\n", alias, admin);
                else
                    buf_printf(err, " (creating %s for admin_address)", alias);
            }
            free(alias);
        }
    directory_close(d);
    return rc;
}

int directory_setup(const struct service_env *env, buf *err)
{
    const char *ldap_uri = render_context_get(&env->ctx, "ldap_uri");
    int rc = ensure_demo_users(env->site, env, env->state_dir, err);
    if (rc == 0)
        rc = ensure_role_aliases(env->site, ldap_uri, err);
    if (rc == 0)
        rc = healthd_probe_account_ensure(env->site, ldap_uri, env->state_dir, err);
    /* The relays read users and aliases from tables. */
    if (rc == 0)
        rc = directory_export(env->site, env->state_dir, ldap_uri, err);
    return rc;
}
