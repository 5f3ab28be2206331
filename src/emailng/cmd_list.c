/* cmd_list: see cmd_list.h. */
#include "cmd_list.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "alias_rules.h"
#include "buf.h"
#include "commands.h"
#include "directory.h"
#include "directory_export.h"
#include "render.h"
#include "site.h"

/* What one run works on. */
struct list_run {
    const char *sub;
    const struct site *site;
    struct directory *d;
    int json;
};

static int fail(const struct list_run *r, buf *err)
{
    fprintf(stderr, "emailng: list %s: %s\n", r->sub, err->len ? buf_cstr(err) : "failed");
    return 1;
}

static int usage(const char *sub, const char *problem)
{
    const struct command *c = command_find("list");
    const struct subcommand_help *h = command_find_subcommand(c, sub);
    fprintf(stderr, "emailng: list %s: %s\nusage: emailng list %s %s\n", sub, problem, sub, h ? h->usage : "");
    return 2;
}

/* The posting policies (policyd's listpolicy.c acts on them). */
static const char *const policies[] = {"open", "internal", "announce", NULL};

static int is_policy(const char *s)
{
    for (const char *const *p = policies; *p; p++)
        if (strcmp(*p, s) == 0)
            return 1;
    return 0;
}

/* Normalised address into out; 1 (reported) if it is none. */
static int normalize(const struct list_run *r, const char *in, buf *out)
{
    buf err = BUF_INIT;
    int rc = 0;
    if (address_normalize(in, r->site->domains[0], out, &err) != 0)
        rc = fail(r, &err);
    buf_free(&err);
    return rc;
}

/* The list's own address: served domain, no "+" in the local part. */
static int check_list_address(const struct list_run *r, const char *list)
{
    buf err = BUF_INIT;
    const char *at = strrchr(list, '@');
    if (!alias_rules_domain_served(list, (const char *const *)r->site->domains, r->site->n_domains))
        buf_printf(&err, "%s is not in a domain this site serves", list);
    else if (at && memchr(list, '+', (size_t)(at - list)))
        buf_printf(&err, "%s: a list's address may not contain \"+\" (LIST+owner and LIST+members are its own)",
                   list);
    int rc = err.len ? fail(r, &err) : 0;
    buf_free(&err);
    return rc;
}

/* Owners of the site's domains must be users (or addresses) that exist. */
static int check_owners(const struct list_run *r, const char *const *owners, size_t n)
{
    buf err = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!alias_rules_domain_served(owners[i], (const char *const *)r->site->domains, r->site->n_domains))
            continue;
        enum directory_address_use use;
        if (directory_address_use(r->d, owners[i], &use, &err) != 0)
            rc = fail(r, &err);
        else if (use != DIRECTORY_ADDRESS_USER && use != DIRECTORY_ADDRESS_USER_ALTERNATE) {
            buf_printf(&err, "owner %s is not a user of this site", owners[i]);
            rc = fail(r, &err);
        }
    }
    buf_free(&err);
    return rc;
}

static int require_list(const struct list_run *r, const char *list)
{
    buf err = BUF_INIT;
    int is = directory_is_list(r->d, list, &err);
    if (is == 0)
        buf_printf(&err, "no such list %s", list);
    int rc = is == 1 ? 0 : fail(r, &err);
    buf_free(&err);
    return rc;
}

/* ---- subcommands: words[0] is LIST (normalised), then the rest ---------- */

static int list_create(struct list_run *r, const char *const *words, size_t n, const char *policy)
{
    buf err = BUF_INIT;
    int rc = check_list_address(r, words[0]);
    if (rc == 0)
        rc = check_owners(r, words + 1, n - 1);
    if (rc == 0 && directory_list_create(r->d, words[0], policy, words + 1, n - 1, &err) != 0)
        rc = fail(r, &err);
    if (rc == 0)
        printf("list %s created (policy %s)\n", words[0], policy);
    buf_free(&err);
    return rc;
}

static int list_delete(struct list_run *r, const char *const *words, size_t n, const char *policy)
{
    (void)n;
    (void)policy;
    buf err = BUF_INIT;
    int rc = require_list(r, words[0]);
    if (rc == 0 && directory_alias_del(r->d, words[0], &err) != 0)
        rc = fail(r, &err);
    if (rc == 0)
        printf("list %s deleted\n", words[0]);
    buf_free(&err);
    return rc;
}

