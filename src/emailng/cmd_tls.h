/* cmd_tls: `emailng tls renew [--force]`: the public certificate from its
 * source (public_cert.h) now, without a whole `up`: the admin's changed
 * files installed, or an ACME certificate renewed when due (always with
 * --force); the daemons that serve it reload (no restart: open sessions
 * go on). A site of several hosts renews host by host (--host; in the
 * test fabric, without --host, each relay and proxy in its namespace,
 * proxies first). Exit status 0 done (also "nothing to do"), 1 failed (an ACME
 * renewal that failed counts, even while the old certificate serves),
 * 2 usage. */
#ifndef EMAILNG_CMD_TLS_H
#define EMAILNG_CMD_TLS_H

#include "cli.h"

int cmd_tls_run(const struct options *o, int argc, char **argv);

#endif
