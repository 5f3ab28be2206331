/* site_dmarc: the `dmarc:` section of the site file and its placeholders;
 * see site_dmarc.h. */
#include "site_dmarc.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"

static const char *const mode_names[] = {
    [DMARC_ENFORCE] = "enforce",
    [DMARC_MONITOR] = "monitor",
    [DMARC_OFF] = "off",
};
static const char *const policy_names[] = {
    [DMARC_POLICY_NONE] = "none",
    [DMARC_POLICY_QUARANTINE] = "quarantine",
    [DMARC_POLICY_REJECT] = "reject",
};
#define N_MODES (sizeof mode_names / sizeof mode_names[0])
#define N_POLICIES (sizeof policy_names / sizeof policy_names[0])

const char *site_dmarc_mode_name(enum site_dmarc_mode mode)
{
    return (size_t)mode < N_MODES ? mode_names[mode] : "?";
}

const char *site_dmarc_policy_name(enum site_dmarc_policy policy)
{
    return (size_t)policy < N_POLICIES ? policy_names[policy] : "?";
}

/* The index of s in names, or -1. */
static int word_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

static void take_word(ycfg *y, const yaml_node_t *node, const char *field, const char *const *names, size_t n,
                      int *out)
{
    const char *s = ycfg_text(y, node, field);
    if (s == NULL)
        return;
    int i = word_index(names, n, s);
    if (i >= 0) {
        *out = i;
        return;
    }
    buf expected = BUF_INIT;
    for (size_t k = 0; k < n; k++)
        buf_printf(&expected, "%s%s", k == 0 ? "" : k + 1 == n ? " or " : ", ", names[k]);
    ycfg_report(y, node, "%s: \"%s\" is not one of %s", field, s, buf_cstr(&expected));
    buf_free(&expected);
}

void site_dmarc_take(ycfg *y, const yaml_node_t *node, struct site_dmarc *out)
{
    static const char *const keys[] = {"mode", "policy", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "dmarc", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            int v = -1;
            if (m.index == 0) {
                take_word(y, m.value, m.path, mode_names, N_MODES, &v);
                if (v >= 0)
                    out->mode = (enum site_dmarc_mode)v;
            } else if (m.index == 1) {
                take_word(y, m.value, m.path, policy_names, N_POLICIES, &v);
                if (v >= 0)
                    out->policy = (enum site_dmarc_policy)v;
            }
        }
    ycfg_map_end(&m);
}

void site_dmarc_render(const struct site *site, struct render_context *ctx)
{
    const struct site_dmarc *d = &site->dmarc;
    const char *run = render_context_get(ctx, "run_dir");
    buf b = BUF_INIT;
    render_context_set(ctx, "dmarc_mode", site_dmarc_mode_name(d->mode));
    buf_printf(&b, "%s/opendmarc/milter", run ? run : "");
    render_context_set(ctx, "dmarc_socket", buf_cstr(&b));
    /* Postfix's MX list entry (main.cf dmarc_milter). Without the milter the
     * MX answers 451 (tempfail): a forged sender is never let through
     * unchecked, the sender's MTA retries, nothing is lost. */
    buf_reset(&b);
    if (d->mode != DMARC_OFF)
        buf_printf(&b, "{ unix:%s/opendmarc/milter, default_action=tempfail }", run ? run : "");
    render_context_set(ctx, "dmarc_milter", buf_cstr(&b));
    render_context_set(ctx, "dmarc_reject_failures", d->mode == DMARC_ENFORCE ? "true" : "false");
    /* Not DMARC-checked: programs on our own hosts (loopback) and the
     * site's hosts (stores hand outgoing mail to the relays' MX). A test
     * presents an internet address with XCLIENT, which the milter sees. */
    buf_reset(&b);
    buf_append_str(&b, "127.0.0.0/8\n::1\n");
    for (size_t i = 0; i < site->n_hosts; i++)   /* OpenDMARC compares IPv6 as inet_ntop writes it */
        buf_printf(&b, "%s\n", site->hosts[i].address);
    render_context_set(ctx, "dmarc_ignore_hosts", buf_cstr(&b));
    buf_free(&b);
}