static int list_add(struct list_run *r, const char *const *words, size_t n, const char *policy)
{
    (void)policy;
    buf err = BUF_INIT;
    int rc = require_list(r, words[0]);
    struct directory_snapshot snapshot;
    if (rc == 0 && directory_snapshot_load(r->d, &snapshot, &err) != 0)
        rc = fail(r, &err);
    else if (rc == 0) {
        if (alias_rules_check(&snapshot, (const char *const *)r->site->domains, r->site->n_domains, words[0],
                              words + 1, n - 1, &err) != 0)
            rc = fail(r, &err);
        directory_snapshot_free(&snapshot);
    }
    int *was = xcalloc(n, sizeof *was);
    if (rc == 0 && directory_alias_add(r->d, words[0], words + 1, n - 1, was, &err) != 0)
        rc = fail(r, &err);
    for (size_t i = 1; rc == 0 && i < n; i++)
        printf(was[i - 1] ? "list %s: %s is already a member\n" : "list %s: %s added\n", words[0], words[i]);
    free(was);
    buf_free(&err);
    return rc;
}

static int list_remove(struct list_run *r, const char *const *words, size_t n, const char *policy)
{
    (void)policy;
    buf err = BUF_INIT;
    int deleted = 0;
    int rc = require_list(r, words[0]);
    if (rc == 0 && directory_alias_remove_members(r->d, words[0], words + 1, n - 1, &deleted, &err) != 0)
        rc = fail(r, &err);
    for (size_t i = 1; rc == 0 && i < n; i++)
        printf("list %s: %s removed\n", words[0], words[i]);
    buf_free(&err);
    return rc;
}

static int list_owner(struct list_run *r, const char *const *words, size_t n, const char *policy)
{
    (void)policy;
    buf err = BUF_INIT;
    int rc = check_owners(r, words + 1, n - 1);
    if (rc == 0 && directory_list_set(r->d, words[0], "emailngListOwner", words + 1, n - 1, &err) != 0)
        rc = fail(r, &err);
    if (rc == 0)
        printf("list %s: %zu owner%s\n", words[0], n - 1, n == 2 ? "" : "s");
    buf_free(&err);
    return rc;
}

static int list_policy(struct list_run *r, const char *const *words, size_t n, const char *policy)
{
    (void)n;
    (void)policy;
    buf err = BUF_INIT;
    int rc = 0;
    const char *value = words[1];
    if (directory_list_set(r->d, words[0], "emailngListPolicy", &value, 1, &err) != 0)
        rc = fail(r, &err);
    if (rc == 0)
        printf("list %s: policy %s\n", words[0], value);
    buf_free(&err);
    return rc;
}

static void json_strings(buf *out, char *const *v, size_t n)
{
    buf_append_char(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_char(out, ',');
        cli_json_string(out, v[i]);
    }
    buf_append_char(out, ']');
}

static int list_show(struct list_run *r, const char *const *words, size_t n, const char *policy)
{
    (void)policy;
    buf err = BUF_INIT, json = BUF_INIT;
    struct directory_alias *aliases = NULL;
    size_t n_aliases = 0;
    if (directory_alias_list(r->d, &aliases, &n_aliases, &err) != 0) {
        int rc = fail(r, &err);
        buf_free(&err);
        return rc;
    }
    size_t shown = 0;
    buf_append_str(&json, "{\"lists\":[");
    for (size_t i = 0; i < n_aliases; i++) {
        const struct directory_alias *a = &aliases[i];
        if (!a->is_list || (n > 0 && strcmp(a->mail, words[0]) != 0))
            continue;
        if (r->json) {
            buf_printf(&json, "%s{\"address\":", shown ? "," : "");
            cli_json_string(&json, a->mail);
            buf_append_str(&json, ",\"policy\":");
            cli_json_string(&json, a->list_policy[0] ? a->list_policy : "internal");
            buf_append_str(&json, ",\"owners\":");
            json_strings(&json, a->owners, a->n_owners);
            buf_append_str(&json, ",\"members\":");
            json_strings(&json, a->destinations, a->n_destinations);
            buf_append_str(&json, ",\"status\":");
            cli_json_string(&json, a->status);
            buf_append_char(&json, '}');
        } else {
            printf("%s (%s)\n  owners: ", a->mail, a->list_policy[0] ? a->list_policy : "internal");
            for (size_t j = 0; j < a->n_owners; j++)
                printf("%s%s", j ? ", " : "", a->owners[j]);
            printf("%s\n  members (%zu):", a->n_owners ? "" : "(none)", a->n_destinations);
            for (size_t j = 0; j < a->n_destinations; j++)
                printf("%s%s", j ? ", " : " ", a->destinations[j]);
            printf("\n");
        }
        shown++;
    }
    buf_append_str(&json, "]}");
    int rc = 0;
    if (n > 0 && shown == 0) {
        buf_printf(&err, "no such list %s", words[0]);
        rc = fail(r, &err);
    } else if (r->json) {
        puts(buf_cstr(&json));
    }
    directory_alias_list_free(aliases, n_aliases);
    buf_free(&err);
    buf_free(&json);
    return rc;
}

