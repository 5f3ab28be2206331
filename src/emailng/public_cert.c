/* public_cert: the public certificate from files or ACME; see public_cert.h. */
#include "public_cert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "cert_check.h"
#include "fsutil.h"
#include "process.h"
#include "public_names.h"
#include "services.h"
#include "site_cert_source.h"
#include "webserver_service.h"

/* lego talks to the ACME CA and answers its HTTP-01 request itself. */
#define LEGO "/usr/bin/lego"
/* lego's HTTP-01 port: 80 itself on a one-host site; on several hosts
 * ACME_LEGO_PORT, where every host's port-80 forwarder sends the CA. */
#define ACME_HTTP_PORT ":80"
#define FAILURE_FILE "acme-renewal-failed"
/* The names of the installed ACME certificate; absent when what is
 * installed did not come from ACME (or came from the admin's files). */
#define NAMES_FILE "acme-names"
/* Per host of several: what it last served from a shared folder (sizes
 * and times of the two files), to know when to reload: in the test fabric
 * the first host installs the files, the others find them already there. */
#define SERVED_FILE_FMT "served-by-%s"

static char *public_dir(const char *state_dir)
{
    return xasprintf("%s/tls/public", state_dir);
}

/* cert_check for every name, one per line in names. */
static int check_names(const char *crt, const char *key, const char *chain, const char *names, buf *err)
{
    char *copy = xstrdup(names);
    int rc = 0;
    for (char *save = NULL, *name = strtok_r(copy, "\n", &save); rc == 0 && name;
         name = strtok_r(NULL, "\n", &save))
        rc = cert_check(crt, key, chain, name, time(NULL), err);
    free(copy);
    return rc;
}

/* ---- files ------------------------------------------------------------- */

/* One certificate for the site: it must cover every public name, so each
 * relay and proxy can serve the same files (public_names.h). */
static int from_files(const struct site *site, const char *state_dir, int *changed, buf *err)
{
    const struct site_cert_files *f = &site->cert_files;
    buf names = BUF_INIT;
    public_names_all(site, &names);
    int checked = check_names(f->certificate, f->key, f->chain, buf_cstr(&names), err);
    buf_free(&names);
    if (checked != 0)
        return -1;
    char *dir = public_dir(state_dir);
    char *record = xasprintf("%s/%s", dir, NAMES_FILE);
    int rc = cert_install(f->certificate, f->key, f->chain, dir, changed, err);
    if (rc == 0 && fs_exists(record) && remove(record) != 0) {
        buf_printf(err, "cannot remove %s: %s", record, strerror(errno));
        rc = -1;
    }
    free(record);
    free(dir);
    return rc;
}

/* ---- ACME -------------------------------------------------------------- */

/* The last line lego printed (its reason), without the line end. */
static void last_line(buf *output, buf *out)
{
    const char *text = buf_cstr(output);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    size_t start = n;
    while (start && text[start - 1] != '\n')
        start--;
    buf_append(out, text + start, n - start);
}

/* A one-host site whose nginx holds port 80: the folder nginx serves
 * lego's tokens from (webserver_service.h); else NULL. */
static char *lego_webroot(const struct site *site, const char *state_dir)
{
    if (site->n_hosts != 1)
        return NULL;
    struct service_env env;
    buf ignored = BUF_INIT;
    char *webroot = NULL;
    if (service_env_init(&env, site, &site->hosts[0], state_dir, &ignored) == 0)
        webroot = webserver_acme_webroot(&env);
    service_env_free(&env);
    buf_free(&ignored);
    return webroot;
}

