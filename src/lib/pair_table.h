/* pair_table: reading a proxy's pair -> active store table, the file
 * emailng-healthd keeps (DATA/healthd/pairs.passwd, Dovecot passwd-file
 * form, one "PAIR:::::::host=ADDRESS nopassword" line per pair;
 * store_pairs_default_passwd() writes the first one). Used by daemons of a
 * proxy that must reach a user's mailbox where Dovecot's proxy would send
 * the user (emailng-junklist's doveadm search). */
#ifndef EMAILNG_PAIR_TABLE_H
#define EMAILNG_PAIR_TABLE_H

#include "buf.h"

/* The active store's address of pair (an exact name: pair1 is not
 * pair10) in the table text, into address. Returns 0, or -1 if the
 * table has no such pair or its line no host= (err says which). */
int pair_table_address(const char *text, const char *pair, buf *address, buf *err);

#endif
