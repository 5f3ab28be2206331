/* status_warnings: signatures, certificates, disks; see status_warnings.h. */
#include "status_warnings.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alt_storage.h"
#include "fsutil.h"
#include "public_cert.h"
#include "site_storage.h"
#include "tablesync_service.h"
#include "tls.h"

struct findings {
    buf *text;
    buf warnings;       /* JSON strings, comma separated */
    buf disks;          /* JSON objects, comma separated */
};

static void warn(struct findings *f, const char *line)
{
    buf_printf(f->text, "warning: %s\n", line);
    if (f->warnings.len)
        buf_append_char(&f->warnings, ',');
    cli_json_string(&f->warnings, line);
}

/* filter_services.c writes this database only when the signatures folder
 * holds none. */
static void check_signatures(const struct site *site, const char *state_dir, const struct site_host *h,
                             struct findings *f)
{
    if (!(h->roles & ROLE_RELAY) || !site->filter.enabled)
        return;
    char *path = xasprintf("%s/data/%s/clamav/db/emailng-builtin-test.ndb", state_dir, h->name);
    if (fs_exists(path)) {
        char *line = xasprintf("%s: virus scanning uses only the built-in test signatures (EICAR and the EmailNG "
                               "test pattern): run freshclam or set filter.signatures (docs/admin-manual.md, "
                               "filter.signatures)", h->name);
        warn(f, line);
        free(line);
    }
    free(path);
}

/* A relay that pulls its tables (tablesync_service.h) and has not had
 * them confirmed by a proxy for TABLES_STALE_SECONDS: it still works on
 * its last tables, but users added since are refused there. The folder
 * exists only where the puller runs (or ran). */
#define TABLES_STALE_SECONDS 300
static void check_relay_tables(const char *state_dir, const struct site_host *h, struct findings *f)
{
    if (h->roles != ROLE_RELAY)
        return;
    char *dir = xasprintf("%s/data/%s/tablesync", state_dir, h->name);
    char *confirmed = tablesync_confirmed_file(state_dir, h->name);
    struct stat d, c;
    time_t now = time(NULL);
    if (stat(dir, &d) == 0 && now - d.st_mtime > TABLES_STALE_SECONDS) {
        int have = stat(confirmed, &c) == 0;
        if (!have || now - c.st_mtime > TABLES_STALE_SECONDS) {
            char *line = have ? xasprintf("%s: no proxy has confirmed the relay's tables for %ld minutes (it keeps "
                                          "its last ones; see %s/log/%s/tablesync.log)", h->name,
                                          (long)(now - c.st_mtime) / 60, state_dir, h->name)
                              : xasprintf("%s: no proxy has ever confirmed the relay's tables (see "
                                          "%s/log/%s/tablesync.log)", h->name, state_dir, h->name);
            warn(f, line);
            free(line);
        }
    }
    free(dir);
    free(confirmed);
}

static void check_certificate(const char *path, struct findings *f)
{
    long days = 0;
    buf subject = BUF_INIT, err = BUF_INIT;
    if (tls_certificate_days_left(path, &days, &subject, &err) != 0) {
        char *line = xasprintf("cannot check a certificate: %s", buf_cstr(&err));
        warn(f, line);
        free(line);
    } else if (days < STATUS_CERT_WARN_DAYS) {
        char *line = days < 0 ? xasprintf("the certificate %s (%s) expired %ld day(s) ago", path,
                                          buf_cstr(&subject), -days)
                              : xasprintf("the certificate %s (%s) expires in %ld day(s); `emailng up` renews "
                                          "the site's own certificates", path, buf_cstr(&subject), days);
        warn(f, line);
        free(line);
    }
    buf_free(&subject);
    buf_free(&err);
}

/* Every *.crt in dir (not below). */
static void check_certificates_in(const char *dir, struct findings *f)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".crt") == 0) {
            char *path = xasprintf("%s/%s", dir, de->d_name);
            check_certificate(path, f);
            free(path);
        }
    }
    closedir(d);
}

