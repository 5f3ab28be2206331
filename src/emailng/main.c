/* emailng: render, start, stop and check an EmailNG site, and manage its
 * users. Every daemon runs with its configuration and state under the state
 * directory (default /var/lib/emailng); see docs/admin-manual.md. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "cmd_node.h"
#include "cmd_quarantine.h"
#include "cmd_replication.h"
#include "cmd_user.h"
#include "directory.h"
#include "fabric.h"
#include "firewall.h"
#include "fsutil.h"
#include "healthd_service.h"
#include "host_limits.h"
#include "password.h"
#include "policy_table.h"
#include "process.h"
#include "relay_tables.h"
#include "render.h"
#include "services.h"
#include "site.h"
#include "site_tls.h"
#include "tls.h"

#ifndef EMAILNG_DATADIR
#define EMAILNG_DATADIR "/usr/local/share/emailng"
#endif
#define DEFAULT_STATE "/var/lib/emailng"
#define READY_TIMEOUT_MS 30000

struct options {
    const char *state_dir;
    const char *site_file;
    const char *out_dir;
    const char *host;          /* --host NAME: only this host of the site */
    int json;
    int config_changed;        /* --config-changed: set by a fabric `up` for its hosts */
};

static const char *datadir(void)
{
    const char *d = getenv("EMAILNG_DATADIR");
    return d && *d ? d : EMAILNG_DATADIR;
}

static void usage(FILE *f)
{
    fputs("usage: emailng [--state DIR] COMMAND [ARGS]\n"
          "  up [--site FILE] [--host NAME] render, start every daemon, create demo users; a site of\n"
          "                               several hosts without --host starts each host in its own\n"
          "                               network namespace (test fabric); --host: only that host, here\n"
          "  down [--host NAME]           stop every daemon (and remove the test fabric)\n"
          "  status [--json] [--host NAME] every service: state, pid, ports, memory, queue\n"
          "  check --site FILE            validate a site file\n"
          "  render --site FILE --out DIR write every daemon's configuration\n"
          "  user add ADDRESS [--quota SIZE] [--password-stdin]\n"
          "  user del|show ADDRESS   user passwd ADDRESS [--password-stdin]\n"
          "  user quota ADDRESS SIZE|default   user list\n"
          "  alias add ALIAS DEST...   alias del ALIAS   alias list\n"
          "  user spam ADDRESS [--threshold N|default] [--allow|--deny|--unallow|--undeny SENDER]...\n"
          "  quarantine list | release ID | delete ID  [--host RELAY] (each relay has its own)\n"
          "  node list | drain STORE | undrain STORE   (a site of several hosts: take a store out of\n"
          "                               service and give it back; see docs/admin-manual.md)\n"
          "  replication status [--store ADDR|NAME]   replication caught-up [--store ADDR --partner ADDR]\n"
          "The state directory is /var/lib/emailng unless --state or EMAILNG_STATE says otherwise.\n",
          f);
}

static void fail(const char *what, buf *err)
{
    fprintf(stderr, "emailng: %s: %s\n", what, buf_cstr(err));
}

/* The site a state directory was started with, or the built-in small site. */
static int load_site(const struct options *o, struct site *site, int from_state)
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

static int cmd_check(const struct options *o)
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
    } else {
        printf("%s: ok (site %s, %zu domain(s), %zu host(s))\n", o->site_file, site.name,
               site.n_domains, site.n_hosts);
    }
    buf_free(&err);
    site_free(&site);
    return rc == 0 ? 0 : 1;
}

static int cmd_render(const struct options *o)
{
    if (o->site_file == NULL || o->out_dir == NULL) {
        fputs("emailng: render: --site FILE and --out DIR are required\n", stderr);
        return 2;
    }
    struct site site;
    if (load_site(o, &site, 0) != 0)
        return 1;
    buf err = BUF_INIT;
    char *templates = xasprintf("%s/templates", datadir());
    int rc = render_site(&site, templates, o->state_dir, o->out_dir, &err);
    if (rc != 0)
        fail("render", &err);
    else
        printf("rendered %zu host(s) of site %s into %s\n", site.n_hosts, site.name, o->out_dir);
    free(templates);
    buf_free(&err);
    site_free(&site);
    return rc == 0 ? 0 : 1;
}

