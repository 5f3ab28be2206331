/* render: turn templates/COMPONENT/... into one host's configuration files.
 * A template is a real config file with {{name}} placeholders; the values
 * come from the site model (render_context_for_host). An unknown
 * placeholder is an error naming the template file and line. Output is a
 * pure function of the site, the host and the state directory, so the
 * same site renders to the same bytes every time. */
#ifndef EMAILNG_RENDER_H
#define EMAILNG_RENDER_H

#include "buf.h"
#include "site.h"

struct render_var {
    char *name;
    char *value;
};

struct render_context {
    struct render_var *vars;
    size_t n_vars;
};

void render_context_set(struct render_context *ctx, const char *name, const char *value);
const char *render_context_get(const struct render_context *ctx, const char *name);
void render_context_free(struct render_context *ctx);

/* Every placeholder value for a host of the site (paths under state_dir).
 * Returns -1 with a message if a system user the daemons need is missing. */
int render_context_for_host(const struct site *site, const struct site_host *host,
                            const char *state_dir, struct render_context *ctx, buf *err);

/* Expand one template text. `where` names it in errors. */
int render_text(const struct render_context *ctx, const char *text, const char *where,
                buf *out, buf *err);

/* The components a host runs, given its roles: a NULL-terminated list of
 * names such as "slapd", "dovecot", "postfix" (the role table,
 * host_kind.h; empty for roles no host may have). */
const char *const *render_components(unsigned roles);

/* The template folder (under templates/) of a component on a host with
 * these roles: e.g. "postfix-relay" for postfix on a relay-only host,
 * "postfix" on the small-site host (docs/internals.md). */
const char *render_component_template(unsigned roles, const char *component);

/* Render every component of every host of the site into out_dir/HOST/COMPONENT.
 * templates_dir holds one folder per component. */
int render_site(const struct site *site, const char *templates_dir, const char *state_dir,
                const char *out_dir, buf *err);

#endif
