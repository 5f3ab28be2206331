/* fabric: a site of several hosts on one machine, for tests and demos.
 * `emailng up --site SITE` (several hosts, no --host) makes the test fabric
 * of docs/fabric.md with scripts/fabric.sh (one network namespace per
 * host, plus "dns" and "client" when the site's fabric section names
 * them) and starts each host with `ip netns exec PREFIX-HOST emailng up
 * --host HOST`, exactly what a real host runs. PREFIX is derived from the
 * state directory, so two state directories never share a fabric. */
#ifndef EMAILNG_FABRIC_H
#define EMAILNG_FABRIC_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "site.h"

/* "en" + 8 hex digits of a hash of the state directory (caller frees). */
char *fabric_prefix(const char *state_dir);

/* A file of ours in a system folder (/etc/cron.d, /etc/logrotate.d), one
 * per state directory: DIR/emailng for the default one, else
 * DIR/emailng-PREFIX (caller frees). */
char *fabric_system_file(const char *dir, const char *state_dir);

/* 1 if the fabric PREFIX is up (its record in /run/emailng-fabric). */
int fabric_exists(const char *prefix);

/* Creates the fabric for every host of the site (and dns/client). */
int fabric_create(const struct site *site, const char *prefix, const char *datadir, buf *err);

/* A running fabric: makes the namespaces of the site's hosts it lacks (a
 * store pair added to the site file); output gets fabric.sh's line
 * ("fabric P: store3=ADDR ... added" or "... no new host"). */
int fabric_add_hosts(const struct site *site, const char *prefix, const char *datadir, buf *output, buf *err);

/* Removes it (idempotent). */
int fabric_destroy(const char *prefix, const char *datadir, buf *err);

/* Runs argv inside host's namespace (ip netns exec); output gets its
 * stdout and stderr. Returns the exit status, or -1. */
int fabric_run(const char *prefix, const char *host, const char *const argv[], buf *output, buf *err);

/* Runs argv on host: inside its namespace when the state directory's
 * fabric is up, else right here (the small site, a real host). */
int fabric_run_on_host(const char *state_dir, const char *host, const char *const argv[], buf *output, buf *err);

/* `doveadm -c STATE/etc/HOST/dovecot/dovecot.conf ARGS...` on host, as
 * fabric_run_on_host runs it: its exit status, or -1 (err). */
int fabric_doveadm(const char *state_dir, const char *host, const char *const *args, buf *output, buf *err);

/* The fabric's authoritative DNS (nsd in PREFIX-dns, configuration
 * rendered to STATE/etc/fabric-dns/nsd by render_site): started once, or
 * restarted when `restart`. stop: 0 if it was not running either. */
int fabric_dns_start(const char *prefix, const char *state_dir, int restart, buf *err);
int fabric_dns_stop(const char *state_dir, buf *err);
pid_t fabric_dns_pid(const char *state_dir);

/* The hosts in start order: directory, stores, proxies, relays (the site
 * file's order within a role). order gets n_hosts indexes. */
void fabric_start_order(const struct site *site, size_t *order);

#endif
