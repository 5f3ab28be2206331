/* cmd_up: `emailng up` and `emailng down`; see cmd_up.h. */
#include "cmd_up.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_change.h"
#include "dkim.h"
#include "fabric.h"
#include "firewall.h"
#include "fsutil.h"
#include "logrotate_install.h"
#include "cron_jobs.h"
#include "process.h"
#include "public_cert.h"
#include "render.h"
#include "secret_users.h"
#include "services.h"
#include "site_tls.h"
#include "tls.h"

#define READY_TIMEOUT_MS 30000

/* Renders into STATE/etc.new and replaces STATE/etc with it if anything
 * differs. `changed` receives one "HOST/COMPONENT" line per configuration
 * folder that is new or differs, so that only those daemons restart. */
static int render_into_state(const struct site *site, const char *state, buf *changed, buf *err)
{
    char *templates = xasprintf("%s/templates", cli_datadir());
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

/* The components of host in a render_into_state() list ("HOST/COMP"
 * lines), comma-separated, or NULL if none changed (caller frees). */
static char *host_changed_components(const buf *changed, const char *host)
{
    buf out = BUF_INIT;
    size_t hl = strlen(host);
    const char *p = changed->len ? changed->data : "";
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > hl + 1 && strncmp(p, host, hl) == 0 && p[hl] == '/')
            buf_printf(&out, "%s%.*s", out.len ? "," : "", (int)(len - hl - 1), p + hl + 1);
        p += len + (eol != NULL);
    }
    if (out.len == 0) {
        buf_free(&out);
        return NULL;
    }
    char *s = xstrdup(buf_cstr(&out));
    buf_free(&out);
    return s;
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

/* Each domain's DKIM key, made when missing (dkim.h); the relays' OpenDKIM
 * gets its copy when it starts (opendkim_service.c). */
static int up_dkim_keys(const struct site *site, const char *state, buf *err)
{
    int made = 0;
    int rc = dkim_keys_ensure(site, state, &made, err);
    if (rc == 0 && made)
        printf("  DKIM: %d key%s made in %s/secrets/dkim (publish the records `emailng dns` prints)\n", made,
               made == 1 ? "" : "s", state);
    return rc;
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
    /* Certificates: each host's `up --host` below makes or renews its own
     * (and the CA), so that it knows to restart the daemons that use them. */
    /* DKIM keys before rendering: the fabric's nsd zones publish them. */
    if (rc == 0)
        rc = up_dkim_keys(site, state, &err);
    buf changed_list = BUF_INIT;
    if (rc == 0)
        rc = render_into_state(site, state, &changed_list, &err);
    int changed = changed_list.len > 0;
    printf("emailng: site %s (%s), state %s, %zu hosts in the test fabric %s\n", site->name, site->source, state,
           site->n_hosts, prefix);
    if (rc == 0 && !fabric_exists(prefix)) {
        rc = fabric_create(site, prefix, cli_datadir(), &err);
        if (rc == 0)
            printf("  fabric %s created: one network namespace %s-HOST per host\n", prefix, prefix);
    } else if (rc == 0 && changed) {
        /* A running site whose file gained hosts (a second store pair):
         * the fabric makes the namespaces it lacks. */
        buf out = BUF_INIT;
        rc = fabric_add_hosts(site, prefix, cli_datadir(), &out, &err);
        if (rc == 0 && strstr(buf_cstr(&out), " added"))
            printf("  %s", buf_cstr(&out));
        buf_free(&out);
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
        /* Each host restarts only the daemons whose configuration changed:
         * a new pair starts its stores and touches the hosts that list
         * stores, the others stay up. */
        char *components = host_changed_components(&changed_list, h->name);
        const char *argv[] = {self, "--state", state, "--site", copy, "--host", h->name, "up",
                              components ? "--changed-components" : NULL, components, NULL};
        buf out = BUF_INIT;
        printf("== %s (%s)\n", h->name, h->address);
        fflush(stdout);
        int status = fabric_run(prefix, h->name, argv, &out, &err);
        free(components);
        fputs(buf_cstr(&out), stdout);
        if (status != 0) {
            if (status > 0)
                buf_printf(&err, "host %s did not come up (exit %d, see above)", h->name, status);
            rc = -1;
        }
        buf_free(&out);
    }
    free(order);
    buf_free(&changed_list);
    if (rc == 0) {
        const struct site_host *relay = site_host_with_role(site, ROLE_RELAY);
        const struct site_host *proxy = site_host_with_role(site, ROLE_PROXY);
        printf("emailng: %zu hosts up in %.1f s (fabric %s; `ip netns exec %s-client ...` plays a client).\n",
               site->n_hosts, (double)(clock_ms() - started) / 1000, prefix, prefix);
        printf("  MX %s (%s) ...; IMAP/POP3/ManageSieve %s (%s) ...; trust %s/tls/ca.crt\n", relay->name,
               relay->address, proxy->name, proxy->address, state);
    } else {
        cli_fail("up", &err);
    }
    free(self);
    free(copy);
    free(prefix);
    buf_free(&err);
    return rc == 0 ? 0 : 1;
}

