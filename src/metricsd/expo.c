/* expo: see expo.h. */
#include "expo.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "fsutil.h"
#include "process.h"
#include "promtext.h"
#include "quarantine_name.h"

#define DAEMON_METRICS_MAX (1024 * 1024)

void expo_label_escape(const char *value, buf *out)
{
    prom_escape(value, out);
}

static void family(buf *out, const char *name, const char *type, const char *help)
{
    prom_family(out, name, type, help);
}

/* One label="value" pair; first: no comma before it. */
static void label(buf *out, int first, const char *name, const char *value)
{
    buf_printf(out, "%s%s=\"", first ? "" : ",", name);
    expo_label_escape(value, out);
    buf_append_str(out, "\"");
}

/* The words of one status line, at most max; returns how many. The line
 * is split in place (spaces become NULs). */
static size_t split_words(char *line, char **words, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *w = strtok_r(line, " ", &save); w && n < max; w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    return n;
}

/* Calls fn for every line of text whose first word is kind and that has
 * exactly nwords words. */
static void each_line(const char *text, const char *kind, size_t nwords,
                      void (*fn)(char **words, void *arg), void *arg)
{
    buf copy = BUF_INIT;
    buf_append_str(&copy, text);
    char *save = NULL;
    for (char *line = strtok_r(copy.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *words[6];
        size_t n = split_words(line, words, 6);
        if (n == nwords && strcmp(words[0], kind) == 0)
            fn(words, arg);
    }
    buf_free(&copy);
}

/* "store ADDRESS PAIR ROLE STATE" */
static void store_up(char **w, void *arg)
{
    buf *out = arg;
    buf_append_str(out, "emailng_store_up{");
    label(out, 1, "pair", w[2]);
    label(out, 0, "store", w[1]);
    label(out, 0, "role", w[3]);
    buf_printf(out, "} %d\n", strcmp(w[4], "up") == 0);
}

static void store_state(char **w, void *arg)
{
    buf *out = arg;
    buf_append_str(out, "emailng_store_state{");
    label(out, 1, "pair", w[2]);
    label(out, 0, "store", w[1]);
    label(out, 0, "role", w[3]);
    label(out, 0, "state", w[4]);
    buf_append_str(out, "} 1\n");
}

/* "pair PAIR ADDRESS" */
static void pair_active(char **w, void *arg)
{
    buf *out = arg;
    buf_append_str(out, "emailng_pair_active_store{");
    label(out, 1, "pair", w[1]);
    label(out, 0, "store", w[2]);
    buf_append_str(out, "} 1\n");
}

struct pair_count {
    const char *pair;
    int down;
};

struct degraded {
    const char *text;
    buf *out;
};

static void count_down(char **w, void *arg)
{
    struct pair_count *c = arg;
    if (strcmp(w[2], c->pair) == 0 && strcmp(w[4], "up") != 0)
        c->down++;
}

static void pair_degraded(char **w, void *arg)
{
    struct degraded *d = arg;
    struct pair_count c = {w[1], 0};
    each_line(d->text, "store", 5, count_down, &c);
    buf_append_str(d->out, "emailng_pair_degraded{");
    label(d->out, 1, "pair", w[1]);
    buf_printf(d->out, "} %d\n", c.down > 0);
}

void expo_healthd_status(int running, const char *text, double age, buf *out)
{
    family(out, "emailng_healthd_up", "gauge", "1 if the proxy's health monitor (emailng-healthd) is running.");
    buf_printf(out, "emailng_healthd_up %d\n", running != 0);
    family(out, "emailng_healthd_status_up", "gauge",
           "1 if the health monitor's status file could be read.");
    buf_printf(out, "emailng_healthd_status_up %d\n", text != NULL);
    if (text == NULL)
        return;
    family(out, "emailng_healthd_status_age_seconds", "gauge",
           "Seconds since the health monitor's view of the stores last changed.");
    buf_printf(out, "emailng_healthd_status_age_seconds %.3f\n", age);
    family(out, "emailng_store_up", "gauge", "1 if this proxy's health monitor sees the store up.");
    each_line(text, "store", 5, store_up, out);
    family(out, "emailng_store_state", "gauge",
           "The health monitor's state of the store (starting, up, suspect, down, recovering, drained) as a label.");
    each_line(text, "store", 5, store_state, out);
    family(out, "emailng_pair_active_store", "gauge", "The store of the pair that this proxy sends its users to.");
    each_line(text, "pair", 3, pair_active, out);
    family(out, "emailng_pair_degraded", "gauge", "1 if a store of the pair is not up (the pair has no spare).");
    struct degraded d = {text, out};
    each_line(text, "pair", 3, pair_degraded, &d);
}

/* notAfter of the first certificate in a PEM file, as Unix time; -1. */
static long long certificate_not_after(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (cert == NULL)
        return -1;
    struct tm tm;
    long long t = -1;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
        t = (long long)timegm(&tm);
    X509_free(cert);
    return t;
}

void expo_certificates(const struct expo_item *certs, size_t n, buf *out)
{
    family(out, "emailng_certificate_expiry_timestamp_seconds", "gauge",
           "When the certificate expires (notAfter), as Unix time.");
    for (size_t i = 0; i < n; i++) {
        long long t = certificate_not_after(certs[i].path);
        if (t < 0)
            continue;
        buf_append_str(out, "emailng_certificate_expiry_timestamp_seconds{");
        label(out, 1, "certificate", certs[i].name);
        label(out, 0, "path", certs[i].path);
        buf_printf(out, "} %lld\n", t);
    }
}

void expo_volumes(const struct expo_item *volumes, size_t n, buf *out)
{
    struct statvfs *st = n ? calloc(n, sizeof *st) : NULL;
    int *ok = n ? calloc(n, sizeof *ok) : NULL;
    if (n && (st == NULL || ok == NULL)) {
        free(st);
        free(ok);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ok[i] = statvfs(volumes[i].path, &st[i]) == 0;
    static const struct {
        const char *name, *help;
    } families[] = {
        {"emailng_volume_size_bytes", "Size of the filesystem that holds the folder."},
        {"emailng_volume_avail_bytes", "Bytes of that filesystem that unprivileged writers may still use."},
    };
    for (size_t f = 0; f < 2; f++) {
        family(out, families[f].name, "gauge", families[f].help);
        for (size_t i = 0; i < n; i++) {
            if (!ok[i])
                continue;
            unsigned long long blocks = f == 0 ? st[i].f_blocks : st[i].f_bavail;
            buf_printf(out, "%s{", families[f].name);
            label(out, 1, "volume", volumes[i].name);
            label(out, 0, "path", volumes[i].path);
            buf_printf(out, "} %llu\n", blocks * (unsigned long long)st[i].f_frsize);
        }
    }
    free(st);
    free(ok);
}

void expo_replication(const struct replication_status *st, buf *out)
{
    family(out, "emailng_replication_up", "gauge", "1 if the store's replicator answered `replicator status`.");
    buf_printf(out, "emailng_replication_up %d\n", st != NULL);
    if (st == NULL)
        return;
    size_t queued = 0, failed = 0;
    for (size_t i = 0; i < st->n_users; i++) {
        failed += st->users[i].failed != 0;
        queued += strcmp(st->users[i].priority, "none") != 0;
    }
    family(out, "emailng_replication_users", "gauge",
           "Users the store's replicator knows, with a sync queued, and whose last sync failed.");
    buf_printf(out, "emailng_replication_users{state=\"known\"} %zu\n", st->n_users);
    buf_printf(out, "emailng_replication_users{state=\"queued\"} %zu\n", queued);
    buf_printf(out, "emailng_replication_users{state=\"failed\"} %zu\n", failed);
}

void expo_daemons(const struct expo_item *daemons, size_t n, buf *out)
{
    if (n == 0)
        return;
    family(out, "emailng_daemon_up", "gauge", "1 if the daemon (its pid file's process) is running.");
    for (size_t i = 0; i < n; i++) {
        const char *labels[] = {"daemon", daemons[i].name, NULL};
        prom_sample_u(out, "emailng_daemon_up", labels, pidfile_read(daemons[i].path) != 0);
    }
}

void expo_daemon_metrics(const struct expo_item *files, size_t n, buf *out)
{
    if (n == 0)
        return;
    buf *texts = xcalloc(n, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        buf err = BUF_INIT;
        if (fs_read_file(files[i].path, DAEMON_METRICS_MAX, &texts[i], &err) != 0 || texts[i].len == 0 ||
            texts[i].data[texts[i].len - 1] != '\n' || strlen(texts[i].data) != texts[i].len)
            buf_free(&texts[i]);        /* missing, or not whole: left out, _up says so */
        buf_free(&err);
    }
    family(out, "emailng_daemon_metrics_up", "gauge", "1 if the daemon's own counters could be read.");
    for (size_t i = 0; i < n; i++) {
        const char *labels[] = {"daemon", files[i].name, NULL};
        prom_sample_u(out, "emailng_daemon_metrics_up", labels, texts[i].len != 0);
    }
    for (size_t i = 0; i < n; i++) {
        if (texts[i].len)
            buf_append(out, texts[i].data, texts[i].len);
        buf_free(&texts[i]);
    }
    free(texts);
}

void expo_quarantine(const char *dir, buf *out)
{
    unsigned long long messages[QUARANTINE_TYPES] = {0}, bytes[QUARANTINE_TYPES] = {0};
    DIR *d = opendir(dir);
    family(out, "emailng_quarantine_up", "gauge", "1 if amavisd's quarantine folder could be read.");
    buf_printf(out, "emailng_quarantine_up %d\n", d != NULL);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int type = quarantine_name_type(de->d_name);
        struct stat st;
        if (type < 0 || fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        messages[type]++;
        bytes[type] += (unsigned long long)st.st_size;
    }
    closedir(d);
    family(out, "emailng_quarantine_messages", "gauge", "Messages in amavisd's quarantine, by type.");
    for (int i = 0; i < QUARANTINE_TYPES; i++) {
        const char *labels[] = {"type", quarantine_type_names[i], NULL};
        prom_sample_u(out, "emailng_quarantine_messages", labels, messages[i]);
    }
    family(out, "emailng_quarantine_size_bytes", "gauge", "Bytes of the messages in amavisd's quarantine, by type.");
    for (int i = 0; i < QUARANTINE_TYPES; i++) {
        const char *labels[] = {"type", quarantine_type_names[i], NULL};
        prom_sample_u(out, "emailng_quarantine_size_bytes", labels, bytes[i]);
    }
}