/* Runs `lego ... run`: a new certificate for the names, into acme_dir. */
static int run_lego(const struct site *site, const char *state_dir, const char *acme_dir, buf *names, buf *err)
{
    size_t n_names = 0;
    for (const char *p = buf_cstr(names); *p; p++)
        n_names += *p == '\n';
    const char **argv = xcalloc(16 + 2 * n_names, sizeof *argv);
    size_t n = 0;
    argv[n++] = LEGO;
    argv[n++] = "--accept-tos";     /* the site file's tls.acme is the admin's consent */
    argv[n++] = "--email";
    argv[n++] = site->acme.email;
    argv[n++] = "--server";
    argv[n++] = site->acme.directory;
    argv[n++] = "--path";
    argv[n++] = acme_dir;
    argv[n++] = "--http";
    char *port = site->n_hosts > 1 ? xasprintf(":%d", ACME_LEGO_PORT) : xstrdup(ACME_HTTP_PORT);
    /* Our nginx on port 80 (one host, after the first `up`): lego writes
     * the tokens where it serves them instead of binding 80 itself. */
    char *webroot = lego_webroot(site, state_dir);
    argv[n++] = webroot ? "--http.webroot" : "--http.port";
    argv[n++] = webroot ? webroot : port;
    argv[n++] = "--http-timeout";
    argv[n++] = "30";
    char *copy = xstrdup(buf_cstr(names));
    for (char *save = NULL, *name = strtok_r(copy, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
        argv[n++] = "--domains";
        argv[n++] = name;
    }
    argv[n++] = "run";
    argv[n] = NULL;
    /* lego trusts the system's CAs for the ACME server, or only this bundle. */
    if (site->acme.ca_bundle)
        setenv("LEGO_CA_CERTIFICATES", site->acme.ca_bundle, 1);
    buf output = BUF_INIT;
    int status = process_run(argv, NULL, &output, err);
    if (status > 0) {
        buf_printf(err, "lego could not obtain a certificate from %s (exit %d): ", site->acme.directory, status);
        last_line(&output, err);
    }
    buf_free(&output);
    free(copy);
    free(port);
    free(webroot);
    free(argv);
    return status == 0 ? 0 : -1;
}

/* The first line of names (the name lego files the certificate under). */
static char *first_name(buf *names)
{
    return xstrndup(buf_cstr(names), strcspn(buf_cstr(names), "\n"));
}

/* Why a new certificate is needed, or NULL when the installed one is good;
 * *valid: an ACME certificate is installed that may keep serving. */
static const char *acme_due(const char *dir, buf *names, int force, int *valid)
{
    char *crt = xasprintf("%s/fullchain.pem", dir), *key = xasprintf("%s/key.pem", dir);
    char *record = xasprintf("%s/%s", dir, NAMES_FILE);
    buf why = BUF_INIT, last = BUF_INIT, ignored = BUF_INIT;
    long long left = 0;
    int from_acme = fs_read_file(record, 64 * 1024, &last, &ignored) == 0;
    /* May keep serving while a renewal fails: good for the first name (a
     * name added since is what the renewal is for). */
    char *first = first_name(names);
    *valid = from_acme && cert_check(crt, key, NULL, first, time(NULL), &why) == 0;
    free(first);
    const char *reason = NULL;
    if (!from_acme)
        reason = "no certificate from ACME yet";
    else if (!*valid)
        reason = "the installed certificate is not valid";
    else if (strcmp(buf_cstr(&last), buf_cstr(names)) != 0)
        reason = "tls.names changed";
    else if (cert_seconds_left(crt, time(NULL), &left, &ignored) != 0 || left < PUBLIC_CERT_RENEW_DAYS * 86400LL)
        reason = "it expires within 30 days";
    else if (force)
        reason = "forced";
    buf_free(&why);
    buf_free(&last);
    buf_free(&ignored);
    free(crt);
    free(key);
    free(record);
    return reason;
}

/* The certificate for names (one group of hosts), obtained by this host
 * into dir when it is due. */
static int acme_order(const struct site *site, const char *state_dir, buf *names, const char *dir, int force,
                      int *changed, buf *warning, buf *err)
{
    char *secrets = xasprintf("%s/secrets", state_dir);
    char *acme_dir = xasprintf("%s/secrets/acme", state_dir);
    char *failure = xasprintf("%s/%s", dir, FAILURE_FILE);
    int valid = 0;
    const char *reason = acme_due(dir, names, force, &valid);
    int rc = 0;
    if (reason) {
        rc = fs_ensure_dir(secrets, NULL, NULL, 0700, err);
        if (rc == 0)
            rc = fs_ensure_dir(acme_dir, NULL, NULL, 0700, err);
        char *top = public_dir(state_dir);
        if (rc == 0)
            rc = fs_ensure_dir(top, NULL, NULL, 0755, err);
        free(top);
        if (rc == 0)
            rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
        buf why = BUF_INIT;
        long long t0 = clock_ms();
        int got = rc == 0 && run_lego(site, state_dir, acme_dir, names, &why) == 0;
        /* lego names its files after the first domain. */
        char *first = first_name(names);
        char *crt = xasprintf("%s/certificates/%s.crt", acme_dir, first);
        char *key = xasprintf("%s/certificates/%s.key", acme_dir, first);
        if (got && check_names(crt, key, NULL, buf_cstr(names), &why) != 0)
            got = 0;
        if (got) {
            rc = cert_install(crt, key, NULL, dir, changed, err);
            char *record = xasprintf("%s/%s", dir, NAMES_FILE);
            if (rc == 0)
                rc = fs_write_file(record, names->data, names->len, 0644, err);
            free(record);
            if (rc == 0 && fs_exists(failure) && remove(failure) != 0) {
                buf_printf(err, "cannot remove %s: %s", failure, strerror(errno));
                rc = -1;
            }
            if (rc == 0)
                printf("  acme     certificate for %s obtained from %s (%s) in %.1f s\n", first,
                       site->acme.directory, reason, (double)(clock_ms() - t0) / 1000);
        } else if (rc == 0 && valid) {
            /* Keep serving the old one; `status` says so until a renewal works. */
            time_t now = time(NULL);
            char when[32];
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
            buf line = BUF_INIT;
            buf_printf(&line, "ACME renewal failed at %s (%s): %s; the installed certificate %s/fullchain.pem "
                       "keeps serving", when, reason, buf_cstr(&why), dir);
            for (size_t i = 0; i < line.len; i++)
                if (line.data[i] == '\n' || line.data[i] == '\r')
                    line.data[i] = ' ';
            buf ignored = BUF_INIT;
            buf_append_char(&line, '\n');
            if (fs_write_file(failure, line.data, line.len, 0644, &ignored) != 0)
                buf_printf(warning, "(not recorded for status: %s) ", buf_cstr(&ignored));
            buf_free(&ignored);
            line.data[--line.len] = '\0';
            buf_append_str(warning, buf_cstr(&line));
        } else if (rc == 0) {
            buf_append_str(err, buf_cstr(&why));
            rc = -1;
        }
        free(first);
        free(crt);
        free(key);
        buf_free(&why);
    }
    free(failure);
    free(acme_dir);
    free(secrets);
    return rc;
}

/* "SIZE MTIME-NS" of a file, to notice a new copy. */
static void file_stamp(const char *path, buf *out)
{
    struct stat st;
    if (stat(path, &st) == 0)
        buf_printf(out, "%lld %lld.%09ld\n", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                   st.st_mtim.tv_nsec);
    else
        buf_append_str(out, "-\n");
}

/* *changed when the files in dir differ from what host served last. */
static int served_changed(const struct site_host *host, const char *dir, int *changed, buf *err)
{
    char *crt = xasprintf("%s/fullchain.pem", dir), *key = xasprintf("%s/key.pem", dir);
    char *served = xasprintf("%s/" SERVED_FILE_FMT, dir, host->name);
    buf now = BUF_INIT, last = BUF_INIT, ignored = BUF_INIT;
    file_stamp(crt, &now);
    file_stamp(key, &now);
    int rc = 0;
    if (fs_read_file(served, 4096, &last, &ignored) != 0 || strcmp(buf_cstr(&last), buf_cstr(&now)) != 0) {
        rc = fs_write_file(served, now.data, now.len, 0644, err);
        *changed = 1;
    }
    buf_free(&now);
    buf_free(&last);
    buf_free(&ignored);
    free(crt);
    free(key);
    free(served);
    return rc;
}

/* A proxy other than the one that orders the proxies' certificate: it
 * serves the certificate found in dir (the shared state of the test
 * fabric, or a copy from the ordering proxy on real hosts), checked like
 * any other. */
static int acme_take_copy(const struct site_host *host, const struct site_host *orderer, buf *names,
                          const char *dir, buf *err)
{
    char *crt = xasprintf("%s/fullchain.pem", dir), *key = xasprintf("%s/key.pem", dir);
    buf why = BUF_INIT;
    int rc = check_names(crt, key, NULL, buf_cstr(names), &why);
    if (rc != 0) {
        char *first = first_name(names);
        buf_printf(err, "the certificate for %s is obtained by %s (the first proxy), not by %s, and there is no "
                   "good one here (%s): run `emailng up --host %s` there first, then copy its folder %s to this "
                   "host (admin manual, \"The public certificate on several hosts\")", first, orderer->name,
                   host->name, buf_cstr(&why), orderer->name, dir);
        free(first);
    }
    buf_free(&why);
    free(crt);
    free(key);
    return rc;
}

/* One host's public certificate from ACME: ordered by the host itself, or
 * taken from the proxy that orders it. */
static int acme_for_host(const struct site *site, const struct site_host *host, const char *state_dir, int force,
                         int *changed, buf *warning, buf *err)
{
    buf names = BUF_INIT;
    public_names_of_host(site, host, &names);
    const struct site_host *orderer = public_names_orderer(site, host);
    int rc = 0;
    if (names.len == 0 && site->n_hosts == 1) {
        buf_printf(err, "tls.source acme: tls.names has no DNS name an ACME CA could vouch for");
        rc = -1;
    } else if (names.len > 0 && orderer) {
        char *dir = public_names_dir(site, host, state_dir);
        if (orderer == host)
            rc = acme_order(site, state_dir, &names, dir, force, changed, warning, err);
        else
            rc = acme_take_copy(host, orderer, &names, dir, err);
        free(dir);
    }
    buf_free(&names);
    return rc;
}

int public_cert_ensure(const struct site *site, const char *state_dir, const struct site_host *only, int force,
                       int *changed, buf *warning, buf *err)
{
    if (site->cert_source == CERT_SOURCE_SITE_CA)
        return 0;
    if (only == NULL && site->n_hosts > 1) {
        /* lego answers on port 80 of the host it runs on: per host only. */
        buf_printf(err, "a site of several hosts takes its public certificates host by host (--host NAME)");
        return -1;
    }
    const struct site_host *host = only ? only : &site->hosts[0];
    buf names = BUF_INIT;
    public_names_of_host(site, host, &names);
    int serves = names.len > 0 || site->n_hosts == 1;
    buf_free(&names);
    if (!serves)
        return 0;     /* a store or the directory: no public port */
    int rc = site->cert_source == CERT_SOURCE_FILES ? from_files(site, state_dir, changed, err)
                                                    : acme_for_host(site, host, state_dir, force, changed, warning, err);
    if (rc == 0 && site->n_hosts > 1) {
        char *dir = public_names_dir(site, host, state_dir);
        rc = served_changed(host, dir, changed, err);
        free(dir);
    }
    return rc;
}

int public_cert_check_site(const struct site *site, buf *err)
{
    if (site->cert_source == CERT_SOURCE_FILES) {
        const struct site_cert_files *f = &site->cert_files;
        buf names = BUF_INIT;
        public_names_all(site, &names);
        int rc = check_names(f->certificate, f->key, f->chain, buf_cstr(&names), err);
        buf_free(&names);
        return rc;
    }
    if (site->cert_source == CERT_SOURCE_ACME && site->acme.ca_bundle) {
        buf text = BUF_INIT, why = BUF_INIT;
        int rc = fs_read_file(site->acme.ca_bundle, 1024 * 1024, &text, &why);
        if (rc != 0)
            buf_printf(err, "%s: cannot read tls.acme.ca_bundle: %s", site->acme.ca_bundle, buf_cstr(&why));
        buf_free(&text);
        buf_free(&why);
        return rc;
    }
    return 0;
}

int public_cert_reload(const struct site *site, const char *state_dir, const struct site_host *only, buf *err)
{
    int rc = 0;
    for (size_t h = 0; rc == 0 && h < site->n_hosts; h++) {
        if (only && only != &site->hosts[h])
            continue;
        struct service_env env;
        if (service_env_init(&env, site, &site->hosts[h], state_dir, err) != 0) {
            service_env_free(&env);
            return -1;
        }
        for (size_t s = 0; rc == 0 && s < n_services; s++) {
            const struct service *svc = &services[s];
            pid_t pid;
            if (svc->reload == NULL || !service_wanted(svc, &env) || (pid = svc->pid(&env)) == 0)
                continue;
            rc = svc->reload(&env, err);
            if (rc == 0)
                printf("  %-8s reloaded for the new public certificate (pid %ld kept)\n", svc->name, (long)pid);
        }
        service_env_free(&env);
    }
    return rc;
}

/* The warnings of one certificate folder (each only once). */
static void dir_warnings(const struct site *site, const char *dir, int days, buf *lines)
{
    char *failure = xasprintf("%s/%s", dir, FAILURE_FILE);
    char *crt = xasprintf("%s/fullchain.pem", dir);
    buf text = BUF_INIT, ignored = BUF_INIT;
    if (fs_read_file(failure, 64 * 1024, &text, &ignored) == 0 && text.len) {
        buf_append(lines, text.data, text.len);
        if (text.data[text.len - 1] != '\n')
            buf_append_char(lines, '\n');
    }
    long long left = 0;
    buf_reset(&ignored);
    if (fs_exists(crt) && cert_seconds_left(crt, time(NULL), &left, &ignored) == 0 && left < days * 86400LL) {
        if (left < 0)
            buf_printf(lines, "the public certificate %s has expired\n", crt);
        else
            buf_printf(lines, "the public certificate %s (tls.source %s) expires in %lld day(s)%s\n", crt,
                       site_cert_source_name(site->cert_source), left / 86400,
                       site->cert_source == CERT_SOURCE_FILES ? "; replace the files and run `emailng tls renew`"
                                                               : "; `emailng tls renew` tries again");
    }
    buf_free(&text);
    buf_free(&ignored);
    free(crt);
    free(failure);
}

void public_cert_warnings(const struct site *site, const char *state_dir, int days, buf *lines)
{
    if (site->cert_source == CERT_SOURCE_SITE_CA)
        return;
    /* Every folder once: the proxies share theirs. */
    buf seen = BUF_INIT;
    for (size_t h = 0; h < site->n_hosts; h++) {
        buf names = BUF_INIT;
        public_names_of_host(site, &site->hosts[h], &names);
        char *dir = public_names_dir(site, &site->hosts[h], state_dir);
        char *key = xasprintf("%s\n", dir);
        if ((names.len > 0 || site->n_hosts == 1) && strstr(buf_cstr(&seen), key) == NULL) {
            buf_append_str(&seen, key);
            dir_warnings(site, dir, days, lines);
        }
        free(key);
        free(dir);
        buf_free(&names);
    }
    buf_free(&seen);
}