/* Renders into STATE/etc.new and replaces STATE/etc with it if anything
 * differs. `changed` receives one "HOST/COMPONENT" line per configuration
 * folder that is new or differs, so that only those daemons restart. */
static int render_into_state(const struct site *site, const char *state, buf *changed, buf *err)
{
    char *templates = xasprintf("%s/templates", datadir());
    char *next = xasprintf("%s/etc.new", state);
    char *etc = xasprintf("%s/etc", state);
    int rc = fs_remove_tree(next, err);
    if (rc == 0)
        rc = render_site(site, templates, state, next, err);
    for (size_t h = 0; rc == 0 && h < site->n_hosts; h++) {
        const char *host = site->hosts[h].name;
        for (const char *const *c = render_components(site->hosts[h].roles); *c; c++) {
            char *a = xasprintf("%s/%s/%s", next, host, *c);
            char *b = xasprintf("%s/%s/%s", etc, host, *c);
            if (!fs_same_tree(a, b))
                buf_printf(changed, "%s/%s\n", host, *c);
            free(a);
            free(b);
        }
    }
    if (rc == 0 && changed->len > 0) {
        char *old = xasprintf("%s/etc.old", state);
        rc = fs_remove_tree(old, err);
        if (rc == 0 && fs_exists(etc) && rename(etc, old) != 0) {
            buf_printf(err, "cannot move %s aside: %s", etc, strerror(errno));
            rc = -1;
        }
        if (rc == 0 && rename(next, etc) != 0) {
            buf_printf(err, "cannot install %s: %s", etc, strerror(errno));
            rc = -1;
        }
        if (rc == 0)
            rc = fs_remove_tree(old, err);
        free(old);
    } else if (rc == 0) {
        rc = fs_remove_tree(next, err);
    }
    free(templates);
    free(next);
    free(etc);
    return rc;
}

/* Whether the configuration of a service on a host changed in this `up`. */
static int config_changed(const buf *changed, const char *host, const struct service *svc)
{
    char *line = xasprintf("%s/%s\n", host, service_component(svc));
    int found = changed->len > 0 && strstr(changed->data, line) != NULL;
    free(line);
    return found;
}

static int wait_ready(const struct service *svc, const struct service_env *env, buf *detail)
{
    long long deadline = clock_ms() + READY_TIMEOUT_MS;
    for (;;) {
        buf_reset(detail);
        if (svc->ready(env, detail) == 0)
            return 0;
        if (clock_ms() > deadline)
            return -1;
        usleep(100 * 1000);
    }
}

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

/* 1 if both paths name the same existing file. */
static int same_file(const char *a, const char *b)
{
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    int same = ra && rb && strcmp(ra, rb) == 0;
    free(ra);
    free(rb);
    return same;
}

/* --host NAME must name a host of the site. */
static int check_host_option(const struct options *o, const struct site *site)
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

static int host_selected(const struct options *o, const struct site_host *h)
{
    return o->host == NULL || strcmp(o->host, h->name) == 0;
}

static int cmd_up_host(const struct options *o, struct site *site);

/* A site of several hosts on this machine: the test fabric, then each host
 * started inside its namespace by `emailng up --host HOST` (fabric.h). */
