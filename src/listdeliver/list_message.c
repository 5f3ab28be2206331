/* list_message: see list_message.h. */
#include "list_message.h"

#include <string.h>
#include <strings.h>

void list_address_init(struct list_address *a)
{
    buf_init(&a->list);
    buf_init(&a->id);
    buf_init(&a->owner);
    buf_init(&a->members);
    buf_init(&a->extension);
}

void list_address_free(struct list_address *a)
{
    buf_free(&a->list);
    buf_free(&a->id);
    buf_free(&a->owner);
    buf_free(&a->members);
    buf_free(&a->extension);
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int list_address_parse(const char *recipient, struct list_address *a, buf *err)
{
    buf_reset(&a->list);
    buf_reset(&a->id);
    buf_reset(&a->owner);
    buf_reset(&a->members);
    buf_reset(&a->extension);
    for (const unsigned char *p = (const unsigned char *)recipient; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '<' || *p == '>') {
            buf_printf(err, "not a list address (a space, control or non-ASCII character, or an angle bracket)");
            return -1;
        }
    const char *at = strrchr(recipient, '@');
    if (at == NULL || at == recipient || at[1] == '\0') {
        buf_printf(err, "not a list address (expected LOCAL@DOMAIN)");
        return -1;
    }
    const char *plus = memchr(recipient, '+', (size_t)(at - recipient));
    const char *local_end = plus ? plus : at;
    if (local_end == recipient) {
        buf_printf(err, "not a list address (empty local part)");
        return -1;
    }
    buf local = BUF_INIT, domain = BUF_INIT;
    for (const char *p = recipient; p < local_end; p++)
        buf_append_char(&local, lower(*p));
    for (const char *p = at + 1; *p; p++)
        buf_append_char(&domain, lower(*p));
    if (plus)
        for (const char *p = plus + 1; p < at; p++)
            buf_append_char(&a->extension, lower(*p));
    else
        buf_append_str(&a->extension, "");
    buf_printf(&a->list, "%s@%s", buf_cstr(&local), buf_cstr(&domain));
    buf_printf(&a->id, "%s.%s", buf_cstr(&local), buf_cstr(&domain));
    buf_printf(&a->owner, "%s+owner@%s", buf_cstr(&local), buf_cstr(&domain));
    buf_printf(&a->members, "%s+members@%s", buf_cstr(&local), buf_cstr(&domain));
    buf_free(&local);
    buf_free(&domain);
    return 0;
}

/* 1 if the field value (unfolded text after "List-Id:") has "<id>". */
static int value_names_id(const char *value, size_t len, const char *id)
{
    size_t n = strlen(id);
    for (size_t i = 0; i + n + 2 <= len; i++)
        if (value[i] == '<' && value[i + n + 1] == '>' && strncasecmp(value + i + 1, id, n) == 0)
            return 1;
    return 0;
}

int list_message_has_list_id(const char *headers, size_t len, const char *id)
{
    static const char name[] = "list-id:";
    const size_t name_len = sizeof name - 1;
    const char *p = headers, *end = headers + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t line_len = (size_t)(line_end - p);
        if (line_len == 0 || (line_len == 1 && p[0] == '\r'))
            break;                                  /* the header section ends */
        if (line_len > name_len && strncasecmp(p, name, name_len) == 0) {
            /* the field: this line and its continuation lines */
            const char *field_end = line_end;       /* at a '\n', or end */
            while (field_end < end) {
                const char *next = field_end + 1;
                if (next >= end || (*next != ' ' && *next != '\t'))
                    break;
                const char *next_nl = memchr(next, '\n', (size_t)(end - next));
                field_end = next_nl ? next_nl : end;
            }
            if (value_names_id(p + name_len, (size_t)(field_end - p - name_len), id))
                return 1;
            line_end = field_end;
        }
        p = line_end < end ? line_end + 1 : end;
    }
    return 0;
}

void list_message_headers(const struct list_address *a, buf *out)
{
    /* set by list_address_parse(): never empty */
    const char *list = a->list.data;
    const char *owner = a->owner.data;
    const char *id = a->id.data;
    buf_printf(out, "List-Id: <%s>\r\n", id);
    buf_printf(out, "List-Owner: <mailto:%s>\r\n", owner);
    buf_printf(out, "List-Unsubscribe: <mailto:%s?subject=unsubscribe%%20%s>\r\n", owner, list);
    buf_append_str(out, "Precedence: list\r\n");
}
