/* promtext: see promtext.h. */
#include "promtext.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

void prom_escape(const char *value, buf *out)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            buf_append_str(out, "\\\\");
        else if (*p == '"')
            buf_append_str(out, "\\\"");
        else if (*p == '\n')
            buf_append_str(out, "\\n");
        else
            buf_append(out, p, 1);
    }
}

void prom_family(buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{a="x",b="y"} or name; extra: one more label (le) after the others. */
static void sample_head(buf *out, const char *name, const char *suffix, const char *const *labels,
                        const char *extra_name, const char *extra_value)
{
    buf_printf(out, "%s%s", name, suffix);
    int first = 1;
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        buf_printf(out, "%s%s=\"", first ? "{" : ",", labels[i]);
        prom_escape(labels[i + 1], out);
        buf_append_str(out, "\"");
        first = 0;
    }
    if (extra_name) {
        buf_printf(out, "%s%s=\"", first ? "{" : ",", extra_name);
        prom_escape(extra_value, out);
        buf_append_str(out, "\"");
        first = 0;
    }
    if (!first)
        buf_append_str(out, "}");
}

void prom_sample_u(buf *out, const char *name, const char *const *labels, unsigned long long value)
{
    sample_head(out, name, "", labels, NULL, NULL);
    buf_printf(out, " %llu\n", value);
}

/* %.17g round-trips a double; the format spells the infinities itself. */
static void number(buf *out, double v)
{
    if (isinf(v))
        buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        buf_append_str(out, "NaN");
    else
        buf_printf(out, "%.17g", v);
}

void prom_sample_d(buf *out, const char *name, const char *const *labels, double value)
{
    sample_head(out, name, "", labels, NULL, NULL);
    buf_append_str(out, " ");
    number(out, value);
    buf_append_str(out, "\n");
}

void prom_histogram_init(prom_histogram *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n = n;
    h->counts = xcalloc(n + 1, sizeof *h->counts);
}

void prom_histogram_free(prom_histogram *h)
{
    free(h->counts);
    memset(h, 0, sizeof *h);
}

void prom_histogram_observe(prom_histogram *h, double value)
{
    size_t i = 0;
    while (i < h->n && value > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += value;
}

void prom_histogram_format(buf *out, const char *name, const char *const *labels, const prom_histogram *h)
{
    unsigned long long cumulative = 0;
    buf le = BUF_INIT;
    for (size_t i = 0; i <= h->n; i++) {
        cumulative += h->counts[i];
        buf_reset(&le);
        if (i < h->n)
            buf_printf(&le, "%g", h->bounds[i]);
        else
            buf_append_str(&le, "+Inf");
        sample_head(out, name, "_bucket", labels, "le", buf_cstr(&le));
        buf_printf(out, " %llu\n", cumulative);
    }
    buf_free(&le);
    sample_head(out, name, "_sum", labels, NULL, NULL);
    buf_append_str(out, " ");
    number(out, h->sum);
    buf_append_str(out, "\n");
    sample_head(out, name, "_count", labels, NULL, NULL);
    buf_printf(out, " %llu\n", h->count);
}

int prom_file_write(const char *path, const buf *text, buf *err)
{
    return fs_write_file(path, text->data ? text->data : "", text->len, 0644, err);
}