static int cmd_up_fabric(const struct options *o, struct site *site)
{
    buf err = BUF_INIT;
    const char *state = o->state_dir;
    char *prefix = fabric_prefix(state);
    long long started = clock_ms();
    int rc = fs_ensure_dir(state, NULL, NULL, 0755, &err);
    char *copy = xasprintf("%s/site.yaml", state);
    if (rc == 0 && o->site_file && !same_file(o->site_file, copy))
        rc = fs_copy_file(o->site_file, copy, 0644, &err);
    if (rc == 0)
        rc = site_tls_ensure(site, state, NULL, &err);
    buf changed_list = BUF_INIT;
    if (rc == 0)
        rc = render_into_state(site, state, &changed_list, &err);
    int changed = changed_list.len > 0;
    buf_free(&changed_list);
    printf("emailng: site %s (%s), state %s, %zu hosts in the test fabric %s\n", site->name, site->source, state,
           site->n_hosts, prefix);
    if (rc == 0 && !fabric_exists(prefix)) {
        rc = fabric_create(site, prefix, datadir(), &err);
        if (rc == 0)
            printf("  fabric %s created: one network namespace %s-HOST per host\n", prefix, prefix);
    }
    if (rc == 0 && site->fabric.dns) {
        rc = fabric_dns_start(prefix, state, changed, &err);
        if (rc == 0)
            printf("== dns (%s): nsd up (pid %ld), authoritative for %s\n", site->fabric.dns,
                   (long)fabric_dns_pid(state), site->domains[0]);
    }
    char *self = realpath("/proc/self/exe", NULL);
    if (rc == 0 && self == NULL) {
        buf_printf(&err, "cannot find the emailng program: %s", strerror(errno));
        rc = -1;
    }
    size_t *order = xcalloc(site->n_hosts, sizeof *order);
    fabric_start_order(site, order);
    for (size_t k = 0; rc == 0 && k < site->n_hosts; k++) {
        const struct site_host *h = &site->hosts[order[k]];
        const char *argv[] = {self, "--state", state, "--site", copy, "--host", h->name, "up",
                              changed ? "--config-changed" : NULL, NULL};
        buf out = BUF_INIT;
        printf("== %s (%s)\n", h->name, h->address);
        fflush(stdout);
        int status = fabric_run(prefix, h->name, argv, &out, &err);
        fputs(buf_cstr(&out), stdout);
        if (status != 0) {
            if (status > 0)
                buf_printf(&err, "host %s did not come up (exit %d, see above)", h->name, status);
            rc = -1;
        }
        buf_free(&out);
    }
    free(order);
    if (rc == 0) {
        const struct site_host *relay = site_host_with_role(site, ROLE_RELAY);
        const struct site_host *proxy = site_host_with_role(site, ROLE_PROXY);
        printf("emailng: %zu hosts up in %.1f s (fabric %s; `ip netns exec %s-client ...` plays a client).\n",
               site->n_hosts, (double)(clock_ms() - started) / 1000, prefix, prefix);
        printf("  MX %s (%s) ...; IMAP/POP3/ManageSieve %s (%s) ...; trust %s/tls/ca.crt\n", relay->name,
               relay->address, proxy->name, proxy->address, state);
    } else {
        fail("up", &err);
    }
    free(self);
    free(copy);
    free(prefix);
    buf_free(&err);
    return rc == 0 ? 0 : 1;
}

static int cmd_up(const struct options *o)
{
    if (geteuid() != 0) {
        fputs("emailng: up: must run as root (the daemons bind to ports below 1024 and drop privileges)\n", stderr);
        return 1;
    }
    struct site site;
    if (load_site(o, &site, 1) != 0)
        return 1;
    int rc;
    if (check_host_option(o, &site) != 0)
        rc = 2;
    else if (site.n_hosts > 1 && o->host == NULL)
        rc = cmd_up_fabric(o, &site);
    else
        rc = cmd_up_host(o, &site);
    site_free(&site);
    return rc;
}

