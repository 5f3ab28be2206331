/* ldap_escape: RFC 4515 filter and RFC 4514 DN value escaping via libldap;
 * see ldap_escape.h. */
#include "ldap_escape.h"

#include <string.h>

#include <ldap.h>

/* Valid in both filters (RFC 4515 section 3) and DNs (RFC 4514 2.4). */
static void escape_every_byte(buf *out, const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        buf_printf(out, "\\%02x", *p);
}

void ldap_escape_filter(buf *out, const char *value)
{
    struct berval in, escaped = {0, NULL};

    in.bv_val = (char *)value;
    in.bv_len = strlen(value);
    if (ldap_bv2escaped_filter_value(&in, &escaped) != 0
        || escaped.bv_val == NULL) {
        escape_every_byte(out, value);
        return;
    }
    buf_append(out, escaped.bv_val, escaped.bv_len);
    ber_memfree(escaped.bv_val);
}

void ldap_escape_dn_value(buf *out, const char *value)
{
    /* One RDN holding one AVA "x=VALUE"; libldap writes it escaped and we
     * keep what follows "x=".  libldap hex-escapes values that are not
     * printable UTF-8 as a whole, but passes a newline or tab inside an
     * otherwise printable value through raw (RFC 4514 only requires NUL to
     * be escaped); we escape any control byte left, so a DN never spans
     * lines in logs or LDIF.  "\hh" for a raw byte is equivalent in a DN. */
    static char attr_name[] = "x";
    LDAPAVA ava;
    LDAPAVA *rdn[2] = {&ava, NULL};
    char *text = NULL;

    memset(&ava, 0, sizeof ava);
    ava.la_attr.bv_val = attr_name;
    ava.la_attr.bv_len = 1;
    ava.la_value.bv_val = (char *)value;
    ava.la_value.bv_len = strlen(value);
    ava.la_flags = LDAP_AVA_STRING;

    if (ldap_rdn2str(rdn, &text, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS
        || text == NULL || strncmp(text, "x=", 2) != 0) {
        if (text)
            ldap_memfree(text);
        escape_every_byte(out, value);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)text + 2; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            buf_printf(out, "\\%02x", *p);
        else
            buf_append_char(out, (char)*p);
    }
    ldap_memfree(text);
}