int cmd_up(const struct options *o)
{
    if (geteuid() != 0) {
        fputs("emailng: up: must run as root (the daemons bind to ports below 1024 and drop privileges)\n", stderr);
        return 1;
    }
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return 1;
    int rc;
    if (cli_check_host_option(o, &site) != 0)
        rc = 2;
    else if (site.n_hosts > 1 && o->host == NULL)
        rc = cmd_up_fabric(o, &site);
    else
        rc = cmd_up_host(o, &site);
    buf err = BUF_INIT;
    if (rc == 0 && (logrotate_install(&site, o->state_dir, &err) != 0 ||
                    cron_jobs_install(&site, o->state_dir, o->host, &err) != 0)) {
        cli_fail("up", &err);
        rc = 1;
    }
    buf_free(&err);
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
    /* The public certificate first (tls.source files or acme): files that
     * do not pass refuse the whole `up` before the site is taken on. */
    const struct site_host *only = NULL;
    for (size_t h = 0; o->host && h < site.n_hosts; h++)
        if (strcmp(site.hosts[h].name, o->host) == 0)
            only = &site.hosts[h];
    int public_changed = 0;
    buf public_warning = BUF_INIT;
    /* ACME on several hosts comes later, once the host's firewall opens
     * port 80 and its forwarder runs (acme_forward_service.h). */
    if (rc == 0 && !(site.cert_source == CERT_SOURCE_ACME && site.n_hosts > 1))
        rc = public_cert_ensure(&site, state, only, 0, &public_changed, &public_warning, &err);
    if (public_warning.len)
        fprintf(stderr, "emailng: up: warning: %s\n", buf_cstr(&public_warning));
    buf_free(&public_warning);
    /* Keep the site this state directory runs, so that later commands
     * (down, status, user ...) and a later `up` use the same one. With no
     * --site that is the small-site example, which equals the built-in
     * default (a unit test holds them together). */
    char *copy = xasprintf("%s/site.yaml", state);
    char *example = xasprintf("%s/examples/small-site.yaml", cli_datadir());
    /* A fabric host's `up` is given the state's own copy. */
    if (rc == 0 && o->site_file && !same_file(o->site_file, copy))
        rc = fs_copy_file(o->site_file, copy, 0644, &err);
    else if (rc == 0 && !fs_exists(copy) && fs_exists(example))
        rc = fs_copy_file(example, copy, 0644, &err);
    free(copy);
    free(example);
    /* A deployed host is given its certificates (`emailng deploy` says so
     * with --tls-changed): the daemons that use them restart as if they
     * had been made here. */
    int tls_changed = o->tls_changed;
    if (rc == 0)
        rc = site_tls_ensure(&site, state, only, &tls_changed, &err);
    /* DKIM keys where OpenDKIM signs: on a deployed host of several only
     * the relays hold them (`emailng deploy` pushes the control host's). */
    if (rc == 0 && (only == NULL || site.n_hosts == 1 || (only->roles & ROLE_RELAY)))
        rc = up_dkim_keys(&site, state, &err);
    buf changed_list = BUF_INIT;
    if (rc == 0)
        rc = render_into_state(&site, state, &changed_list, &err);
    /* A fabric `up` renders for every host first and tells each host with
     * --changed-components which of its daemons take a new configuration. */
    /* A fabric `up` names the components that changed for this host. */
    for (const char *p = o->changed_components; p && *p;) {
        size_t len = strcspn(p, ",");
        buf_printf(&changed_list, "%s/%.*s\n", o->host ? o->host : "", (int)len, p);
        p += len + (p[len] == ',');
    }
    /* Only this host's components count for --host: every host renders the
     * whole site, and a deployed host reports "nothing changed" (what
     * Ansible shows) when only other hosts' configurations changed. */
    char *own_changes = o->host ? host_changed_components(&changed_list, o->host) : NULL;
    int changed = (o->host ? own_changes != NULL : changed_list.len > 0) || o->config_changed;
    free(own_changes);
    if (rc != 0) {
        cli_fail("up", &err);
        buf_free(&err);
        buf_free(&changed_list);
        return 1;
    }
    printf("  configuration %s\n", changed ? "rendered (changed)" : "unchanged");
    if (public_changed)
        printf("  public certificate installed in %s/tls/public (tls.source %s)\n", state,
               site.cert_source == CERT_SOURCE_FILES ? "files" : "acme");
    if (o->tls_changed)
        printf("  certificates in %s/tls replaced by `emailng deploy`\n", state);
    else if (tls_changed)
        printf("  certificates made or renewed in %s/tls (valid %d days, renewed %d days before expiry)\n", state,
               TLS_SERVER_DAYS, TLS_RENEW_BEFORE_DAYS);

    int started_any = 0, secrets_taken = 0;
    for (size_t h = 0; rc == 0 && h < site.n_hosts; h++) {
        if (!cli_host_selected(o, &site.hosts[h]))
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
            if (!service_wanted(svc, &env)) {
                /* Turned off in the site file since it started. */
                pid_t stale = service_unwanted_pid(svc, &env);
                if (stale) {
                    rc = svc->stop(&env, &err);
                    if (rc == 0)
                        printf("  %-8s stopped, no longer wanted by the site file (was pid %ld)\n", svc->name,
                               (long)stale);
                }
                continue;
            }
            pid_t pid = svc->pid(&env);
            int restarted = pid != 0, reloaded = 0;
            buf why = BUF_INIT;
            enum secret_take take = pid ? secret_take(o->secrets_changed, svc, env.host) : SECRET_NOT_HELD;
            if (pid && (o->config_changed || config_changed(&changed_list, env.host->name, svc))) {
                /* New configuration: restart so it takes effect. */
                printf("  %-8s restarting for the new configuration\n", svc->name);
                rc = svc->stop(&env, &err);
                pid = 0;
            } else if (pid && tls_changed && svc->uses_certificates) {
                printf("  %-8s restarting for the new certificate\n", svc->name);
                rc = svc->stop(&env, &err);
                pid = 0;
            } else if (take == SECRET_RESTART) {
                /* A secret `emailng deploy` rotated, read at start. */
                printf("  %-8s restarting for the rotated secret\n", svc->name);
                rc = svc->stop(&env, &err);
                pid = 0;
                secrets_taken = 1;
            } else if (take == SECRET_RELOAD) {
                rc = svc->reload(&env, &err);
                if (rc == 0)
                    printf("  %-8s reloaded for the rotated secret (pid %ld kept)\n", svc->name, (long)pid);
                reloaded = 1;
                secrets_taken = 1;
            } else if (pid && build_changed_pid(pid, &why)) {
                /* A new emailng build or an upgraded package (deploy --upgrade). */
                printf("  %-8s restarting for the new build (%s)\n", svc->name, buf_cstr(&why));
                rc = svc->stop(&env, &err);
                pid = 0;
            } else if (pid && public_changed && svc->reload) {
                /* A new public certificate only: open sessions go on. */
                rc = svc->reload(&env, &err);
                if (rc == 0)
                    printf("  %-8s reloaded for the new public certificate (pid %ld kept)\n", svc->name,
                           (long)pid);
                reloaded = 1;
            }
            if (pid) {
                restarted = 0;
                if (!reloaded)
                    printf("  %-8s already up (pid %ld)\n", svc->name, (long)pid);
            } else if (rc == 0) {
                long long t0 = clock_ms();
                printf("  %-8s starting ... ", svc->name);
                fflush(stdout);
                buf detail = BUF_INIT;
                rc = svc->prepare(&env, &err);
                /* Just stopped: its last processes may hold a port for a
                 * moment (Postfix's smtpd children exit after the master). */
                for (int tries = 0; rc == 0 && restarted; tries++) {
                    buf busy = BUF_INIT;
                    int free_now = service_check_ports(svc, &env, &busy) == 0;
                    if (!free_now && tries < 100) {
                        buf_free(&busy);
                        usleep(100 * 1000);
                        continue;
                    }
                    if (!free_now)
                        buf_append_str(&err, buf_cstr(&busy));
                    buf_free(&busy);
                    rc = free_now ? 0 : -1;
                    break;
                }
                if (rc == 0 && !restarted)
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
            /* What must follow the daemon being up, started now or not
             * (the directory's entries and the relays' tables after slapd). */
            if (rc == 0 && svc->after_start)
                rc = svc->after_start(&env, &err);
            buf_free(&why);
        }
        service_env_free(&env);
    }
    if (rc != 0) {
        cli_fail("up", &err);
    } else if (!started_any && !changed && !tls_changed && !public_changed && !secrets_taken) {
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
        if (site.cert_source == CERT_SOURCE_SITE_CA)
            printf("  Trust the CA in %s/tls/ca.crt; the server name is %s.\n", state, site.tls_names[0]);
        else
            printf("  The server name is %s; its certificate (tls.source %s): %s/tls/public/fullchain.pem.\n",
                   site.tls_names[0], site.cert_source == CERT_SOURCE_FILES ? "files" : "acme", state);
        if (site.demo_users)
            printf("  Demo users and passwords: %s/secrets/demo-passwords (root only).\n", state);
    }
    buf_free(&err);
    buf_free(&changed_list);
    return rc == 0 ? 0 : 1;
}

int cmd_down(const struct options *o)
{
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return 1;
    buf err = BUF_INIT;
    int rc = cli_check_host_option(o, &site);
    /* Hosts in reverse start order: relays first, the directory last. */
    size_t *order = xcalloc(site.n_hosts, sizeof *order);
    fabric_start_order(&site, order);
    for (size_t k = site.n_hosts; rc == 0 && k-- > 0;) {
        size_t h = order[k];
        if (!cli_host_selected(o, &site.hosts[h]))
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
            /* Also what the site file no longer wants but still runs. */
            if (!service_wanted(svc, &env) && service_unwanted_pid(svc, &env) == 0)
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
        rc = fabric_destroy(prefix, cli_datadir(), &err);
        if (rc == 0)
            printf("  fabric %s removed\n", prefix);
    }
    if (rc == 0 && o->host == NULL)
        rc = logrotate_remove(o->state_dir, &err);
    if (rc == 0 && o->host == NULL)
        rc = cron_jobs_remove(o->state_dir, &err);
    free(prefix);
    if (rc != 0)
        cli_fail("down", &err);
    buf_free(&err);
    site_free(&site);
    return rc == 0 ? 0 : 1;
}