/* Every host of the site, or only --host, in this network namespace. */
static int cmd_up_host(const struct options *o, struct site *site_arg)
{
    struct site site = *site_arg;     /* borrowed: the caller frees it */
    buf err = BUF_INIT;
    int rc = 0;
    long long started = clock_ms();
    const char *state = o->state_dir;

    printf("emailng: site %s (%s), state %s\n", site.name, site.source, state);
    rc = fs_ensure_dir(state, NULL, NULL, 0755, &err);
    /* Keep the site this state directory runs, so that later commands
     * (down, status, user ...) and a later `up` use the same one. With no
     * --site that is the small-site example, which equals the built-in
     * default (a unit test holds them together). */
    char *copy = xasprintf("%s/site.yaml", state);
    char *example = xasprintf("%s/examples/small-site.yaml", datadir());
    /* A fabric host's `up` is given the state's own copy. */
    if (rc == 0 && o->site_file && !same_file(o->site_file, copy))
        rc = fs_copy_file(o->site_file, copy, 0644, &err);
    else if (rc == 0 && !fs_exists(copy) && fs_exists(example))
        rc = fs_copy_file(example, copy, 0644, &err);
    free(copy);
    free(example);
    const struct site_host *only = NULL;
    for (size_t h = 0; o->host && h < site.n_hosts; h++)
        if (strcmp(site.hosts[h].name, o->host) == 0)
            only = &site.hosts[h];
    if (rc == 0)
        rc = site_tls_ensure(&site, state, only, &err);
    buf changed_list = BUF_INIT;
    if (rc == 0)
        rc = render_into_state(&site, state, &changed_list, &err);
    /* A fabric `up` renders for every host first and tells each host with
     * --config-changed: then all of its daemons take the new configuration. */
    int changed = changed_list.len > 0 || o->config_changed;
    if (rc != 0) {
        fail("up", &err);
        buf_free(&err);
        buf_free(&changed_list);
        return 1;
    }
    printf("  configuration %s\n", changed ? "rendered (changed)" : "unchanged");

    int started_any = 0;
    for (size_t h = 0; rc == 0 && h < site.n_hosts; h++) {
        if (!host_selected(o, &site.hosts[h]))
            continue;
        struct service_env env;
        if (service_env_init(&env, &site, &site.hosts[h], state, &err) != 0) {
            rc = -1;
            service_env_free(&env);
            break;
        }
        /* The host's firewall first (X1): every time, so the kernel holds
         * what is rendered even if someone changed it. */
        if (firewall_wanted(&env)) {
            rc = firewall_load(&env, &err);
            if (rc == 0)
                printf("  %-8s table inet emailng loaded\n", "nftables");
        }
        for (size_t s = 0; rc == 0 && s < n_services; s++) {
            const struct service *svc = &services[s];
            if (!service_wanted(svc, &env))
                continue;
            pid_t pid = svc->pid(&env);
            if (pid && (o->config_changed || config_changed(&changed_list, env.host->name, svc))) {
                /* New configuration: restart so it takes effect. */
                printf("  %-8s restarting for the new configuration\n", svc->name);
                rc = svc->stop(&env, &err);
                pid = 0;
            }
            if (pid) {
                printf("  %-8s already up (pid %ld)\n", svc->name, (long)pid);
            } else if (rc == 0) {
                long long t0 = clock_ms();
                printf("  %-8s starting ... ", svc->name);
                fflush(stdout);
                buf detail = BUF_INIT;
                rc = svc->prepare(&env, &err);
                if (rc == 0)
                    rc = service_check_ports(svc, &env, &err);
                if (rc == 0)
                    rc = svc->start(&env, &err);
                if (rc == 0 && wait_ready(svc, &env, &detail) != 0) {
                    buf_printf(&err, "%s started but did not answer within %d s (%s); see %s/log/%s/",
                               svc->name, READY_TIMEOUT_MS / 1000, buf_cstr(&detail), state, env.host->name);
                    rc = -1;
                }
                if (rc == 0)
                    printf("up (pid %ld, %.1f s)\n", (long)svc->pid(&env), (double)(clock_ms() - t0) / 1000);
                else
                    printf("failed\n");
                fflush(stdout);
                buf_free(&detail);
                started_any = 1;
            }
            if (rc == 0 && strcmp(svc->name, "slapd") == 0)
                rc = ensure_demo_users(&site, &env, state, &err);
            if (rc == 0 && strcmp(svc->name, "slapd") == 0)
                rc = healthd_probe_account_ensure(&site, render_context_get(&env.ctx, "ldap_uri"), state, &err);
            /* The relays' emailng-policyd reads users and aliases from a table. */
            if (rc == 0 && strcmp(svc->name, "slapd") == 0)
                rc = policy_table_export(&site, state, render_context_get(&env.ctx, "ldap_uri"), &err);
            if (rc == 0 && strcmp(svc->name, "slapd") == 0)
                rc = relay_tables_export(&site, state, render_context_get(&env.ctx, "ldap_uri"), &err);
        }
        service_env_free(&env);
    }
    if (rc != 0) {
        fail("up", &err);
    } else if (!started_any && !changed) {
        printf("emailng: everything was already up; nothing changed\n");
    } else if (o->host) {
        printf("emailng: host %s up in %.1f s\n", o->host, (double)(clock_ms() - started) / 1000);
    } else {
        const struct site_host *front = site_host_with_role(&site, ROLE_PROXY);
        printf("emailng: up in %.1f s. Connect to %s (%s):\n", (double)(clock_ms() - started) / 1000,
               site.tls_names[0], front->address);
        printf("  IMAP %d (STARTTLS), %d (TLS)   POP3 %d (STLS), %d (TLS)   ManageSieve %d (STARTTLS)\n",
               site.ports.imap, site.ports.imaps, site.ports.pop3, site.ports.pop3s, site.ports.managesieve);
        printf("  SMTP %d (MX)   submission %d (STARTTLS), %d (TLS)\n", site.ports.smtp,
               site.ports.submission, site.ports.submissions);
        printf("  Trust the CA in %s/tls/ca.crt; the server name is %s.\n", state, site.tls_names[0]);
        if (site.demo_users)
            printf("  Demo users and passwords: %s/secrets/demo-passwords (root only).\n", state);
    }
    buf_free(&err);
    buf_free(&changed_list);
    return rc == 0 ? 0 : 1;
}

