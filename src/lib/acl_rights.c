/* acl_rights: rights and folder names for Dovecot ACLs; see acl_rights.h. */
#include "acl_rights.h"

#include <string.h>

/* IMAP ACL letters (RFC 4314) and the names doveadm acl takes. */
static const struct {
    char letter;
    const char *name;
} rights_table[ACL_RIGHTS_MAX] = {
    {'l', "lookup"}, {'r', "read"}, {'s', "write-seen"}, {'w', "write"}, {'i', "insert"}, {'p', "post"},
    {'k', "create"}, {'x', "delete"}, {'t', "write-deleted"}, {'e', "expunge"}, {'a', "admin"},
};

/* The named sets: read (see, read, own \Seen flags) and write (what a
 * member of a shared mailbox such as office@ does: also file, flag,
 * delete and expunge mail, make and remove subfolders; not admin). */
static const struct {
    const char *name;
    const char *letters;
} rights_presets[] = {
    {"read", "lrs"},
    {"write", "lrswipkxte"},
};

int acl_rights_parse(const char *text, const char *names[ACL_RIGHTS_MAX], size_t *n_names, buf *err)
{
    const char *letters = text;
    for (size_t i = 0; i < sizeof rights_presets / sizeof rights_presets[0]; i++)
        if (strcmp(text, rights_presets[i].name) == 0)
            letters = rights_presets[i].letters;
    *n_names = 0;
    for (const char *p = letters; *p; p++) {
        const char *name = NULL;
        for (size_t i = 0; i < ACL_RIGHTS_MAX; i++)
            if (rights_table[i].letter == *p)
                name = rights_table[i].name;
        if (name == NULL) {
            buf_append_str(err, "rights: expected read, write or IMAP ACL letters of lrswipkxtea");
            *n_names = 0;
            return -1;
        }
        int seen = 0;
        for (size_t j = 0; j < *n_names; j++)
            seen |= names[j] == name;
        if (!seen)
            names[(*n_names)++] = name;
    }
    if (*n_names == 0) {
        buf_append_str(err, "rights: none given");
        return -1;
    }
    return 0;
}

int acl_folder_check(const char *folder, int own_folder, buf *err)
{
    const char *why = NULL;
    if (folder[0] == '\0' || folder[0] == '-' || folder[0] == '/' || strlen(folder) > 255)
        why = "expected a folder name such as INBOX or Projects/2026";
    else if (strstr(folder, "..") != NULL || strchr(folder, '*') != NULL || strchr(folder, '%') != NULL)
        why = "\"..\", \"*\" and \"%\" are not allowed in a folder name";
    else if (own_folder && (strncmp(folder, "Shared/", 7) == 0 || strncmp(folder, "Public/", 7) == 0))
        why = "name the owner's own folder, not a Shared/ or Public/ one";
    for (const char *p = folder; why == NULL && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            why = "control characters are not allowed in a folder name";
    if (why == NULL)
        return 0;
    buf_append_str(err, why);
    return -1;
}
