/* netaddr: a numeric IPv4 or IPv6 address and a port as a socket address.
 * No name lookups: the daemons are configured with literal addresses. */
#ifndef EMAILNG_NETADDR_H
#define EMAILNG_NETADDR_H

#include <sys/socket.h>
#include <netinet/in.h>

/* 0, or -1 if host is not an IPv4/IPv6 literal. */
int netaddr_sockaddr(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len);

/* A numeric IPv4 or IPv6 address (no prefix): its family (AF_INET or
 * AF_INET6) and 16 bytes in network order, IPv4 in the first 4 and the
 * rest zero. 0, or -1 if s is not an address. */
int netaddr_parse_ip(const char *s, int *family, unsigned char addr[16]);

/* A network: ADDRESS/PREFIX, or a bare address (one host: the full
 * prefix). addr holds the address as written (host bits included). */
struct netaddr_net {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];     /* network byte order; IPv4 in the first 4 */
    int bits;                   /* 0..32 or 0..128 */
};

/* 0, or -1 if s is not an address or ADDRESS/PREFIX with a decimal prefix
 * in range (digits only: no sign, space or empty prefix). */
int netaddr_parse_net(const char *s, struct netaddr_net *out);

/* 1 if no bit beyond the prefix is set ("192.0.2.0/24", not "192.0.2.1/24"). */
int netaddr_net_is_canonical(const struct netaddr_net *net);

/* Clears every bit past the prefix: 192.0.2.77/24 becomes 192.0.2.0/24. */
void netaddr_net_clear_host_bits(struct netaddr_net *net);

/* 1 if the numeric address ip (IPv4 or IPv6 text) is inside net. */
int netaddr_net_contains(const struct netaddr_net *net, const char *ip);
/* The same for an address netaddr_parse_ip has read (one parse, many nets). */
int netaddr_net_contains_addr(const struct netaddr_net *net, int family, const unsigned char addr[16]);

#endif