static int cmd_down(const struct options *o)
{
    struct site site;
    if (load_site(o, &site, 1) != 0)
        return 1;
    buf err = BUF_INIT;
    int rc = check_host_option(o, &site);
    /* Hosts in reverse start order: relays first, the directory last. */
    size_t *order = xcalloc(site.n_hosts, sizeof *order);
    fabric_start_order(&site, order);
    for (size_t k = site.n_hosts; rc == 0 && k-- > 0;) {
        size_t h = order[k];
        if (!host_selected(o, &site.hosts[h]))
            continue;
        if (site.n_hosts > 1)
            printf("== %s\n", site.hosts[h].name);
        struct service_env env;
        if (service_env_init(&env, &site, &site.hosts[h], o->state_dir, &err) != 0) {
            service_env_free(&env);
            rc = -1;
            break;
        }
        /* Stop in reverse order: mail first, the directory last. */
        for (size_t s = n_services; s-- > 0;) {
            const struct service *svc = &services[s];
            if (!service_wanted(svc, &env))
                continue;
            pid_t pid = svc->pid(&env);
            if (pid == 0) {
                printf("  %-8s not running\n", svc->name);
                continue;
            }
            if (svc->stop(&env, &err) != 0) {
                rc = -1;
                printf("  %-8s did not stop\n", svc->name);
            } else {
                printf("  %-8s stopped (was pid %ld)\n", svc->name, (long)pid);
            }
        }
        if (rc == 0 && firewall_wanted(&env)) {
            rc = firewall_unload(&env, &err);
            if (rc == 0)
                printf("  %-8s table inet emailng removed (or none)\n", "nftables");
        }
        service_env_free(&env);
    }
    free(order);
    /* The test fabric goes once every host is down (processes first: a
     * deleted namespace does not stop what runs in it). */
    char *prefix = fabric_prefix(o->state_dir);
    if (rc == 0 && site.n_hosts > 1 && o->host == NULL && fabric_dns_pid(o->state_dir)) {
        rc = fabric_dns_stop(o->state_dir, &err);
        if (rc == 0)
            printf("  nsd      stopped (the fabric's DNS)\n");
    }
    if (rc == 0 && site.n_hosts > 1 && o->host == NULL && fabric_exists(prefix)) {
        rc = fabric_destroy(prefix, datadir(), &err);
        if (rc == 0)
            printf("  fabric %s removed\n", prefix);
    }
    free(prefix);
    if (rc != 0)
        fail("down", &err);
    buf_free(&err);
    site_free(&site);
    return rc == 0 ? 0 : 1;
}

static void json_string(buf *out, const char *s)
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

