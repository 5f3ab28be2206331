/* expo: EmailNG's own figures in the Prometheus text exposition format
 * (version 0.0.4), for emailng-metricsd. Each function appends whole
 * metric families (# HELP, # TYPE, samples) to out; label values are
 * escaped as the format requires (\\, \", \n). Names follow Prometheus'
 * conventions: units in the name (_seconds, _bytes), labels not in names.
 *
 *   expo_healthd_status  a proxy's health monitor (src/healthd/table.h,
 *                        its status file): whether it runs, per store
 *                        up/state, per pair the active store and whether
 *                        it is degraded, and how long ago its view last
 *                        changed (it rewrites the file on a change only).
 *   expo_certificates    notAfter of PEM certificates, as Unix time.
 *   expo_volumes         size and free space of the filesystems that hold
 *                        the mail, the queues and the logs.
 *   expo_replication     a store's replicator: users with a sync queued
 *                        or whose last sync failed (replication.h).
 *   expo_daemons         whether our daemons run (their pid files).
 *   expo_daemon_metrics  the counters our daemons keep (policyd, healthd,
 *                        syncwatch): each writes them in this format
 *                        (src/lib/promtext.h) to a file of its own,
 *                        replaced atomically; they are appended as they
 *                        are (no parser here), after a check that the
 *                        text is whole (ends with a newline, no NUL).
 *   expo_quarantine      amavisd's quarantine: files and bytes by type
 *                        (quarantine_name.h: the rule `emailng quarantine`
 *                        lists by).
 * A source that cannot be read gives its family's "_up" sample 0 (or no
 * sample for that item) rather than failing the whole scrape. */
#ifndef EMAILNG_METRICSD_EXPO_H
#define EMAILNG_METRICSD_EXPO_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "replication.h"

/* A named file: a certificate or a folder on a volume. */
struct expo_item {
    const char *name;
    const char *path;
};

/* Appends value to out with \\, " and newline escaped. */
void expo_label_escape(const char *value, buf *out);

/* running: the monitor's process is alive; text: the status file's
 * content, NULL if it could not be read; age: seconds since it was
 * written (ignored when text is NULL). */
void expo_healthd_status(int running, const char *text, double age, buf *out);

void expo_certificates(const struct expo_item *certs, size_t n, buf *out);

void expo_volumes(const struct expo_item *volumes, size_t n, buf *out);

/* st: NULL when the replicator could not be asked. */
void expo_replication(const struct replication_status *st, buf *out);

/* name: the daemon; path: its pid file. */
void expo_daemons(const struct expo_item *daemons, size_t n, buf *out);

/* name: the daemon; path: its metrics file. */
void expo_daemon_metrics(const struct expo_item *files, size_t n, buf *out);

void expo_quarantine(const char *dir, buf *out);

#endif
