/* cidr: see cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

int cidr_list_add(cidr_list *l, const char *s)
{
    struct netaddr_net net;
    if (netaddr_parse_net(s, &net) != 0)
        return -1;
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n++] = net;
    return 0;
}

void cidr_list_free(cidr_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int cidr_list_match(const cidr_list *l, const char *ip)
{
    int family;
    unsigned char addr[16];
    if (l->n == 0 || netaddr_parse_ip(ip, &family, addr) != 0)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (netaddr_net_contains_addr(&l->items[i], family, addr))
            return 1;
    return 0;
}

int client_net(const char *ip, int v4bits, int v6bits, buf *out)
{
    struct netaddr_net net;
    if (netaddr_parse_ip(ip, &net.family, net.addr) != 0)
        return -1;
    int bits = net.family == AF_INET ? v4bits : v6bits;
    int max = net.family == AF_INET ? 32 : 128;
    net.bits = bits < 0 || bits > max ? max : bits;
    netaddr_net_clear_host_bits(&net);
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(net.family, net.addr, text, sizeof(text)) == NULL)
        return -1;
    buf_printf(out, "%s/%d", text, net.bits);
    return 0;
}
