/* cmd_status: `emailng status`; see cmd_status.h. */
#include "cmd_status.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy_upgrade.h"
#include "fabric.h"
#include "firewall.h"
#include "fsutil.h"
#include "host_limits.h"
#include "metrics_service.h"
#include "process.h"
#include "render.h"
#include "services.h"
#include "status_warnings.h"

int cmd_status(const struct options *o)
{
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return 1;
    /* The control host of `emailng deploy` runs none of the site's daemons:
     * what it knows is the deployment's record (deploy_upgrade.h). */
    if (o->host == NULL && deploy_is_control_state(o->state_dir)) {
        int rc = deploy_upgrade_status(&site, o->state_dir, o->json);
        site_free(&site);
        return rc == 0 ? EXIT_DONE : EXIT_FAILED;
    }
    buf err = BUF_INIT, json = BUF_INIT;
    int all_up = 1;
    long total_kb = 0, total_pss_kb = 0;
    buf_append_str(&json, "{\"site\":");
    cli_json_string(&json, site.name);
    buf_append_str(&json, ",\"hosts\":[");
    if (cli_check_host_option(o, &site) != 0) {
        site_free(&site);
        buf_free(&json);
        return 2;
    }
    if (!o->json)
        printf("%-8s %-13s %-5s %-8s %-10s %-6s %s\n", "HOST", "SERVICE", "STATE", "PID", "MEMORY", "QUEUE", "PORTS");
    int first_host = 1;
    for (size_t h = 0; h < site.n_hosts; h++) {
        if (!cli_host_selected(o, &site.hosts[h]))
            continue;
        struct service_env env;
        if (service_env_init(&env, &site, &site.hosts[h], o->state_dir, &err) != 0) {
            cli_fail("status", &err);
            service_env_free(&env);
            site_free(&site);
            buf_free(&err);
            buf_free(&json);
            return 1;
        }
        buf_printf(&json, "%s{\"name\":", first_host ? "" : ",");
        first_host = 0;
        cli_json_string(&json, env.host->name);
        buf_append_str(&json, ",\"services\":[");
        int first = 1;
        for (size_t s = 0; s < n_services; s++) {
            const struct service *svc = &services[s];
            if (!service_wanted(svc, &env))
                continue;
            pid_t pid = svc->pid(&env);
            long rss = pid ? process_tree_rss_kb(pid) : 0;
            long pss = pid ? process_tree_pss_kb(pid) : 0;
            long queue = svc->queue_size ? svc->queue_size(&env) : -1;
            buf ports = BUF_INIT, ports_json = BUF_INIT;
            for (const char *const *p = service_ports(svc, &env); *p; p++) {
                if (!service_port_open(&env, *p))
                    continue;
                buf_printf(&ports, "%s%d", ports.len ? " " : "", service_port(&env, *p));
                buf_printf(&ports_json, "%s%d", ports_json.len ? "," : "", service_port(&env, *p));
            }
            const char *local = svc->local_endpoint;
            if (local)
                buf_printf(&ports, "%s%s", ports.len ? " " : "", local);
            /* fail2ban: how many addresses are refused now (X2). */
            long banned = pid && svc->banned ? svc->banned(&env) : -1;
            if (banned >= 0)
                buf_printf(&ports, "%s%ld banned", ports.len ? " " : "", banned);
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
            if (banned >= 0)
                buf_printf(&json, ",\"banned\":%ld", banned);
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
        /* Its Prometheus endpoints (metrics_service.h). */
        buf urls = BUF_INIT, urls_json = BUF_INIT;
        metrics_endpoints(&env, &urls, &urls_json);
        if (urls.len) {
            buf_printf(&json, ",\"metrics\":[%s]", buf_cstr(&urls_json));
            if (!o->json)
                printf("%-8s %-13s %-5s %-8s %-10s %-6s %s\n", env.host->name, "metrics", "-", "-", "-", "-",
                       buf_cstr(&urls));
        }
        buf_free(&urls);
        buf_free(&urls_json);
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
    buf warnings = BUF_INIT;
    status_warnings(&site, o, &warnings, &json);
    buf_printf(&json, ",\"rss_kb_total\":%ld,\"pss_kb_total\":%ld,\"all_up\":%s}", total_kb, total_pss_kb,
               all_up ? "true" : "false");
    if (o->json)
        puts(buf_cstr(&json));
    else
        printf("memory (PSS: shared pages split among their processes): %.1f MiB in all "
               "(RSS, counting shared pages in each process: %.1f MiB); %s\n%s",
               (double)total_pss_kb / 1024, (double)total_kb / 1024,
               all_up ? "all services up" : "some services are down", buf_cstr(&warnings));
    buf_free(&warnings);
    buf_free(&json);
    buf_free(&err);
    site_free(&site);
    return all_up ? EXIT_DONE : EXIT_FAILED;
}
