/* cmd_dkim: the DKIM selectors and their rotation; see cmd_dkim.h. */
#include "cmd_dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd_dns.h"
#include "dkim.h"
#include "opendkim_service.h"
#include "services.h"

#define DAY (24LL * 3600)

struct dkim_args {
    const char *domain;          /* the site's spelling of DOMAIN, or NULL */
    const char *selector;        /* rotate --selector */
    int force;                   /* retire --force */
};

static void since_text(long long t, buf *out)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[32];
    gmtime_r(&tt, &tm);
    strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
    buf_append_str(out, text);
}

/* The record text of a selector (its key read from the secrets). */
static int record_of(const char *state, const char *domain, const char *selector, buf *text, buf *err)
{
    char *path = dkim_key_path(state, domain, selector);
    buf b64 = BUF_INIT;
    int rc = dkim_public_key(path, &b64, err);
    if (rc == 0)
        dkim_record_text(buf_cstr(&b64), text);
    buf_free(&b64);
    free(path);
    return rc;
}

/* ---- list ---------------------------------------------------------------- */

static int list(const struct options *o, const struct site *site, const struct dkim_args *a)
{
    buf json = BUF_INIT, err = BUF_INIT;
    int rc = EXIT_DONE;
    buf_append_str(&json, "{\"site\":");
    cli_json_string(&json, site->name);
    buf_printf(&json, ",\"enabled\":%s,\"domains\":[", site->dkim.enabled ? "true" : "false");
    if (!site->dkim.enabled && !o->json)
        printf("DKIM signing is off for site %s (site file: dkim.enabled false)\n", site->name);
    int first = 1;
    for (size_t i = 0; rc == EXIT_DONE && i < site->n_domains; i++) {
        const char *domain = site->domains[i];
        if (a->domain && strcmp(a->domain, domain) != 0)
            continue;
        struct dkim_domain d;
        if (dkim_domain_load(o->state_dir, domain, &d, &err) != 0) {
            cli_fail("dkim list", &err);
            rc = EXIT_FAILED;
            break;
        }
        buf_printf(&json, "%s{\"domain\":", first ? "" : ",");
        first = 0;
        cli_json_string(&json, domain);
        buf_append_str(&json, ",\"selectors\":[");
        if (!o->json && d.n_selectors == 0)
            printf("%s: no key yet (`emailng up` makes one)\n", domain);
        for (size_t k = 0; rc == EXIT_DONE && k < d.n_selectors; k++) {
            const struct dkim_selector *s = &d.selectors[k];
            buf text = BUF_INIT, since = BUF_INIT;
            char *name = dkim_record_name(s->name, domain);
            if (record_of(o->state_dir, domain, s->name, &text, &err) != 0) {
                cli_fail("dkim list", &err);
                rc = EXIT_FAILED;
            }
            since_text(s->since, &since);
            if (rc == EXIT_DONE && o->json) {
                buf_printf(&json, "%s{\"selector\":", k ? "," : "");
                cli_json_string(&json, s->name);
                buf_append_str(&json, ",\"state\":");
                cli_json_string(&json, dkim_state_name(s->state));
                buf_printf(&json, ",\"since\":%lld,\"record_name\":", s->since);
                cli_json_string(&json, name);
                buf_append_str(&json, ",\"record\":");
                cli_json_string(&json, buf_cstr(&text));
                buf_append_char(&json, '}');
            } else if (rc == EXIT_DONE) {
                printf("%-24s %-16s %-9s since %s\n    %s. IN TXT \"%s\"\n", domain, s->name,
                       dkim_state_name(s->state), buf_cstr(&since), name, buf_cstr(&text));
            }
            free(name);
            buf_free(&text);
            buf_free(&since);
        }
        buf_append_str(&json, "]}");
        dkim_domain_free(&d);
    }
    buf_append_str(&json, "]}\n");
    if (rc == EXIT_DONE && o->json)
        fputs(buf_cstr(&json), stdout);
    buf_free(&json);
    buf_free(&err);
    return rc;
}

/* ---- rotate -------------------------------------------------------------- */