static void check_disk(const char *path, unsigned long long *seen, size_t *n_seen, struct findings *f)
{
    int percent = 0;
    unsigned long long device = 0;
    buf err = BUF_INIT;
    if (fs_used_percent(path, &percent, &device, &err) != 0) {
        buf_free(&err);
        return;                 /* no data of this host here (yet) */
    }
    buf_free(&err);
    for (size_t i = 0; i < *n_seen; i++)
        if (seen[i] == device)
            return;             /* one line per file system */
    seen[(*n_seen)++] = device;
    buf_printf(&f->disks, "%s{\"path\":", f->disks.len ? "," : "");
    cli_json_string(&f->disks, path);
    buf_printf(&f->disks, ",\"used_percent\":%d}", percent);
    if (percent > STATUS_DISK_WARN_PERCENT) {
        char *line = xasprintf("the file system holding %s (mail and queues) is %d%% full (warning above %d%%)",
                               path, percent, STATUS_DISK_WARN_PERCENT);
        warn(f, line);
        free(line);
    }
}

/* A store's ALT file system: there (and how full), or missing. */
static void check_alt_storage(const struct site *site, const char *state_dir, const struct site_host *h,
                              unsigned long long *seen, size_t *n_seen, struct findings *f)
{
    enum alt_state st = alt_storage_state(site, h, state_dir);
    if (st == ALT_MISSING) {
        buf line = BUF_INIT;
        alt_storage_missing_text(site, h, &line);
        warn(f, buf_cstr(&line));
        buf_free(&line);
    } else if (st == ALT_OK) {
        char *dir = site_storage_alt_dir(site, h);
        check_disk(dir, seen, n_seen, f);
        free(dir);
    }
}

void status_warnings(const struct site *site, const struct options *o, buf *text, buf *json)
{
    struct findings f = {text, BUF_INIT, BUF_INIT};
    unsigned long long *seen = xcalloc(2 * site->n_hosts + 1, sizeof *seen);
    size_t n_seen = 0;
    char *tls = xasprintf("%s/tls", o->state_dir);
    check_certificates_in(tls, &f);
    /* `up` keeps a CA made before EmailNG gave it name constraints (its
     * clients trust it); say how to get one that has them. */
    char *ca = xasprintf("%s/ca.crt", tls);
    buf ca_err = BUF_INIT;
    if (fs_exists(ca) && tls_ca_has_name_constraints(ca, &ca_err) == 0) {
        char *line = xasprintf("the site CA %s has no name constraints (made by an older EmailNG): it could vouch "
                               "for any name; to replace it, `emailng down`, remove %s/*, `emailng up`, and let "
                               "every client trust the new CA (admin manual, \"Certificates\")", ca, tls);
        warn(&f, line);
        free(line);
    }
    buf_free(&ca_err);
    free(ca);
    /* The public certificate of tls.source files or acme, and a failed renewal. */
    buf public_lines = BUF_INIT;
    public_cert_warnings(site, o->state_dir, STATUS_CERT_WARN_DAYS, &public_lines);
    for (char *save = NULL, *line = public_lines.len ? strtok_r(public_lines.data, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        warn(&f, line);
    buf_free(&public_lines);
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (!cli_host_selected(o, h))
            continue;
        check_signatures(site, o->state_dir, h, &f);
        check_relay_tables(o->state_dir, h, &f);
        char *host_tls = xasprintf("%s/%s", tls, h->name);
        check_certificates_in(host_tls, &f);
        free(host_tls);
        char *data = xasprintf("%s/data/%s", o->state_dir, h->name);
        check_disk(data, seen, &n_seen, &f);
        free(data);
        check_alt_storage(site, o->state_dir, h, seen, &n_seen, &f);
    }
    buf_printf(json, ",\"warnings\":[%s],\"disks\":[%s]", buf_cstr(&f.warnings), buf_cstr(&f.disks));
    free(tls);
    free(seen);
    buf_free(&f.warnings);
    buf_free(&f.disks);
}
