/* table: the files emailng-healthd writes for the proxies, each replaced
 * atomically (write a temporary file, fsync, rename) so a reader sees the
 * old table or the new one, never half of one.
 *   table:       "PAIR ADDRESS" lines, one per pair, in configuration order.
 *   passwd_file: the same as a Dovecot passwd-file keyed by pair name,
 *                "PAIR:::::::host=ADDRESS nopassword", for the proxies'
 *                second passdb (docs/healthd.md, "Dovecot mapping").
 *   status_file: what the monitor sees, for `emailng node list|drain`:
 *                "store ADDRESS PAIR primary|secondary STATE" per store,
 *                then "pair PAIR ADDRESS" per pair (its active store).
 *   metrics_file: its counters for Prometheus in the text format
 *                (src/lib/promtext.h), appended as they are by
 *                emailng-metricsd next to what it reads from status_file:
 *                emailng_healthd_switches_total{pair,to} (the pair's
 *                active store changed to its primary or secondary) since
 *                the monitor started. Written with the status file. */
#ifndef HEALTHD_TABLE_H
#define HEALTHD_TABLE_H

#include "buf.h"
#include "config.h"

/* active[i] is 0 (primary) or 1 (secondary) for c->pairs[i]. */
void table_format_plain(const hd_config *c, const int *active, buf *out);
void table_format_passwd(const hd_config *c, const int *active, buf *out);
/* states[2 * pair + role] is a store's state name ("up", "drained", ...). */
void table_format_status(const hd_config *c, const int *active, const char *const *states, buf *out);
/* switches[2 * pair + to]: how often the pair switched to its primary (0)
 * or secondary (1). */
void table_format_metrics(const hd_config *c, const unsigned long long *switches, buf *out);
/* Writes every configured output. */
int table_write(const hd_config *c, const int *active, buf *err);
/* Reads a previous plain table: for every pair whose line names one of
 * its two hosts sets active[i]; other lines are ignored. Returns how many
 * pairs were found. */
int table_parse_active(const hd_config *c, const char *text, int *active);

#endif