static int rotate(const struct options *o, const struct site *site, const struct dkim_args *a)
{
    buf err = BUF_INIT, name = BUF_INIT, text = BUF_INIT;
    struct dkim_domain d;
    int rc = dkim_domain_load(o->state_dir, a->domain, &d, &err) == 0 ? EXIT_DONE : EXIT_FAILED;
    const struct dkim_selector *pending = rc == EXIT_DONE ? dkim_find_state(&d, DKIM_PENDING) : NULL;
    if (rc == EXIT_DONE && !site->dkim.enabled) {
        buf_printf(&err, "DKIM signing is off (site file: dkim.enabled false)");
        rc = EXIT_FAILED;
    } else if (rc == EXIT_DONE && dkim_find_state(&d, DKIM_ACTIVE) == NULL) {
        buf_printf(&err, "%s has no active key yet; `emailng up` makes the first one", a->domain);
        rc = EXIT_FAILED;
    } else if (pending) {
        buf_printf(&err, "%s already has a pending selector, %s: publish it and run `emailng dkim activate %s`",
                   a->domain, pending->name, a->domain);
        rc = EXIT_FAILED;
    }
    if (rc == EXIT_DONE && dkim_selector_add(o->state_dir, &d, a->selector, DKIM_PENDING, (long long)time(NULL),
                                             &name, &err) != 0)
        rc = EXIT_FAILED;
    if (rc == EXIT_DONE && record_of(o->state_dir, a->domain, buf_cstr(&name), &text, &err) != 0)
        rc = EXIT_FAILED;
    if (rc == EXIT_DONE) {
        char *rname = dkim_record_name(buf_cstr(&name), a->domain);
        printf("dkim rotate: new selector %s for %s (pending: not used for signing yet)\n"
               "Publish this record (also in `emailng dns`), wait until the DNS serves it, then run\n"
               "    emailng dkim activate %s\n"
               "%s. IN TXT \"%s\"\n",
               buf_cstr(&name), a->domain, a->domain, rname, buf_cstr(&text));
        free(rname);
    } else {
        cli_fail("dkim rotate", &err);
    }
    dkim_domain_free(&d);
    buf_free(&err);
    buf_free(&name);
    buf_free(&text);
    return rc;
}

/* ---- activate ------------------------------------------------------------ */

/* Every relay whose OpenDKIM runs here (the one-host site, or the test
 * fabric's relays, which share this state directory) gets the new tables
 * and reloads. A relay of a real site elsewhere takes them at its next
 * `emailng up`, once STATE/secrets/dkim is copied there. */
static int reload_relays(const struct options *o, const struct site *site, buf *err)
{
    int rc = 0;
    for (size_t h = 0; rc == 0 && h < site->n_hosts; h++) {
        const struct site_host *host = &site->hosts[h];
        if (!(host->roles & ROLE_RELAY))
            continue;
        struct service_env env;
        rc = service_env_init(&env, site, host, o->state_dir, err);
        if (rc == 0 && opendkim_pid(&env) == 0) {
            printf("  %s: OpenDKIM does not run here; copy %s/secrets/dkim to that host and run `emailng up` "
                   "there\n", host->name, o->state_dir);
        } else if (rc == 0) {
            rc = opendkim_sync_reload(&env, err);
            if (rc == 0)
                printf("  %s: OpenDKIM reloaded (pid %ld), signing with the new key\n", host->name,
                       (long)opendkim_pid(&env));
        }
        service_env_free(&env);
    }
    return rc;
}

