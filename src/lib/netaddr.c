/* netaddr: see netaddr.h. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int netaddr_sockaddr(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len)
{
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

int netaddr_parse_ip(const char *s, int *family, unsigned char addr[16])
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

int netaddr_parse_net(const char *s, struct netaddr_net *out)
{
    /* Only the address part is bounded (no address text is that long):
     * the prefix may carry leading zeros, as the site file's check allowed. */
    char text[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof text)
        return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    long bits = -1;
    if (slash) {
        if (slash[1] < '0' || slash[1] > '9')     /* no sign, space or empty prefix */
            return -1;
        char *end;
        bits = strtol(slash + 1, &end, 10);     /* an overflow is LONG_MAX: out of range */
        if (*end || bits > 128)
            return -1;
    }
    if (netaddr_parse_ip(text, &out->family, out->addr) != 0)
        return -1;
    int max = out->family == AF_INET ? 32 : 128;
    if (bits > max)
        return -1;
    out->bits = bits < 0 ? max : (int)bits;
    return 0;
}

/* The mask of byte i of a prefix of `bits` bits. */
static unsigned char prefix_mask(int bits, int i)
{
    int keep = bits - i * 8;
    return keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
}

int netaddr_net_is_canonical(const struct netaddr_net *net)
{
    for (int i = 0; i < 16; i++)
        if (net->addr[i] & (unsigned char)~prefix_mask(net->bits, i))
            return 0;
    return 1;
}

void netaddr_net_clear_host_bits(struct netaddr_net *net)
{
    for (int i = 0; i < 16; i++)
        net->addr[i] &= prefix_mask(net->bits, i);
}

int netaddr_net_contains(const struct netaddr_net *net, const char *ip)
{
    int family;
    unsigned char addr[16];
    return netaddr_parse_ip(ip, &family, addr) == 0 && netaddr_net_contains_addr(net, family, addr);
}

int netaddr_net_contains_addr(const struct netaddr_net *net, int family, const unsigned char addr[16])
{
    if (family != net->family)
        return 0;
    for (int i = 0; i < 16; i++) {
        unsigned char mask = prefix_mask(net->bits, i);
        if ((addr[i] & mask) != (net->addr[i] & mask))
            return 0;
    }
    return 1;
}