static int cmd_status(const struct options *o)
{
    struct site site;
    if (load_site(o, &site, 1) != 0)
        return 1;
    buf err = BUF_INIT, json = BUF_INIT;
    int all_up = 1;
    long total_kb = 0, total_pss_kb = 0;
    buf_append_str(&json, "{\"site\":");
    json_string(&json, site.name);
    buf_append_str(&json, ",\"hosts\":[");
    if (check_host_option(o, &site) != 0) {
        site_free(&site);
        buf_free(&json);
        return 2;
    }
    if (!o->json)
        printf("%-8s %-13s %-5s %-8s %-10s %-6s %s\n", "HOST", "SERVICE", "STATE", "PID", "MEMORY", "QUEUE", "PORTS");
    int first_host = 1;
    for (size_t h = 0; h < site.n_hosts; h++) {
        if (!host_selected(o, &site.hosts[h]))
            continue;
        struct service_env env;
        if (service_env_init(&env, &site, &site.hosts[h], o->state_dir, &err) != 0) {
            fail("status", &err);
            service_env_free(&env);
            site_free(&site);
            buf_free(&err);
            buf_free(&json);
            return 1;
        }
        buf_printf(&json, "%s{\"name\":", first_host ? "" : ",");
        first_host = 0;
        json_string(&json, env.host->name);
        buf_append_str(&json, ",\"services\":[");
        int first = 1;
        for (size_t s = 0; s < n_services; s++) {
            const struct service *svc = &services[s];
            if (!service_wanted(svc, &env))
                continue;
            pid_t pid = svc->pid(&env);
            long rss = pid ? process_tree_rss_kb(pid) : 0;
            long pss = pid ? process_tree_pss_kb(pid) : 0;
            long queue = strcmp(svc->name, "postfix") == 0 ? postfix_queue_size(&env) : -1;
            buf ports = BUF_INIT, ports_json = BUF_INIT;
            for (const char *const *p = service_ports(svc, &env); *p; p++) {
                buf_printf(&ports, "%s%d", ports.len ? " " : "", service_port(&env, *p));
                buf_printf(&ports_json, "%s%d", ports_json.len ? "," : "", service_port(&env, *p));
            }
            const char *local = service_local_endpoint(svc);
            if (local)
                buf_printf(&ports, "%s%s", ports.len ? " " : "", local);
            total_kb += rss;
            total_pss_kb += pss;
            if (!pid)
                all_up = 0;
            buf_printf(&json, "%s{\"name\":\"%s\",\"state\":\"%s\",\"pid\":%ld,\"rss_kb\":%ld,\"pss_kb\":%ld,"
                       "\"ports\":[%s]", first ? "" : ",", svc->name, pid ? "up" : "down", (long)pid, rss, pss,
                       buf_cstr(&ports_json));
            if (local)
                buf_printf(&json, ",\"local\":\"%s\"", local);
            if (queue >= 0)
                buf_printf(&json, ",\"queue\":%ld", queue);
            buf_append_char(&json, '}');
            first = 0;
            if (!o->json) {
                char mem[32] = "-", q[32] = "-", pidtext[32] = "-";
                if (pid) {
                    snprintf(pidtext, sizeof pidtext, "%ld", (long)pid);
                    snprintf(mem, sizeof mem, "%.1f MiB", (double)pss / 1024);
                }
                if (queue >= 0)
                    snprintf(q, sizeof q, "%ld", queue);
                printf("%-8s %-13s %-5s %-8s %-10s %-6s %s\n", env.host->name, svc->name, pid ? "up" : "down",
                       pidtext, mem, q, buf_cstr(&ports));
            }
            buf_free(&ports);
            buf_free(&ports_json);
        }
        buf_append_char(&json, ']');
        /* A store's kernel limits for IDLE sessions (raised by `up` where
         * the host allows it): a shortfall is reported, not an outage. */
        if (env.host->roles & ROLE_STORE) {
            buf low = BUF_INIT, values = BUF_INIT;
            int n_low = host_kernel_limits_check("/proc/sys", &low);
            buf_append_str(&json, ",\"kernel\":{");
            for (size_t k = 0; k < host_n_kernel_limits; k++) {
                long v = host_kernel_limit_read("/proc/sys", &host_kernel_limits[k]);
                buf_printf(&json, "\"%s\":%ld,", host_kernel_limits[k].name, v);
                buf_printf(&values, "%s%s %ld", k ? ", " : "", host_kernel_limits[k].name, v);
            }
            buf_printf(&json, "\"ok\":%s}", n_low ? "false" : "true");
            if (!o->json)
                printf("%-8s %-13s %-5s %-8s %-10s %-6s %s\n", env.host->name, "kernel", n_low ? "low" : "ok", "-",
                       "-", "-", buf_cstr(&values));
            if (n_low) {
                char *prefix = xasprintf("%s: ", env.host->name);
                host_limits_warn(stderr, prefix, buf_cstr(&low));
                free(prefix);
            }
            buf_free(&low);
            buf_free(&values);
        }
        /* Its firewall, where we can see it: the fabric's namespace of the
         * host, or this machine when it is the --host asked about. */
        char *prefix = fabric_prefix(o->state_dir);
        if (firewall_wanted(&env) && (o->host || fabric_exists(prefix))) {
            struct firewall_state fw;
            buf fw_err = BUF_INIT;
            if (firewall_state(&env, &fw, &fw_err) != 0)
                fw.loaded = 0;
            if (!fw.loaded)
                all_up = 0;
            buf_printf(&json, ",\"firewall\":{\"state\":\"%s\",\"rules\":%ld,\"sha256\":\"%s\"}",
                       fw.loaded ? "loaded" : "none", fw.rules, fw.digest);
            if (!o->json && fw.loaded)
                printf("%-8s %-13s %-5s %-8s %-10s %-6s table inet emailng loaded: %ld rules, sha256 %s\n",
                       env.host->name, "nftables", "up", "-", "-", "-", fw.rules, fw.digest);
            else if (!o->json)
                printf("%-8s %-13s %-5s %-8s %-10s %-6s not loaded %s\n", env.host->name, "nftables", "down",
                       "-", "-", "-", buf_cstr(&fw_err));
            buf_free(&fw_err);
        }
        free(prefix);
        buf_append_char(&json, '}');
        service_env_free(&env);
    }
    buf_append_char(&json, ']');
    /* The test fabric's DNS server, when this state runs one. */
    if (site.n_hosts > 1 && site.fabric.dns && o->host == NULL) {
        char *prefix = fabric_prefix(o->state_dir);
        if (fabric_exists(prefix)) {
            pid_t dns = fabric_dns_pid(o->state_dir);
            buf_printf(&json, ",\"fabric\":{\"prefix\":\"%s\",\"dns\":{\"state\":\"%s\",\"pid\":%ld}}",
                       prefix, dns ? "up" : "down", (long)dns);
            if (!o->json) {
                char pidtext[32] = "-";
                if (dns)
                    snprintf(pidtext, sizeof pidtext, "%ld", (long)dns);
                printf("%-8s %-13s %-5s %-8s %-10s %-6s %s\n", "dns", "nsd", dns ? "up" : "down", pidtext, "-", "-",
                       "53 (test fabric)");
            }
            if (!dns)
                all_up = 0;
        }
        free(prefix);
    }
    buf_printf(&json, ",\"rss_kb_total\":%ld,\"pss_kb_total\":%ld,\"all_up\":%s}", total_kb, total_pss_kb,
               all_up ? "true" : "false");
    if (o->json)
        puts(buf_cstr(&json));
    else
        printf("memory (PSS: shared pages split among their processes): %.1f MiB in all "
               "(RSS, counting shared pages in each process: %.1f MiB); %s\n",
               (double)total_pss_kb / 1024, (double)total_kb / 1024,
               all_up ? "all services up" : "some services are down");
    buf_free(&json);
    buf_free(&err);
    site_free(&site);
    return all_up ? 0 : 3;
}

