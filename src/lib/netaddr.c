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

/* A numeric IPv4 or IPv6 address: its family and 16 bytes (zero-padded). */
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

int netaddr_parse_net(const char *s, struct netaddr_net *out)
{
    char text[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof text)
        return -1;
    memcpy(text, s, n + 1);
    char *slash = strchr(text, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        if (slash[1] < '0' || slash[1] > '9')     /* no sign, space or empty prefix */
            return -1;
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (*end || bits > 128)
            return -1;
    }
    if (parse_ip(text, &out->family, out->addr) != 0)
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

int netaddr_net_contains(const struct netaddr_net *net, const char *ip)
{
    int family;
    unsigned char addr[16];
    if (parse_ip(ip, &family, addr) != 0 || family != net->family)
        return 0;
    for (int i = 0; i < 16; i++) {
        unsigned char mask = prefix_mask(net->bits, i);
        if ((addr[i] & mask) != (net->addr[i] & mask))
            return 0;
    }
    return 1;
}
