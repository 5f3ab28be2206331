/* cmd_dns: `emailng dns [--domain D] [--json]` prints the DNS records the
 * site's domains need as zone-file lines (src/lib/dns_records.h), and
 * `emailng dns check [--domain D] [--json]` looks each one up through the
 * system resolver (glibc's res_nquery) and reports it ok, missing, wrong
 * (with what was found) or error (the lookup failed): exit 0 when every
 * record is right, 1 otherwise. */
#ifndef EMAILNG_CMD_DNS_H
#define EMAILNG_CMD_DNS_H

#include "cli.h"

int cmd_dns_run(const struct options *o, int argc, char **argv);

/* Looks the TXT records at name up through the system resolver, as `dns
 * check` does: found receives each value (its strings joined) on a line
 * of its own. 0 (found may be empty: no such record), or -1 with err when
 * the lookup itself failed. For `emailng dkim activate`. */
int dns_lookup_txt(const char *name, buf *found, buf *err);

#endif
