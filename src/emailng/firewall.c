/* firewall: our nftables table on a host; see firewall.h. */
#include "firewall.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fabric.h"
#include "fsutil.h"
#include "process.h"

#define NFT "/usr/sbin/nft"
#define TABLE_FAMILY "inet"
#define TABLE_NAME "emailng"

int firewall_wanted(const struct service_env *env)
{
    for (const char *const *c = render_components(env->host->roles); *c; c++)
        if (strcmp(*c, "nftables") == 0)
            return 1;
    return 0;
}

/* Runs nft with args (NULL-terminated) in the host's namespace: the test
 * fabric's PREFIX-HOST when this state directory has a fabric, else here.
 * Returns nft's exit status (output: its stdout and stderr), or -1. */
static int run_nft(const struct service_env *env, const char *const *args, buf *output, buf *err)
{
    char *prefix = fabric_prefix(env->state_dir);
    char *ns = NULL;
    if (fabric_exists(prefix)) {
        ns = xasprintf("%s-%s", prefix, env->host->name);
        /* Already inside it (a fabric host's own `up`): no `ip netns exec`. */
        char *path = xasprintf("/run/netns/%s", ns);
        struct stat target, self;
        if (stat(path, &target) == 0 && stat("/proc/self/ns/net", &self) == 0 && target.st_dev == self.st_dev
            && target.st_ino == self.st_ino) {
            free(ns);
            ns = NULL;
        }
        free(path);
    }
    size_t n = 0;
    while (args[n])
        n++;
    const char **argv = xcalloc(n + 6, sizeof *argv);
    size_t k = 0;
    if (ns) {
        argv[k++] = "/usr/sbin/ip";
        argv[k++] = "netns";
        argv[k++] = "exec";
        argv[k++] = ns;
    }
    argv[k++] = NFT;
    for (size_t i = 0; i < n; i++)
        argv[k++] = args[i];
    int rc = process_run(argv, NULL, output, err);
    free(argv);
    free(ns);
    free(prefix);
    return rc;
}

int firewall_load(const struct service_env *env, buf *err)
{
    char *file = service_path(env, "etc_dir", "nftables/emailng.nft");
    const char *args[] = {"-f", file, NULL};
    buf out = BUF_INIT;
    int rc = run_nft(env, args, &out, err);
    if (rc > 0)
        buf_printf(err, "nft -f %s failed (exit %d): %s", file, rc, buf_cstr(&out));
    buf_free(&out);
    free(file);
    return rc == 0 ? 0 : -1;
}

/* 1 if the table exists (listing gets it), 0 if not, -1 on another error. */
static int list_table(const struct service_env *env, const char *format, buf *listing, buf *err)
{
    const char *args[] = {"-s", format, "list", "table", TABLE_FAMILY, TABLE_NAME, NULL};
    const char *const *a = args;
    const char *text_args[] = {"-s", "list", "table", TABLE_FAMILY, TABLE_NAME, NULL};
    if (format == NULL)
        a = text_args;
    int rc = run_nft(env, a, listing, err);
    if (rc == 0)
        return 1;
    if (rc > 0 && strstr(buf_cstr(listing), "No such file or directory"))
        return 0;
    if (rc > 0)
        buf_printf(err, "nft list table %s %s failed (exit %d): %s", TABLE_FAMILY, TABLE_NAME, rc,
                   buf_cstr(listing));
    return -1;
}

int firewall_unload(const struct service_env *env, buf *err)
{
    buf listing = BUF_INIT;
    int exists = list_table(env, NULL, &listing, err);
    buf_free(&listing);
    if (exists <= 0)
        return exists;
    const char *args[] = {"delete", "table", TABLE_FAMILY, TABLE_NAME, NULL};
    buf out = BUF_INIT;
    int rc = run_nft(env, args, &out, err);
    if (rc > 0)
        buf_printf(err, "nft delete table %s %s failed (exit %d): %s", TABLE_FAMILY, TABLE_NAME, rc,
                   buf_cstr(&out));
    buf_free(&out);
    return rc == 0 ? 0 : -1;
}

int firewall_state(const struct service_env *env, struct firewall_state *state, buf *err)
{
    memset(state, 0, sizeof *state);
    buf text = BUF_INIT, json = BUF_INIT;
    /* -s: without counter values, so the digest names the rules only. */
    int rc = list_table(env, NULL, &text, err);
    if (rc == 1)
        rc = list_table(env, "-j", &json, err);
    if (rc == 1) {
        state->loaded = 1;
        /* Each rule is one {"rule": {...}} object of nft's JSON output. */
        for (const char *p = buf_cstr(&json); (p = strstr(p, "{\"rule\": {")) != NULL; p++)
            state->rules++;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (EVP_Digest(text.data, text.len, md, &md_len, EVP_sha256(), NULL) != 1) {
            buf_append_str(err, "SHA-256 of the ruleset failed");
            rc = -1;
        } else {
            for (size_t i = 0; i < 6; i++)
                snprintf(state->digest + 2 * i, 3, "%02x", md[i]);
        }
    }
    buf_free(&text);
    buf_free(&json);
    return rc < 0 ? -1 : 0;
}
