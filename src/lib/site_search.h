/* site_search: the site file's `search:` section and what it renders.
 *     search: {fts: BOOL}        (default false)
 * fts: the stores' Dovecot answers IMAP SEARCH from a full-text index
 * (Debian's dovecot-fts-xapian, templates/dovecot{,-store}/fts.conf;
 * docs/admin-manual.md "Search"); false: Dovecot reads the messages.
 * Opt-in because fts-xapian 1.5.5 answers from the index alone: a word
 * shorter than its 3-character pieces, or a header search holding one
 * (Message-ID <p1@x>, Subject "is"), finds nothing once the message is
 * indexed, where IMAP promises a substring match. */
#ifndef EMAILNG_SITE_SEARCH_H
#define EMAILNG_SITE_SEARCH_H

#include <yaml.h>

#include "render.h"
#include "site.h"
#include "yaml_config.h"

/* Reads the section into *out; every problem is a FILE:LINE:COL report. */
void site_search_take(ycfg *y, const yaml_node_t *node, struct site_search *out);

/* The placeholder dovecot_fts: the include of fts.conf, or a comment
 * saying that full-text search is off. */
void site_search_render(const struct site *site, struct render_context *ctx);

#endif
