/* promtext: the Prometheus text exposition format (version 0.0.4) as
 * EmailNG writes it: emailng-metricsd for what it reads itself, and our
 * daemons (policyd, healthd, syncwatch) for the counters they keep in
 * memory and publish as a small file that metricsd appends verbatim
 * (the "textfile" way of node_exporter: no second format, no parser).
 *   prom_family     "# HELP" and "# TYPE" lines of a family
 *   prom_sample_*   one sample; labels are {name, value, ..., NULL},
 *                   values escaped as the format requires (\\, \", \n)
 *   prom_histogram  fixed buckets in memory (observe: a few compares, no
 *                   allocation) and their cumulative _bucket/_sum/_count
 *   prom_file_write the text, atomically (temporary file + rename), mode
 *                   0644 so metricsd's user reads it. */
#ifndef EMAILNG_PROMTEXT_H
#define EMAILNG_PROMTEXT_H

#include <stddef.h>

#include "buf.h"

void prom_escape(const char *value, buf *out);
void prom_family(buf *out, const char *name, const char *type, const char *help);
void prom_sample_u(buf *out, const char *name, const char *const *labels, unsigned long long value);
void prom_sample_d(buf *out, const char *name, const char *const *labels, double value);

typedef struct prom_histogram {
    const double *bounds;       /* upper bounds, ascending; +Inf is implicit */
    size_t n;
    unsigned long long *counts; /* n + 1 per-bucket counts (not cumulative) */
    unsigned long long count;
    double sum;
} prom_histogram;

void prom_histogram_init(prom_histogram *h, const double *bounds, size_t n);
void prom_histogram_free(prom_histogram *h);
void prom_histogram_observe(prom_histogram *h, double value);
/* name's _bucket (cumulative, le="..."), _sum and _count samples, with
 * labels (or NULL) before le; no # lines (prom_family with "histogram"). */
void prom_histogram_format(buf *out, const char *name, const char *const *labels, const prom_histogram *h);

int prom_file_write(const char *path, const buf *text, buf *err);

#endif
