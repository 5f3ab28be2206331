/* stall: see stall.h. */
#include "stall.h"

#include <string.h>

#include "netaddr.h"

#define USER_MAX 255

static int numeric_address(const char *s)
{
    struct sockaddr_storage sa;
    socklen_t len;
    return netaddr_sockaddr(s, 1, &sa, &len) == 0;
}

static int acceptable_user(const char *s, size_t len)
{
    if (len == 0 || len > USER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

int stall_parse_title(const char *title, size_t len, const char *prefix, struct stall_title *out)
{
    buf_reset(&out->client);
    buf_reset(&out->user);
    buf text = BUF_INIT;
    /* /proc/PID/cmdline: the title may have been written over argv, with
     * NUL bytes left between the old arguments and at the end. */
    while (len > 0 && title[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++)
        buf_append_char(&text, title[i] == '\0' ? ' ' : title[i]);
    buf head = BUF_INIT;
    buf_printf(&head, "%s/doveadm-server [", prefix);
    int found = 0;
    const char *s = buf_cstr(&text);
    const char *tail = " " STALL_STATE "]";
    size_t n = strlen(s), hn = head.len, tn = strlen(tail);
    if (n > hn + tn && memcmp(s, buf_cstr(&head), hn) == 0 && memcmp(s + n - tn, tail, tn) == 0) {
        /* Between them: CLIENT " " USER, exactly one space. */
        const char *mid = s + hn;
        size_t mlen = n - hn - tn;
        const char *space = memchr(mid, ' ', mlen);
        if (space && space > mid && memchr(space + 1, ' ', mlen - (size_t)(space + 1 - mid)) == NULL) {
            buf_append(&out->client, mid, (size_t)(space - mid));
            size_t ulen = mlen - (size_t)(space + 1 - mid);
            if (numeric_address(buf_cstr(&out->client)) && acceptable_user(space + 1, ulen)) {
                buf_append(&out->user, space + 1, ulen);
                found = 1;
            }
        }
    }
    if (!found) {
        buf_reset(&out->client);
        buf_reset(&out->user);
    }
    buf_free(&head);
    buf_free(&text);
    return found;
}

void stall_title_free(struct stall_title *t)
{
    buf_free(&t->client);
    buf_free(&t->user);
}
