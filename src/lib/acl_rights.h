/* acl_rights: what `emailng share` and `emailng public` accept as rights
 * and folder names, before anything reaches doveadm.
 *
 * acl_rights_parse turns "read" (lrs), "write" (lrswipkxte) or RFC 4314
 * letters (any of lrswipkxtea, repeats ignored) into the right names
 * `doveadm acl set` takes ("lookup", "read", ...), in the order given.
 * acl_folder_check refuses folder names that are empty, start with '-'
 * or '/', hold "..", '*', '%' or control characters, are longer than 255
 * bytes, or (for a user's own folder) name the Shared/ or Public/
 * namespace. Both return 0, or -1 with a reason in err. */
#ifndef EMAILNG_ACL_RIGHTS_H
#define EMAILNG_ACL_RIGHTS_H

#include <stddef.h>

#include "buf.h"

/* On a site of several hosts, announcement folders (Public/NAME) are the
 * folders of this account of the primary domain: a mailbox with an owner,
 * so that the owner's replication carries them to the partner store. */
#define ACL_PUBLIC_OWNER_LOCALPART "public-folders"

/* Enough room for every right, each once. */
#define ACL_RIGHTS_MAX 11

int acl_rights_parse(const char *text, const char *names[ACL_RIGHTS_MAX], size_t *n_names, buf *err);

/* own_folder: 1 for a user's folder (share), 0 for a Public/ name. */
int acl_folder_check(const char *folder, int own_folder, buf *err);

#endif
