/* public_cert: the public certificate of a site (tls.source), the one
 * clients see on 25/587/465/143/993/110/995/4190, kept in
 * STATE/tls/public/{fullchain.pem,key.pem} for the sources files and acme
 * (site-ca: the site CA's STATE/tls/server.crt, nothing to do here).
 *   - files: the admin's certificate, key and chain are checked
 *     (cert_check.h) and copied as they are whenever they differ from the
 *     installed copy; never written to, never re-issued.
 *   - acme: Debian's lego obtains a certificate for the DNS names of
 *     tls.names (not localhost, not addresses) over ACME with the HTTP-01
 *     challenge (its own server on port 80; on a one-host site whose
 *     nginx holds port 80, tokens written where nginx serves them:
 *     webserver_acme_webroot), when there is none, when the
 *     names changed, when it expires within PUBLIC_CERT_RENEW_DAYS, or
 *     when forced. Account key and lego's state: STATE/secrets/acme (0700).
 *     A failed renewal while a valid certificate is installed is not an
 *     error: it is recorded in STATE/tls/public/acme-renewal-failed (one
 *     line, for `status`) and returned as a warning; the old certificate
 *     keeps serving. A success removes that record.
 * A site of several hosts (public_names.h): files = one certificate that
 * must cover every public name, installed on each relay and proxy; acme =
 * each relay orders its own name, the first proxy orders the proxies'
 * names, and the other proxies serve what is in that folder (shared in
 * the test fabric, copied there on real hosts), checked like the rest;
 * lego listens on ACME_LEGO_PORT, to which every relay's and proxy's port
 * 80 is forwarded (acme_forward_service.h); `up` calls this for ACME only
 * once that forwarder runs.
 * Stores and the directory have no public port: nothing to do there.
 * *changed = 1 when new files were installed (or, on a proxy that does
 * not order, a new copy is found): the daemons must reload
 * (public_cert_reload). */
#ifndef EMAILNG_PUBLIC_CERT_H
#define EMAILNG_PUBLIC_CERT_H

#include "buf.h"
#include "site.h"

#define PUBLIC_CERT_RENEW_DAYS 30

/* For `only` (NULL: the one host of a one-host site; a site of several
 * hosts needs a host, since lego answers on port 80 of the host it runs
 * on). 0, or -1 with err (nothing installed; what is installed stays). A
 * warning (ACME failed, old certificate kept) goes to warning. */
int public_cert_ensure(const struct site *site, const char *state_dir, const struct site_host *only, int force,
                       int *changed, buf *warning, buf *err);

/* What `emailng check` can say without touching the state: the files of
 * tls.source files (every check of cert_check), the ACME CA bundle
 * readable. 0, or -1 with "PATH: reason". */
int public_cert_check_site(const struct site *site, buf *err);

/* Reloads every running daemon of `only` (NULL: of every host) that serves the public
 * certificate (services.h: reload), printing one line each to stdout.
 * 0, or -1 with err. */
int public_cert_reload(const struct site *site, const char *state_dir, const struct site_host *only, buf *err);

/* Lines (each ending in \n) `status` warns with, for each certificate
 * folder of the site: the recorded ACME failure; an installed public
 * certificate that expires within days. */
void public_cert_warnings(const struct site *site, const char *state_dir, int days, buf *lines);

#endif
