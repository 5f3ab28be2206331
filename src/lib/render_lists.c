/* render_lists: see render_lists.h. */
#include "render_lists.h"

#include <stdlib.h>

#include "process.h"
#include "render_outbound.h"

/* Postfix's virtual_alias_expansion_limit is 1000 addresses by default:
 * a larger list would be deferred ("unreasonable virtual_alias_maps map
 * expansion size"). Only listcleanup gets the higher limit. */
#define LIST_MAX_MEMBERS_TEXT "100000"

void render_lists_context(const struct site_host *host, struct render_context *ctx)
{
    char *program = process_program_next_to_us("emailng-list-deliver", "/usr/local/sbin/emailng-list-deliver");
    render_context_set(ctx, "list_deliver_program", program);
    if (!(host->roles & ROLE_STORE)) {
        render_context_set(ctx, "postfix_list_services",
                           "# (mailing lists are expanded on the stores: no list services here)");
        free(program);
        return;
    }
    /* The pipe runs as emailng-list: pipe(8) refuses root, the mail
     * owner and the postdrop group, so the agent reaches Postfix on
     * loopback TCP, guarded for its user (loopback_guard.c). The
     * reinjected mail was checked at the border: no filter, no milters,
     * no policy; listcleanup alone expands LIST+members, up to
     * LIST_MAX_MEMBERS_TEXT addresses. */
    char *text = xasprintf(
        "emailng-list unix -     n       n       -       -       pipe\n"
        "  flags=.D user=emailng-list\n"
        "  argv=%s --port %d ${recipient}\n"
        "127.0.0.1:%d inet n -       n       -       -       smtpd\n"
        "  -o syslog_name=postfix/listreinject\n"
        "  -o cleanup_service_name=listcleanup\n"
        "  -o content_filter=\n"
        "  -o smtpd_milters=\n"
        "  -o receive_override_options=no_header_body_checks,no_milters\n"
        "  -o mynetworks=127.0.0.1/32\n"
        "  -o smtpd_client_restrictions=\n"
        "  -o smtpd_helo_restrictions=\n"
        "  -o smtpd_sender_restrictions=\n"
        "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
        "  -o smtpd_relay_restrictions=permit_mynetworks,reject\n"
        "  -o smtpd_data_restrictions=\n"
        "  -o smtpd_end_of_data_restrictions=\n"
        "  -o smtpd_tls_security_level=none\n"
        "  -o smtpd_sasl_auth_enable=no\n"
        "listcleanup unix n      -       n       -       0       cleanup\n"
        "  -o virtual_alias_maps=$list_virtual_alias_maps\n"
        "  -o virtual_alias_expansion_limit=" LIST_MAX_MEMBERS_TEXT,
        program, PORT_LIST_REINJECT, PORT_LIST_REINJECT);
    render_context_set(ctx, "postfix_list_services", text);
    free(text);
    free(program);
}
