/* tls: the site's local certificate authority and server certificate.
 *
 * tls_ensure() makes sure DIR holds ca.crt, ca.key, server.crt and
 * server.key, creating only what is missing:
 *   - a CA (EC P-256, 10 years, CA:TRUE critical, keyCertSign+cRLSign,
 *     subjectKeyIdentifier, and, when `permitted` names any, a critical
 *     nameConstraints extension: permitted;DNS:NAME for each host name (RFC
 *     5280: the name and all its subdomains), permitted;IP:NET/MASK
 *     for each address: its IPv4 /24 or IPv6 /64, loopback only itself) when neither ca.crt nor ca.key exists; if only one
 *     of the pair exists it stops with an error rather than guess. An
 *     existing CA is kept as it is (clients trust it), constraints or not;
 *   - a server key and certificate (EC P-256, TLS_SERVER_DAYS, CN = first
 *     name, SAN DNS:name for each name, IP:addr for names that parse as
 *     IPv4 or IPv6 addresses, serverAuth, authorityKeyIdentifier) when
 *     either file is missing, when the certificate was not issued by the CA
 *     in DIR, when its SANs do not cover every name, when it expires within
 *     TLS_RENEW_BEFORE_DAYS or when it was issued for longer than
 *     TLS_SERVER_DAYS (older EmailNG issued 825 days).
 * A new certificate must verify against the CA (name constraints
 * included) before it is written; else an error names the reason.
 * Existing files that pass these checks are left untouched (not rewritten);
 * *changed (when not NULL) is set to 1 when a file was written.
 * Serials are 128-bit random.  Files are written to a temporary name and
 * renamed into place.  Keys are 0600 and owned by whoever runs this
 * (root): slapd, Dovecot and Postfix all read their keys as root before
 * dropping privileges.  Certificates are 0644.  DIR itself is created
 * (0755) if missing, its parent must exist.
 * Returns 0, or -1 with a one-line reason in err.  Links with -lcrypto. */
#ifndef EMAILNG_TLS_H
#define EMAILNG_TLS_H

#include <stddef.h>

#include "buf.h"

#define TLS_CA_DAYS 3650
/* CA/Browser Forum limit for publicly trusted server certificates (398
 * days); clients such as Apple's refuse longer ones even from a private CA. */
#define TLS_SERVER_DAYS 398
#define TLS_RENEW_BEFORE_DAYS 30

int tls_ensure(const char *dir, const char *const *names, size_t n_names,
               const char *const *permitted, size_t n_permitted, int *changed, buf *err);

/* A certificate issued by the CA that tls_ensure() made in ca_dir, written
 * to crt_path and key_path (their folder must exist), kept when the files
 * are still good (issued by that CA, matching, names covered, not about to
 * expire, at most TLS_SERVER_DAYS long), else made anew (*changed = 1).
 * A server certificate when client_unit is NULL (CN names[0], SAN every
 * name, serverAuth: one per host of a site of several hosts); else a client certificate for TLS client authentication
 * (subject "CN=names[0], OU=client_unit, O=EmailNG client", clientAuth, no
 * SAN; e.g. CN=dovecot, OU=proxy1 for SASL EXTERNAL binds to slapd). The
 * key is root's 0600, or root:key_group 0640 when key_group is given (the
 * daemon reads it after dropping privileges). Without ca_dir/ca.key (a
 * deployed host: the key stays on the control host) good files are kept
 * and anything else is an error. */
int tls_ensure_issued(const char *ca_dir, const char *crt_path, const char *key_path,
                      const char *const *names, size_t n_names, const char *client_unit,
                      const char *key_group, int *changed, buf *err);

/* Whether the CA certificate in path carries a nameConstraints extension
 * (CAs made before EmailNG added them do not). 1, 0, or -1 with err. */
int tls_ca_has_name_constraints(const char *path, buf *err);

/* Whole days from now until the certificate in path expires (negative once
 * it has); its subject's CN in subject (appended) when not NULL. */
int tls_certificate_days_left(const char *path, long *days, buf *subject, buf *err);

#endif
