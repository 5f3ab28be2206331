/* cidr: lists of IPv4/IPv6 networks ("192.0.2.0/24", "2001:db8::/32",
 * a bare address = one host) and the client-network key used by
 * greylisting and per-client rate limits. A thin layer on src/lib's
 * netaddr.h, which parses and matches. */
#ifndef POLICYD_CIDR_H
#define POLICYD_CIDR_H

#include <stddef.h>

#include "buf.h"
#include "netaddr.h"

typedef struct cidr_list {
    struct netaddr_net *items;
    size_t n;
} cidr_list;

int cidr_list_add(cidr_list *l, const char *s);     /* 0 or -1 */
void cidr_list_free(cidr_list *l);
/* 1 if the textual address ip is inside one of the networks. */
int cidr_list_match(const cidr_list *l, const char *ip);
/* Appends the network of ip used as a key: IPv4 /v4bits, IPv6 /v6bits,
 * in canonical text ("192.0.2.0/24"). -1 if ip is not an address. */
int client_net(const char *ip, int v4bits, int v6bits, buf *out);

#endif
