/* table: the exported table that `emailng` writes from the directory and
 * pushes to the relays (no directory access from the DMZ). Format (one
 * record per line, fields separated by one or more spaces or tabs,
 * '#' starts a comment line; documented in docs/policyd.md):
 *
 *   emailng-policyd-table 1                     first non-comment line
 *   mailbox   ADDRESS PAIR                       a real mailbox and its store pair
 *   alternate ADDRESS MAILBOX                    another address of a mailbox
 *   alias     ADDRESS MEMBER [MEMBER...]         alias or list (lines add up)
 *   list      ADDRESS POLICY [OWNER...]          a mailing list: open, internal or
 *                                                announce, and its owners (U4)
 *   limit     USER KEY=N [KEY=N...]              per-user send limits
 *                                                (msgs_per_hour rcpts_per_msg rcpts_per_day)
 *
 * Every address is checked with address_normalize(); any error rejects
 * the whole file (the daemon keeps the table it had) with file:line. */
#ifndef POLICYD_TABLE_H
#define POLICYD_TABLE_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "strmap.h"

typedef struct table {
    strmap mailboxes;   /* address -> char *pair */
    strmap alternates;  /* address -> char *mailbox */
    strmap aliases;     /* address -> str_list *members */
    strmap limits;      /* user -> send_limits * (-1 = not set) */
    strmap lists;       /* address -> table_list * */
    size_t lines;
} table;

/* Who may post to a mailing list (listpolicy.h). */
typedef struct table_list {
    char *policy;       /* "open", "internal" or "announce" */
    str_list owners;
} table_list;

void table_init(table *t);
void table_free(table *t);
int table_parse(table *t, const char *text, size_t len, const char *name, buf *err);
int table_load(table *t, const char *path, buf *err);

/* The mailbox that address delivers to directly (itself, or through an
 * alternate address), or NULL. */
const char *table_mailbox(const table *t, const char *address);
const char *table_pair(const table *t, const char *mailbox);
int table_is_alias(const table *t, const char *address);
/* The list at address (already a key: lower case, no extension), or NULL. */
const table_list *table_list_of(const table *t, const char *address);

/* Expands a recipient (aliases and lists, recursively, each address once)
 * to the mailboxes it reaches, at most max of them (*truncated set when
 * more). Lower-cases and strips a "+extension". Returns the count;
 * 0 means the recipient is not ours or reaches no mailbox. */
size_t table_expand(const table *t, const char *recipient, size_t max,
                    str_list *mailboxes, int *truncated);

/* Per-user overrides merged over defaults. */
void table_limits(const table *t, const char *user, const send_limits *defaults,
                  send_limits *out);

/* Lower-cases an address and strips "+ext" from its local part. */
void address_key(const char *in, int strip_ext, buf *out);

#endif