static int activate(const struct options *o, const struct site *site, const struct dkim_args *a)
{
    buf err = BUF_INIT, expected = BUF_INIT, found = BUF_INIT;
    struct dkim_domain d;
    int rc = dkim_domain_load(o->state_dir, a->domain, &d, &err) == 0 ? EXIT_DONE : EXIT_FAILED;
    struct dkim_selector *pending = rc == EXIT_DONE ? dkim_find_state(&d, DKIM_PENDING) : NULL;
    char *rname = pending ? dkim_record_name(pending->name, a->domain) : NULL;
    if (rc == EXIT_DONE && !site->dkim.enabled) {
        buf_printf(&err, "DKIM signing is off (site file: dkim.enabled false)");
        rc = EXIT_FAILED;
    } else if (rc == EXIT_DONE && pending == NULL) {
        buf_printf(&err, "%s has no pending selector; `emailng dkim rotate %s` makes one", a->domain, a->domain);
        rc = EXIT_FAILED;
    }
    if (rc == EXIT_DONE && record_of(o->state_dir, a->domain, pending->name, &expected, &err) != 0)
        rc = EXIT_FAILED;
    /* Signing with a key the receivers cannot find fails every message:
     * only once the resolver serves exactly the record. */
    if (rc == EXIT_DONE && dns_lookup_txt(rname, &found, &err) != 0) {
        buf_printf(&err, "; not activated");
        rc = EXIT_FAILED;
    }
    if (rc == EXIT_DONE) {
        int served = 0;
        buf line = BUF_INIT;
        for (char *p = found.data, *nl; p && *p; p = nl + 1) {
            nl = strchr(p, '\n');
            buf_reset(&line);
            buf_append(&line, p, (size_t)(nl - p));
            served |= strcmp(buf_cstr(&line), buf_cstr(&expected)) == 0;
        }
        buf_free(&line);
        if (!served) {
            buf_printf(&err, "%s TXT is %s through the system resolver; publish\n    %s. IN TXT \"%s\"\n"
                             "and run `emailng dkim activate %s` again once the DNS serves it (not activated)",
                       rname, found.len ? "not the new key's record" : "not published (no TXT record)", rname,
                       buf_cstr(&expected), a->domain);
            rc = EXIT_FAILED;
        }
    }
    if (rc == EXIT_DONE) {
        long long now = (long long)time(NULL);
        for (size_t k = 0; k < d.n_selectors; k++)
            if (d.selectors[k].state == DKIM_ACTIVE) {
                d.selectors[k].state = DKIM_RETIRING;
                d.selectors[k].since = now;
            }
        pending->state = DKIM_ACTIVE;
        pending->since = now;
        if (dkim_domain_save(o->state_dir, &d, &err) != 0)
            rc = EXIT_FAILED;
    }
    if (rc == EXIT_DONE) {
        printf("dkim activate: %s now signs with selector %s (%s is served by the DNS)\n", a->domain,
               pending->name, rname);
        if (reload_relays(o, site, &err) != 0)
            rc = EXIT_FAILED;
        else
            printf("The old selector stays published (retiring) until `emailng dkim retire %s`, "
                   "at least %d days from now.\n", a->domain, site->dkim.retire_days);
    }
    if (rc != EXIT_DONE)
        cli_fail("dkim activate", &err);
    free(rname);
    dkim_domain_free(&d);
    buf_free(&err);
    buf_free(&expected);
    buf_free(&found);
    return rc;
}

/* ---- retire -------------------------------------------------------------- */