static int cmd_directory(const struct options *o, int argc, char **argv, int is_user)
{
    struct site site;
    if (load_site(o, &site, 1) != 0)
        return 1;
    buf err = BUF_INIT;
    const struct site_host *dir_host = site_host_with_role(&site, ROLE_DIRECTORY);
    const struct site_host *store = site_host_with_role(&site, ROLE_STORE);
    struct render_context ctx = {0};
    int rc;
    if (render_context_for_host(&site, dir_host, o->state_dir, &ctx, &err) != 0) {
        fail(is_user ? "user" : "alias", &err);
        rc = 1;
    } else {
        struct directory_target t = {
            .ldap_uri = render_context_get(&ctx, "ldap_uri"),
            .base = site.ldap_base,
            .primary_domain = site.domains[0],
            .default_mail_host = store && store->store_pair ? store->store_pair : "pair1",
        };
        rc = is_user ? cmd_user(argc, argv, &t) : cmd_alias(argc, argv, &t);
        /* A new or removed user or alias changes what the relays' policy
         * server expands and checks: export its table again. */
        if (rc == 0 && argc > 0 && (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0)
            && (policy_table_export(&site, o->state_dir, t.ldap_uri, &err) != 0
                || relay_tables_export(&site, o->state_dir, t.ldap_uri, &err) != 0)) {
            fprintf(stderr, "emailng: %s %s: the change is made, but %s; run `emailng up` to export it again\n",
                    is_user ? "user" : "alias", argv[0], buf_cstr(&err));
            rc = 1;
        }
    }
    render_context_free(&ctx);
    buf_free(&err);
    site_free(&site);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    /* libldap writes to its socket without MSG_NOSIGNAL; a vanished slapd
     * must give an error, not kill the tool. */
    signal(SIGPIPE, SIG_IGN);
    const char *env_state = getenv("EMAILNG_STATE");
    o.state_dir = env_state && *env_state ? env_state : DEFAULT_STATE;

    /* Global options may stand anywhere; the rest is the command and its words. */
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--state") == 0)
            slot = &o.state_dir;
        else if (strcmp(a, "--site") == 0)
            slot = &o.site_file;
        else if (strcmp(a, "--out") == 0)
            slot = &o.out_dir;
        else if (strcmp(a, "--host") == 0)
            slot = &o.host;
        if (slot) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                fprintf(stderr, "emailng: %s needs a value\n", a);
                free(rest);
                return 2;
            }
            *slot = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (strcmp(a, "--config-changed") == 0) {
            o.config_changed = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(rest);
            return 0;
        } else {
            rest[n++] = argv[i];
        }
    }
    int rc = 2;
    if (n == 0) {
        usage(stderr);
    } else if (o.state_dir[0] != '/') {
        fprintf(stderr, "emailng: --state %s: expected an absolute path\n", o.state_dir);
    } else if (strcmp(rest[0], "up") == 0 && n == 1) {
        rc = cmd_up(&o);
    } else if (strcmp(rest[0], "down") == 0 && n == 1) {
        rc = cmd_down(&o);
    } else if (strcmp(rest[0], "status") == 0 && n == 1) {
        rc = cmd_status(&o);
    } else if (strcmp(rest[0], "check") == 0 && n == 1) {
        rc = cmd_check(&o);
    } else if (strcmp(rest[0], "render") == 0 && n == 1) {
        rc = cmd_render(&o);
    } else if (strcmp(rest[0], "user") == 0) {
        rc = cmd_directory(&o, n - 1, rest + 1, 1);
    } else if (strcmp(rest[0], "alias") == 0) {
        rc = cmd_directory(&o, n - 1, rest + 1, 0);
    } else if (strcmp(rest[0], "node") == 0) {           /* cmd_node.c */
        struct site site;
        rc = 1;
        if (load_site(&o, &site, 1) == 0) {
            rc = cmd_node(&site, o.state_dir, n - 1, rest + 1);
            site_free(&site);
        }
    } else if (strcmp(rest[0], "quarantine") == 0) {     /* cmd_quarantine.c */
        struct site site;
        rc = 1;
        if (load_site(&o, &site, 1) == 0) {
            rc = check_host_option(&o, &site) == 0 ? cmd_quarantine(&site, o.state_dir, o.host, n - 1, rest + 1) : 1;
            site_free(&site);
        }
    } else if (strcmp(rest[0], "replication") == 0) {    /* cmd_replication.c */
        struct site site;
        rc = 2;
        if (load_site(&o, &site, 1) == 0) {
            rc = cmd_replication(&site, o.state_dir, n - 1, rest + 1);
            site_free(&site);
        }
    } else {
        fprintf(stderr, "emailng: unknown command \"%s\"\n", rest[0]);
        usage(stderr);
    }
    free(rest);
    return rc;
}
