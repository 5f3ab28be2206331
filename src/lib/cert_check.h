/* cert_check: checks of a public certificate EmailNG did not issue (the
 * admin's files, or what an ACME CA returned), and its installation into
 * the state directory, with OpenSSL's C API.
 *
 * cert_check() refuses, with "PATH: reason" in err (the file at fault):
 *   - a file missing or unreadable, or holding no PEM certificate / key;
 *   - a key that does not match the certificate (the first one in
 *     cert_path; more certificates after it are taken as its chain);
 *   - a chain file none of whose certificates issued the certificate;
 *   - a certificate not valid at `now` (expired, or not yet valid);
 *   - a certificate that does not cover `name` (DNS name with wildcard
 *     rules of RFC 6125, or an IP literal).
 * cert_install() copies the files as they are (bytes unchanged) to
 * DIR/fullchain.pem (certificate, then the chain; 0644) and DIR/key.pem
 * (0600), each through a temporary file and rename(2), and only when they
 * differ from what is there: *changed = 1 then, and the daemons that serve
 * it must reload. Links with -lcrypto. */
#ifndef EMAILNG_CERT_CHECK_H
#define EMAILNG_CERT_CHECK_H

#include <time.h>

#include "buf.h"

/* chain_path may be NULL. Returns 0, or -1 with err. */
int cert_check(const char *cert_path, const char *key_path, const char *chain_path, const char *name, time_t now,
               buf *err);

/* Run cert_check first. chain_path may be NULL. 0, or -1 with err. */
int cert_install(const char *cert_path, const char *key_path, const char *chain_path, const char *dir,
                 int *changed, buf *err);

/* Seconds from now until the certificate in path (the first in the file)
 * expires, negative once it has. 0, or -1 with "PATH: reason". */
int cert_seconds_left(const char *path, time_t now, long long *seconds, buf *err);

#endif
