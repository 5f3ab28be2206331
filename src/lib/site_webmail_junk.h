/* site_webmail_junk: whether the webmail's Junk / Not junk buttons also
 * teach the user's spam lists (emailng-junklist, src/junklist/main.c),
 * and the placeholders of templates/roundcube/config.inc.php for it:
 *   webmail_junk_driver     markasjunk's learning driver: 'cmd_learn', or
 *                           null (the buttons only move and flag)
 *   webmail_junk_spam_cmd, webmail_junk_ham_cmd   the commands cmd_learn
 *                           runs (as www-data; %u the login, %s the
 *                           sender, shell-quoted by Roundcube): the
 *                           report mode of emailng-junklist, or null
 * On wherever the webmail runs (a proxy: the small site's one host, or
 * each proxy of several). The one host writes over ldapi and searches its
 * own store; a proxy of several over LDAPS (client certificate CN=passwd)
 * and the doveadm protocol to the user's active store. Needs run_dir in
 * ctx already. */
#ifndef EMAILNG_SITE_WEBMAIL_JUNK_H
#define EMAILNG_SITE_WEBMAIL_JUNK_H

#include "render.h"
#include "site.h"

int site_webmail_junklists(const struct site *site, const struct site_host *host);
void site_webmail_junk_render(const struct site *site, const struct site_host *host, struct render_context *ctx);

#endif
