/* make: a proxy's half of emailng-tablesync. Every interval it reads the
 * directory's contextCSN over LDAPS with the proxy's client certificate
 * (the Dovecot identity it already has: no new credential) and, when it
 * changed, when the site file changed, or at least every refresh period,
 * takes a snapshot and writes the relays' tables (relay_tables_build,
 * policy_table_build) as one bundle (table_bundle.h) where this proxy's
 * nginx serves it to the relays. The file is replaced atomically and only
 * when its bytes change (nginx's ETag then stays the same: the relays get
 * 304). When the directory does not answer, the last bundle stays. */
#ifndef TABLESYNC_MAKE_H
#define TABLESYNC_MAKE_H

struct maker_options {
    const char *site_file;      /* the site file (policy limits, default pair) */
    const char *ldap_uri, *ca, *cert, *key;
    const char *out;            /* the bundle file nginx serves */
    const char *group;          /* the bundle's group (nginx's workers) */
    long interval_ms;
    long refresh_ms;
};

/* Runs until SIGTERM/SIGINT; 0 then, 1 if it cannot start. */
int maker_run(const struct maker_options *o);

#endif
