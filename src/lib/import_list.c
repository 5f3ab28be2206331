/* import_list: the list file of `emailng import`; see import_list.h. */
#include "import_list.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"

#define FIELDS_MAX 5            /* one more than the longest form, to catch extra fields */
#define LOGIN_MAX 255

struct line_fields {
    char *field[FIELDS_MAX];
    size_t n;
};

/* A login travels to the legacy server in the IMAP LOGIN/AUTHENTICATE
 * command: printable ASCII and UTF-8 only, no blanks (they separate the
 * fields of the list). */
static int login_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LOGIN_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p == 0x7f)
            return 0;
    return 1;
}

static int absolute_path_ok(const char *s)
{
    if (s[0] != '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == ':')   /* ':' separates options in a Dovecot location */
            return 0;
    return 1;
}

/* ---- one parser per source kind (the second field) --------------------- */

static int parse_imap(const struct line_fields *f, struct import_entry *e, buf *why)
{
    if (f->n != 4) {
        buf_printf(why, "an imap line has 4 fields: ADDRESS imap LOGIN PASSWORD_FILE (found %zu)", f->n);
        return -1;
    }
    if (!login_ok(f->field[2])) {
        buf_append_str(why, "LOGIN: 1 to 255 printable characters, no blanks: ");
        address_quote_cut(why, f->field[2]);
        return -1;
    }
    if (!absolute_path_ok(f->field[3])) {
        buf_append_str(why, "PASSWORD_FILE must be an absolute path (the file holds the password, "
                            "never the list): ");
        address_quote_cut(why, f->field[3]);
        return -1;
    }
    e->login = xstrdup(f->field[2]);
    e->password_file = xstrdup(f->field[3]);
    return 0;
}

static const char *const layouts[] = {"maildir++", "fs", NULL};

static int parse_maildir(const struct line_fields *f, struct import_entry *e, buf *why)
{
    if (f->n < 3 || f->n > 4) {
        buf_printf(why, "a maildir line has 3 or 4 fields: ADDRESS maildir PATH [maildir++|fs] (found %zu)", f->n);
        return -1;
    }
    if (!absolute_path_ok(f->field[2])) {
        buf_append_str(why, "PATH must be an absolute path without ':': ");
        address_quote_cut(why, f->field[2]);
        return -1;
    }
    e->layout = layouts[0];
    if (f->n == 4) {
        e->layout = NULL;
        for (size_t i = 0; layouts[i]; i++)
            if (strcmp(f->field[3], layouts[i]) == 0)
                e->layout = layouts[i];
        if (e->layout == NULL) {
            buf_append_str(why, "layout must be maildir++ or fs: ");
            address_quote_cut(why, f->field[3]);
            return -1;
        }
    }
    e->maildir = xstrdup(f->field[2]);
    return 0;
}

static const struct {
    const char *name;
    enum import_source source;
    int (*parse)(const struct line_fields *f, struct import_entry *e, buf *why);
} kinds[] = {
    {"imap", IMPORT_IMAP, parse_imap},
    {"maildir", IMPORT_MAILDIR, parse_maildir},
};

static void entry_free(struct import_entry *e)
{
    free(e->address);
    free(e->login);
    free(e->password_file);
    free(e->maildir);
    memset(e, 0, sizeof *e);
}

/* Splits line (modified in place) at blanks, up to FIELDS_MAX fields; a
 * field starting with '#' ends the line. */
static void split(char *line, struct line_fields *f)
{
    f->n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0' || *p == '#')
            break;
        if (f->n == FIELDS_MAX)
            return;
        f->field[f->n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
}

static int parse_line(char *line, struct import_entry *e, const struct import_list *list, buf *why)
{
    struct line_fields f;
    split(line, &f);
    if (f.n == 0)
        return 1;   /* blank or comment */
    if (f.n < 2) {
        buf_append_str(why, "expected ADDRESS imap LOGIN PASSWORD_FILE or ADDRESS maildir PATH [LAYOUT]");
        return -1;
    }
    buf address = BUF_INIT, err = BUF_INIT;
    int rc = address_normalize(f.field[0], NULL, &address, &err);
    if (rc != 0)
        buf_printf(why, "ADDRESS: %s", buf_cstr(&err));
    else if (import_list_find(list, buf_cstr(&address))) {
        buf_printf(why, "%s is listed twice (line %zu)", buf_cstr(&address),
                   import_list_find(list, buf_cstr(&address))->line);
        rc = -1;
    }
    const size_t n_kinds = sizeof kinds / sizeof kinds[0];
    size_t k = n_kinds;
    for (size_t i = 0; rc == 0 && i < n_kinds; i++)
        if (strcmp(f.field[1], kinds[i].name) == 0)
            k = i;
    if (rc == 0 && k == n_kinds) {
        buf_append_str(why, "the source must be imap or maildir: ");
        address_quote_cut(why, f.field[1]);
        rc = -1;
    }
    if (rc == 0) {
        e->source = kinds[k].source;
        rc = kinds[k].parse(&f, e, why);
    }
    if (rc == 0)
        e->address = buf_steal(&address);
    buf_free(&address);
    buf_free(&err);
    return rc;
}

size_t import_list_parse(const char *file_name, const char *text, size_t len, struct import_list *list,
                         buf *errors)
{
    memset(list, 0, sizeof *list);
    size_t bad = 0, line_no = 0, cap = 0;
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        line_no++;
        size_t line_len = end - start;
        int has_nul = memchr(text + start, '\0', line_len) != NULL;
        char *line = xstrndup(text + start, line_len);
        line_len = strlen(line);
        if (line_len && line[line_len - 1] == '\r')
            line[--line_len] = '\0';
        struct import_entry e = {0};
        e.line = line_no;
        buf why = BUF_INIT;
        int rc;
        if (has_nul) {
            buf_append_str(&why, "a NUL byte in the line");
            rc = -1;
        } else {
            rc = parse_line(line, &e, list, &why);
        }
        if (rc < 0) {
            buf_printf(errors, "%s:%zu: %s\n", file_name, line_no, buf_cstr(&why));
            entry_free(&e);
            bad++;
        } else if (rc == 0) {
            if (list->n == cap) {
                cap = cap ? 2 * cap : 16;
                list->entries = xrealloc(list->entries, cap * sizeof *list->entries);
            }
            list->entries[list->n++] = e;
        }
        buf_free(&why);
        free(line);
        start = end + 1;
    }
    return bad;
}

void import_list_free(struct import_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        entry_free(&list->entries[i]);
    free(list->entries);
    memset(list, 0, sizeof *list);
}

const struct import_entry *import_list_find(const struct import_list *list, const char *address)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->entries[i].address, address) == 0)
            return &list->entries[i];
    return NULL;
}
