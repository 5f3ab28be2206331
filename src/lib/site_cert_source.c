/* site_cert_source: tls.source, tls.files, tls.acme; see site_cert_source.h. */
#include "site_cert_source.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"

static const char *const source_names[] = {
    [CERT_SOURCE_SITE_CA] = "site-ca",
    [CERT_SOURCE_FILES] = "files",
    [CERT_SOURCE_ACME] = "acme",
};
#define N_SOURCES (sizeof source_names / sizeof source_names[0])

const char *site_cert_source_name(enum site_cert_source source)
{
    return (size_t)source < N_SOURCES ? source_names[source] : "?";
}

/* An absolute path with no control characters (it goes into daemon
 * configuration files and lego's command line). */
static void take_path(ycfg *y, const yaml_node_t *node, const char *key, char **out)
{
    const char *s = ycfg_text(y, node, key);
    if (s == NULL)
        return;
    if (s[0] != '/') {
        ycfg_report(y, node, "%s: \"%s\" is not an absolute path; expected e.g. /etc/ssl/mail/cert.pem", key, s);
        return;
    }
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            ycfg_report(y, node, "%s: the path has a control character; expected a plain absolute path", key);
            return;
        }
    free(*out);
    *out = xstrdup(s);
}

static void take_source(ycfg *y, const yaml_node_t *node, struct site *site)
{
    const char *s = ycfg_text(y, node, "tls.source");
    if (s == NULL)
        return;
    for (size_t i = 0; i < N_SOURCES; i++)
        if (strcmp(s, source_names[i]) == 0) {
            site->cert_source = (enum site_cert_source)i;
            return;
        }
    ycfg_report(y, node, "tls.source: \"%s\" is not a certificate source; expected one of: site-ca, files, acme", s);
}

static void take_files(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"certificate", "key", "chain", NULL};
    char **fields[] = {&site->cert_files.certificate, &site->cert_files.key, &site->cert_files.chain};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "tls.files", keys, &m) == 0)
        while (ycfg_map_next_all(&m))
            if (m.index >= 0)
                take_path(y, m.value, m.path, fields[m.index]);
    ycfg_map_end(&m);
}

static void take_directory_url(ycfg *y, const yaml_node_t *node, const char *key, struct site *site)
{
    const char *s = ycfg_text(y, node, key);
    if (s == NULL)
        return;
    /* lego would talk plain HTTP to an http:// directory: the account key
     * and the orders would go unprotected. */
    if (strncasecmp(s, "https://", 8) != 0 || s[8] == '\0' || s[8] == '/') {
        ycfg_report(y, node, "%s: \"%s\" is not an https:// URL; expected e.g. "
                    "https://acme-v02.api.letsencrypt.org/directory", key, s);
        return;
    }
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            ycfg_report(y, node, "%s: the URL has a space or control character; expected a plain https:// URL", key);
            return;
        }
    free(site->acme.directory);
    site->acme.directory = xstrdup(s);
}

static void take_email(ycfg *y, const yaml_node_t *node, const char *key, struct site *site)
{
    const char *s = ycfg_text(y, node, key);
    if (s == NULL)
        return;
    buf out = BUF_INIT, why = BUF_INIT;
    if (strchr(s, '@') == NULL)
        ycfg_report(y, node, "%s: \"%s\" is not an address; expected the contact the ACME CA writes to "
                    "about expiry and revocation, e.g. hostmaster@example.org", key, s);
    else if (address_normalize(s, NULL, &out, &why) != 0)
        ycfg_report(y, node, "%s: %s; expected e.g. hostmaster@example.org", key, buf_cstr(&why));
    else {
        free(site->acme.email);
        site->acme.email = buf_steal(&out);
    }
    buf_free(&out);
    buf_free(&why);
}

static void take_acme(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"directory", "email", "ca_bundle", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "tls.acme", keys, &m) == 0)
        while (ycfg_map_next_all(&m))
            switch (m.index) {
            case 0: take_directory_url(y, m.value, m.path, site); break;
            case 1: take_email(y, m.value, m.path, site); break;
            case 2: take_path(y, m.value, m.path, &site->acme.ca_bundle); break;
            default: break;
            }
    ycfg_map_end(&m);
}

