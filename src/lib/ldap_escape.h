/* ldap_escape: making arbitrary strings safe inside LDAP filters and DNs.
 *
 * ldap_escape_filter() appends VALUE escaped as an RFC 4515 assertion
 * value ('*' '(' ')' '\' NUL and non-ASCII become \hh), ready to stand
 * between "(mail=" and ")".  It uses libldap's
 * ldap_bv2escaped_filter_value().
 *
 * ldap_escape_dn_value() appends VALUE escaped as an RFC 4514 attribute
 * value, ready to stand after "mail=" in a DN (',' '+' '"' '\' '<' '>'
 * ';' '=' , a leading space or '#', a trailing space, control and
 * non-UTF-8 bytes are escaped).  It lets libldap's own DN writer
 * (ldap_rdn2str() with LDAP_DN_FORMAT_LDAPV3) do the escaping.
 *
 * Both append to out.  If libldap fails (out of memory), each falls back
 * to escaping every byte as \hh, which both RFCs accept, so the result is
 * always safe.  Links with -lldap -llber. */
#ifndef EMAILNG_LDAP_ESCAPE_H
#define EMAILNG_LDAP_ESCAPE_H

#include "buf.h"

void ldap_escape_filter(buf *out, const char *value);
void ldap_escape_dn_value(buf *out, const char *value);

#endif
