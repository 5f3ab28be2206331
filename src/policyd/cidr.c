/* cidr: see cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int parse_ip(const char *s, int *family, unsigned char addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

int cidr_parse(const char *s, cidr *out)
{
    char tmp[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n + 1);
    char *slash = strchr(tmp, '/');
    int bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        if (!slash[1] || slash[1] < '0' || slash[1] > '9')
            return -1;
        long v = strtol(slash + 1, &end, 10);
        if (*end || v < 0 || v > 128)
            return -1;
        bits = (int)v;
    }
    if (parse_ip(tmp, &out->family, out->addr) != 0)
        return -1;
    int max = out->family == AF_INET ? 32 : 128;
    if (bits > max)
        return -1;
    out->bits = bits < 0 ? max : bits;
    return 0;
}

int cidr_list_add(cidr_list *l, const char *s)
{
    cidr c;
    if (cidr_parse(s, &c) != 0)
        return -1;
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(cidr));
    l->items[l->n++] = c;
    return 0;
}

void cidr_list_free(cidr_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

int cidr_list_match(const cidr_list *l, const char *ip)
{
    int family;
    unsigned char addr[16];
    if (parse_ip(ip, &family, addr) != 0)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].family == family && prefix_equal(l->items[i].addr, addr, l->items[i].bits))
            return 1;
    return 0;
}

int client_net(const char *ip, int v4bits, int v6bits, buf *out)
{
    int family;
    unsigned char addr[16];
    if (parse_ip(ip, &family, addr) != 0)
        return -1;
    int bits = family == AF_INET ? v4bits : v6bits;
    int max = family == AF_INET ? 32 : 128;
    if (bits < 0 || bits > max)
        bits = max;
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (unsigned char)(0xff << (8 - keep));
    }
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family, addr, text, sizeof(text));
    buf_printf(out, "%s/%d", text, bits);
    return 0;
}