/* The subcommands: how many words (LIST included) they take, and whether
 * they change the directory (then the relays' tables are exported). */
static const struct {
    const char *name;
    size_t min_words, max_words;    /* max 0: no limit */
    int changes;
    int (*run)(struct list_run *r, const char *const *words, size_t n, const char *policy);
} subcommands[] = {
    {"create", 1, 0, 1, list_create},
    {"delete", 1, 1, 1, list_delete},
    {"add", 2, 0, 1, list_add},
    {"remove", 2, 0, 1, list_remove},
    {"owner", 2, 0, 1, list_owner},
    {"policy", 2, 2, 1, list_policy},
    {"show", 0, 1, 0, list_show},
};

int cmd_list_run(const struct options *o, int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 1) {
        fprintf(stderr, "emailng: list: missing subcommand (emailng list --help)\n");
        return 2;
    }
    size_t which = sizeof subcommands / sizeof subcommands[0];
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(subcommands[i].name, argv[0]) == 0)
            which = i;
    if (which == sizeof subcommands / sizeof subcommands[0]) {
        char *w = cli_quoted(argv[0]);
        fprintf(stderr, "emailng: list: unknown subcommand %s (emailng list --help)\n", w);
        free(w);
        return 2;
    }
    const char *sub = subcommands[which].name;

    /* options (--policy, --owner: create only) and words; for create the
     * words are LIST and then the owners */
    const char *policy = "internal";
    int is_create = strcmp(sub, "create") == 0;
    char **raw = xcalloc((size_t)argc + 1, sizeof *raw);
    char **owners = xcalloc((size_t)argc + 1, sizeof *owners);
    size_t n_raw = 0, n_owners = 0;
    for (int i = 1; i < argc; i++) {
        if (is_create && strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
            policy = argv[++i];
        } else if (is_create && strcmp(argv[i], "--owner") == 0 && i + 1 < argc) {
            owners[n_owners++] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            free(raw);
            free(owners);
            return usage(sub, "unknown option (or one without its value)");
        } else {
            raw[n_raw++] = argv[i];
        }
    }
    if (is_create && n_raw > 1) {
        free(raw);
        free(owners);
        return usage(sub, "one LIST only; owners with --owner ADDRESS");
    }
    for (size_t i = 0; i < n_owners; i++)
        raw[n_raw++] = owners[i];
    free(owners);
    if (!is_policy(policy)) {
        free(raw);
        return usage(sub, "the policy is open, internal or announce");
    }
    if (n_raw < subcommands[which].min_words || (subcommands[which].max_words && n_raw > subcommands[which].max_words)) {
        free(raw);
        return usage(sub, n_raw < subcommands[which].min_words ? "missing arguments" : "too many arguments");
    }
    int is_policy_sub = strcmp(sub, "policy") == 0;
    if (is_policy_sub && !is_policy(raw[1])) {
        free(raw);
        return usage(sub, "the policy is open, internal or announce");
    }

    struct site site;
    if (cli_load_site(o, &site, 1) != 0) {
        free(raw);
        return 1;
    }
    struct list_run r = {.sub = sub, .site = &site, .json = o->json};
    buf err = BUF_INIT;
    buf *norm = xcalloc(n_raw + 1, sizeof *norm);
    const char **words = xcalloc(n_raw + 1, sizeof *words);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_raw; i++) {
        if (is_policy_sub && i == 1)
            words[i] = raw[i];
        else if ((rc = normalize(&r, raw[i], &norm[i])) == 0)
            words[i] = buf_cstr(&norm[i]);
    }
    const struct site_host *dir_host = site_host_with_role(&site, ROLE_DIRECTORY);
    struct render_context ctx = {0};
    if (rc == 0 && render_context_for_host(&site, dir_host, o->state_dir, &ctx, &err) != 0)
        rc = fail(&r, &err);
    const char *ldap_uri = rc == 0 ? render_context_get(&ctx, "ldap_uri") : NULL;
    if (rc == 0 && directory_open(&r.d, ldap_uri, site.ldap_base, &err) != 0)
        rc = fail(&r, &err);
    if (rc == 0)
        rc = subcommands[which].run(&r, words, n_raw, policy);
    directory_close(r.d);
    /* A changed list changes what the border's policy server checks. */
    if (rc == 0 && subcommands[which].changes && directory_export(&site, o->state_dir, ldap_uri, &err) != 0) {
        fprintf(stderr, "emailng: list %s: the change is made, but %s; run `emailng up` to export it again\n", sub,
                buf_cstr(&err));
        rc = 1;
    }
    for (size_t i = 0; i < n_raw; i++)
        buf_free(&norm[i]);
    free(norm);
    free(words);
    free(raw);
    render_context_free(&ctx);
    buf_free(&err);
    site_free(&site);
    return rc;
}
