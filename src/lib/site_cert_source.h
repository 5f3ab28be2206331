/* site_cert_source: the site-file keys tls.source, tls.files and tls.acme
 * (where the public certificate comes from; site.h enum site_cert_source).
 *     tls:
 *       source: site-ca | files | acme      (default site-ca)
 *       files: {certificate: PATH, key: PATH, chain: PATH}
 *       acme: {directory: https://URL, email: ADDRESS, ca_bundle: PATH}
 * site.c hands the three values to site_cert_source_take() while it walks
 * the tls mapping, then calls site_cert_source_check() once with the tls
 * node: a source without its block (files without certificate/key, acme
 * without directory/email), a block for another source, an unknown
 * source, a non-https directory, relative paths and, on a site of several
 * hosts, files or acme with localhost as tls.names[0] (the
 * proxies' public name) are reported there as FILE:LINE:COL.
 * Only the site file is checked here; the files themselves are checked by
 * cert_check.h when `check` or `up` runs. */
#ifndef EMAILNG_SITE_CERT_SOURCE_H
#define EMAILNG_SITE_CERT_SOURCE_H

#include "site.h"
#include "yaml_config.h"

/* The nodes seen, for the reports of site_cert_source_check(). */
struct cert_source_nodes {
    const yaml_node_t *source, *files, *acme;
};

/* key is "source", "files" or "acme" (the tls keys this module owns);
 * returns 1 when it took the key, 0 when the key is another one. */
int site_cert_source_take(ycfg *y, const char *key, const yaml_node_t *value, struct site *site,
                          struct cert_source_nodes *nodes);

/* The checks that need the whole tls mapping and the hosts. */
void site_cert_source_check(ycfg *y, const yaml_node_t *tls_node, const struct cert_source_nodes *nodes,
                            const struct site *site);

/* "site-ca", "files" or "acme". */
const char *site_cert_source_name(enum site_cert_source source);

void site_cert_source_free(struct site *site);

#endif
