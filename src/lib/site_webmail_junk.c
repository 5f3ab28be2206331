/* site_webmail_junk: the webmail's junk reports to emailng-junklist; see
 * site_webmail_junk.h. */
#include "site_webmail_junk.h"

#include <stdlib.h>

#include "buf.h"
#include "process.h"
#include "site_webmail.h"

int site_webmail_junklists(const struct site *site, const struct site_host *host)
{
    /* Wherever Roundcube runs: the one host, or a proxy of several. */
    return site_webmail_enabled(site) && (host->roles & ROLE_PROXY);
}

/* s for /bin/sh, in single quotes. */
static void shell_quote(const char *s, buf *out)
{
    buf_append_char(out, '\'');
    for (; *s; s++)
        if (*s == '\'')
            buf_append_str(out, "'\\''");
        else
            buf_append_char(out, *s);
    buf_append_char(out, '\'');
}

/* s as a PHP single-quoted string literal. */
static void php_quote(const char *s, buf *out)
{
    buf_append_char(out, '\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            buf_append_char(out, '\\');
        buf_append_char(out, *s);
    }
    buf_append_char(out, '\'');
}

/* markasjunk's cmd_learn command for one verdict (PHP literal). */
static void report_command(const char *program, const char *socket, const char *verdict, buf *out)
{
    buf cmd = BUF_INIT;
    shell_quote(program, &cmd);
    buf_append_str(&cmd, " --report --socket ");
    shell_quote(socket, &cmd);
    buf_printf(&cmd, " %s %%u %%s 2>&1", verdict);
    php_quote(buf_cstr(&cmd), out);
    buf_free(&cmd);
}

void site_webmail_junk_render(const struct site *site, const struct site_host *host, struct render_context *ctx)
{
    if (!site_webmail_junklists(site, host)) {
        render_context_set(ctx, "webmail_junk_driver", "null");
        render_context_set(ctx, "webmail_junk_spam_cmd", "null");
        render_context_set(ctx, "webmail_junk_ham_cmd", "null");
        return;
    }
    const char *run = render_context_get(ctx, "run_dir");
    char *program = process_program_next_to_us("emailng-junklist", "/usr/local/sbin/emailng-junklist");
    char *socket = xasprintf("%s/roundcube/junklist.sock", run ? run : "");
    buf spam = BUF_INIT, ham = BUF_INIT;
    report_command(program, socket, "spam", &spam);
    report_command(program, socket, "ham", &ham);
    render_context_set(ctx, "webmail_junk_driver", "'cmd_learn'");
    render_context_set(ctx, "webmail_junk_spam_cmd", buf_cstr(&spam));
    render_context_set(ctx, "webmail_junk_ham_cmd", buf_cstr(&ham));
    buf_free(&spam);
    buf_free(&ham);
    free(program);
    free(socket);
}
