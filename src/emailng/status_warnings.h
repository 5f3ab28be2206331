/* status_warnings: what `emailng status` warns an administrator about,
 * beyond services that are down (O1):
 *   - a relay whose virus scanner has only the built-in test signatures
 *     (no ClamAV database: freshclam has never run);
 *   - a certificate of the site (STATE/tls) that expires within
 *     STATUS_CERT_WARN_DAYS days;
 *   - a file system holding mail or queues (STATE/data/HOST) more than
 *     STATUS_DISK_WARN_PERCENT full.
 * Each warning is one line of text; the disks are also reported as
 * figures ("disks" in status --json). */
#ifndef EMAILNG_STATUS_WARNINGS_H
#define EMAILNG_STATUS_WARNINGS_H

#include "buf.h"
#include "cli.h"
#include "site.h"

#define STATUS_CERT_WARN_DAYS 21
#define STATUS_DISK_WARN_PERCENT 85

/* Appends "warning" lines (each ending in \n) to text, and to json the
 * members ,"warnings":[...],"disks":[{"path","used_percent"}]. */
void status_warnings(const struct site *site, const struct options *o, buf *text, buf *json);

#endif