int site_cert_source_take(ycfg *y, const char *key, const yaml_node_t *value, struct site *site,
                          struct cert_source_nodes *nodes)
{
    static const struct {
        const char *key;
        void (*take)(ycfg *y, const yaml_node_t *node, struct site *site);
        size_t node;                    /* offset in struct cert_source_nodes */
    } keys[] = {
        {"source", take_source, offsetof(struct cert_source_nodes, source)},
        {"files", take_files, offsetof(struct cert_source_nodes, files)},
        {"acme", take_acme, offsetof(struct cert_source_nodes, acme)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i].key) == 0) {
            *(const yaml_node_t **)((char *)nodes + keys[i].node) = value;
            keys[i].take(y, value, site);
            return 1;
        }
    return 0;
}

/* Whether a mapping has the key (given but refused: reported already, so
 * "missing" would be a second, wrong report). */
static int has_key(ycfg *y, const yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key)
            && memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return 1;
    }
    return 0;
}

void site_cert_source_check(ycfg *y, const yaml_node_t *tls_node, const struct cert_source_nodes *nodes,
                            const struct site *site)
{
    /* Where a missing key is reported: its block, else the source, else tls. */
    const yaml_node_t *at_source = nodes->source ? nodes->source : tls_node;
    const char *name = site_cert_source_name(site->cert_source);
    if (nodes->files && site->cert_source != CERT_SOURCE_FILES)
        ycfg_report(y, nodes->files, "tls.files: given, but tls.source is %s; expected tls.source: files "
                    "(or no tls.files)", name);
    if (nodes->acme && site->cert_source != CERT_SOURCE_ACME)
        ycfg_report(y, nodes->acme, "tls.acme: given, but tls.source is %s; expected tls.source: acme "
                    "(or no tls.acme)", name);
    if (site->cert_source == CERT_SOURCE_FILES) {
        const yaml_node_t *at = nodes->files ? nodes->files : at_source;
        if (site->cert_files.certificate == NULL && !has_key(y, nodes->files, "certificate"))
            ycfg_report(y, at, "tls.files.certificate: missing; tls.source files needs the certificate's path");
        if (site->cert_files.key == NULL && !has_key(y, nodes->files, "key"))
            ycfg_report(y, at, "tls.files.key: missing; tls.source files needs the private key's path");
    }
    if (site->cert_source == CERT_SOURCE_ACME) {
        const yaml_node_t *at = nodes->acme ? nodes->acme : at_source;
        if (site->acme.directory == NULL && !has_key(y, nodes->acme, "directory"))
            ycfg_report(y, at, "tls.acme.directory: missing; expected the ACME directory URL, e.g. "
                            "https://acme-v02.api.letsencrypt.org/directory");
        if (site->acme.email == NULL && !has_key(y, nodes->acme, "email"))
            ycfg_report(y, at, "tls.acme.email: missing; ACME needs a contact address (the CA writes about "
                        "expiry and revocation), e.g. hostmaster@example.org");
    }
    /* Several hosts: the proxies serve tls.names[0] with the public
     * certificate (the relays their own names, HOST.PRIMARY-DOMAIN), so it
     * must be a name a CA can put in a certificate and clients resolve. */
    if (site->cert_source != CERT_SOURCE_SITE_CA && site->n_hosts > 1 && site->n_tls_names > 0
        && strcasecmp(site->tls_names[0], "localhost") == 0)     /* an address: site.c says so already */
        ycfg_report(y, at_source, "tls.source: %s on a site of several hosts needs a DNS name as tls.names[0] "
                    "(the proxies' public name, e.g. mail.example.org), not \"%s\"", name, site->tls_names[0]);
}

void site_cert_source_free(struct site *site)
{
    free(site->cert_files.certificate);
    free(site->cert_files.key);
    free(site->cert_files.chain);
    free(site->acme.directory);
    free(site->acme.email);
    free(site->acme.ca_bundle);
}