static int retire(const struct options *o, const struct site *site, const struct dkim_args *a)
{
    buf err = BUF_INIT;
    struct dkim_domain d;
    int rc = dkim_domain_load(o->state_dir, a->domain, &d, &err) == 0 ? EXIT_DONE : EXIT_FAILED;
    long long now = (long long)time(NULL);
    size_t kept = 0, removed = 0, young = 0;
    for (size_t k = 0; rc == EXIT_DONE && k < d.n_selectors; k++) {
        struct dkim_selector *s = &d.selectors[k];
        int old_enough = now - s->since >= site->dkim.retire_days * DAY;
        if (s->state != DKIM_RETIRING || !(old_enough || a->force)) {
            young += s->state == DKIM_RETIRING;
            d.selectors[kept++] = *s;
            continue;
        }
        char *path = dkim_key_path(o->state_dir, a->domain, s->name);
        printf("dkim retire: %s selector %s removed (withdraw %s._domainkey.%s from the DNS)\n", a->domain,
               s->name, s->name, a->domain);
        unlink(path);
        free(path);
        free(s->name);
        removed++;
    }
    if (rc == EXIT_DONE)
        d.n_selectors = kept;
    if (rc == EXIT_DONE && removed && dkim_domain_save(o->state_dir, &d, &err) != 0)
        rc = EXIT_FAILED;
    if (rc == EXIT_DONE && removed == 0) {
        if (young)
            buf_printf(&err, "%s: %zu retiring selector%s younger than %d days (dkim.retire_after_days): mail "
                             "signed with it may still be on its way or read; --force retires it now",
                       a->domain, young, young == 1 ? "" : "s", site->dkim.retire_days);
        else
            buf_printf(&err, "%s has no retiring selector", a->domain);
        rc = EXIT_FAILED;
    }
    if (rc != EXIT_DONE)
        cli_fail("dkim retire", &err);
    dkim_domain_free(&d);
    buf_free(&err);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

struct dkim_action {
    const char *name;
    int takes_domain;            /* DOMAIN is required */
    int (*run)(const struct options *o, const struct site *site, const struct dkim_args *a);
};

static const struct dkim_action actions[] = {
    {"list", 0, list},
    {"rotate", 1, rotate},
    {"activate", 1, activate},
    {"retire", 1, retire},
};

static int usage(const char *what, const char *word)
{
    if (word) {
        char *q = cli_quoted(word);
        fprintf(stderr, "emailng: dkim: %s %s\n", what, q);
        free(q);
    } else {
        fprintf(stderr, "emailng: dkim: %s\n", what);
    }
    fputs("usage: emailng dkim list [--domain DOMAIN] [--json]\n"
          "       emailng dkim rotate DOMAIN [--selector NAME]\n"
          "       emailng dkim activate DOMAIN\n"
          "       emailng dkim retire DOMAIN [--force]\n", stderr);
    return EXIT_USAGE;
}

int cmd_dkim_run(const struct options *o, int argc, char **argv)
{
    if (argc < 1)
        return usage("which action?", NULL);
    const struct dkim_action *act = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(argv[0], actions[i].name) == 0)
            act = &actions[i];
    if (act == NULL)
        return usage("unknown action", argv[0]);
    struct dkim_args a = {0};
    const char *domain = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--domain") == 0 && !act->takes_domain && i + 1 < argc && domain == NULL)
            domain = argv[++i];
        else if (strcmp(argv[i], "--selector") == 0 && act->run == rotate && i + 1 < argc && a.selector == NULL)
            a.selector = argv[++i];
        else if (strcmp(argv[i], "--force") == 0 && act->run == retire)
            a.force = 1;
        else if (act->takes_domain && domain == NULL && argv[i][0] != '-')
            domain = argv[i];
        else
            return usage("unexpected argument", argv[i]);
    }
    if (act->takes_domain && domain == NULL)
        return usage("which DOMAIN?", NULL);
    if (a.selector && !dkim_selector_valid(a.selector)) {
        char *q = cli_quoted(a.selector);
        fprintf(stderr, "emailng: dkim rotate: --selector %s: not a selector; expected 1 to %d of a-z, 0-9 "
                        "and '-' (not first or last)\n", q, DKIM_SELECTOR_MAX);
        free(q);
        return EXIT_USAGE;
    }
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    int rc = EXIT_DONE;
    if (domain) {
        for (size_t i = 0; i < site.n_domains && a.domain == NULL; i++)
            if (strcasecmp(site.domains[i], domain) == 0)
                a.domain = site.domains[i];
        if (a.domain == NULL) {
            buf names = BUF_INIT;
            for (size_t i = 0; i < site.n_domains; i++)
                buf_printf(&names, "%s%s", i ? ", " : "", site.domains[i]);
            char *q = cli_quoted(domain);
            fprintf(stderr, "emailng: dkim %s: %s: not a domain of site %s; its domains are %s\n", act->name, q,
                    site.name, buf_cstr(&names));
            free(q);
            buf_free(&names);
            rc = EXIT_USAGE;
        }
    }
    if (rc == EXIT_DONE)
        rc = act->run(o, &site, &a);
    site_free(&site);
    return rc;
}
