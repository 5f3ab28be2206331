/* import_list: the list file of `emailng import run`, one user a line:
 *
 *   ADDRESS  imap     LOGIN  PASSWORD_FILE
 *   ADDRESS  maildir  PATH   [maildir++|fs]
 *
 * ADDRESS is the EmailNG user the mail goes to (normalized as `user add`
 * does); `imap`: LOGIN on the legacy IMAP server (the one named on the
 * command line) and an absolute path to a file holding that login's
 * password alone on one line (read at run time; it is never in the list);
 * `maildir`: an absolute path to a maildir tree and its folder layout
 * (Dovecot's maildir++ ".Folder.Sub", the default, or fs "Folder/Sub").
 * Fields are separated by blanks; '#' starts a comment; blank lines are
 * skipped. Every bad line is reported as "FILE:LINE: reason" (all of
 * them, not only the first), and an address may appear once. */
#ifndef EMAILNG_IMPORT_LIST_H
#define EMAILNG_IMPORT_LIST_H

#include <stddef.h>

#include "buf.h"

enum import_source { IMPORT_IMAP, IMPORT_MAILDIR };

struct import_entry {
    char *address;              /* normalized */
    enum import_source source;
    char *login;                /* imap */
    char *password_file;        /* imap */
    char *maildir;              /* maildir */
    const char *layout;         /* maildir: "maildir++" or "fs" (static) */
    size_t line;
};

struct import_list {
    struct import_entry *entries;
    size_t n;
};

/* Parses text (len bytes, NULs refused) read from file_name. Returns the
 * number of bad lines, each appended to errors; list holds the good ones. */
size_t import_list_parse(const char *file_name, const char *text, size_t len, struct import_list *list,
                         buf *errors);
void import_list_free(struct import_list *list);

/* The entry for address, or NULL. */
const struct import_entry *import_list_find(const struct import_list *list, const char *address);

#endif
